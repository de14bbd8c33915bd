"""Cookies the web layer sets while handling a request, added to whatever response goes out.

A dependency (the session check refreshing its idle timer) cannot reach the response a route
builds; it queues the cookie on the request, and this middleware writes it on the way out,
whether the answer is a page, a redirect or an error page."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polex.web.settings import WebSettings

STATE_KEY = "polex_cookies"


def name(settings: WebSettings, base: str) -> str:
    return settings.cookie_prefix + base


def read(request: Request, settings: WebSettings, base: str) -> str | None:
    return request.cookies.get(name(settings, base))


def queue(
    request: Request,
    settings: WebSettings,
    base: str,
    value: str,
    max_age: timedelta | None = None,
) -> None:
    """HttpOnly, SameSite=Strict, Path=/ and (by default) Secure: no script, no other site and
    no plain-http page ever handles a polex cookie."""
    carrier = Response()
    carrier.set_cookie(
        name(settings, base),
        value,
        max_age=int(max_age.total_seconds()) if max_age else None,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    pending: list[str] = request.scope.setdefault("state", {}).setdefault(STATE_KEY, [])
    pending.extend(v.decode("latin-1") for k, v in carrier.raw_headers if k == b"set-cookie")


def clear(request: Request, settings: WebSettings, base: str) -> None:
    queue(request, settings, base, "", max_age=timedelta(0))


class QueuedCookies:
    """ASGI middleware: the cookies queued on the request, on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                pending = scope.get("state", {}).get(STATE_KEY, [])
                headers = MutableHeaders(scope=message)
                for value in pending:
                    headers.append("set-cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_cookies)

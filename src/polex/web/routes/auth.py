"""Logging in (password and one-time code) and out."""

from __future__ import annotations

import time

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from polex.access import accounts
from polex.web import cookies, purpose, sessions
from polex.web.deps import PRE_COOKIE, FormDep, session_cookie, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
REASONS = {
    "timeout": "Your session ended after a period without activity. Log in again.",
    "expired": "Your session has ended. Log in again.",
    "logout": "You are logged out.",
}


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    username: str = "",
    next_url: str = "/",
    reason: str | None = None,
) -> HTMLResponse:
    return page(
        request,
        "login.html",
        title="Log in",
        status=status,
        error=error,
        username=username,
        next_url=next_url,
        notice=REASONS.get(reason or ""),
    )


@router.get("/login")
def login_form(request: Request, next: str = "/", reason: str = "") -> HTMLResponse:
    return _login_page(request, next_url=_safe_next(next), reason=reason)


@router.post("/login")
def login(request: Request, data: FormDep) -> Response:
    web = web_of(request)
    username = str(data.get("username") or "").strip()
    password = str(data.get("password") or "")
    code = str(data.get("code") or "").strip()
    next_url = _safe_next(str(data.get("next") or "/"))
    try:
        token = sessions.login(
            web.node.engine, username, password, code, web.node.name, web.settings
        )
    except accounts.LoginFailed as exc:
        return _login_page(
            request, status=401, error=str(exc), username=username, next_url=next_url
        )
    cookies.queue(
        request,
        web.settings,
        sessions.COOKIE,
        sessions.encode(web.secret, token, int(time.time())),
        max_age=web.settings.session_lifetime,
    )
    cookies.clear(request, web.settings, PRE_COOKIE)
    cookies.clear(request, web.settings, purpose.COOKIE)  # the last user's purposes stay theirs
    return redirect(next_url)


@router.post("/logout")
def logout(request: Request) -> Response:
    web = web_of(request)
    cookie = session_cookie(request)
    if cookie is not None:
        with web.node.engine.begin() as conn:
            sessions.end(conn, cookie.token, web.node.name, reason="logout")
    cookies.clear(request, web.settings, sessions.COOKIE)
    cookies.clear(request, web.settings, purpose.COOKIE)
    return redirect("/login?reason=logout")

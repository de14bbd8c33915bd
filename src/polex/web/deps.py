"""What every page needs: the node, the signed-in principal (or a way to the login page),
the CSRF check, and the submitted form."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from polex.access.policy import READING_ROLES
from polex.access.principal import Principal, Role
from polex.node.home import Node
from polex.web import cookies, purpose, security, sessions
from polex.web.settings import WebSettings

PRE_COOKIE = "polex_pre"


@dataclass(frozen=True)
class Web:
    """The web layer's per-application state (``app.state.web``)."""

    node: Node
    settings: WebSettings
    secret: bytes


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


class LoginRequired(Exception):
    """No valid session: the browser goes to the login page, told why when it matters."""

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(reason or "login required")


class NotPermitted(Exception):
    """A page the signed-in user's role or the policy does not open to them."""


def session_cookie(request: Request) -> sessions.SessionCookie | None:
    web = web_of(request)
    return sessions.decode(web.secret, cookies.read(request, web.settings, sessions.COOKIE))


def binding(request: Request) -> str | None:
    """What the CSRF token is bound to: the session token, else the pre-session cookie."""
    cookie = session_cookie(request)
    if cookie is not None:
        return cookie.token
    return cookies.read(request, web_of(request).settings, PRE_COOKIE)


def csrf_for(request: Request) -> str:
    """The token for forms on this page; a first visit gets its pre-session cookie now."""
    web = web_of(request)
    bound = getattr(request.state, "csrf_binding", None) or binding(request)
    if bound is None:
        bound = security.new_binding()
        cookies.queue(request, web.settings, PRE_COOKIE, bound)
    request.state.csrf_binding = bound
    return security.csrf_token(web.secret, bound)


async def csrf_protect(request: Request) -> None:
    """On every web router: an unsafe request must carry this browser's token."""
    await security.verify(request, web_of(request).secret, binding(request))


def current_principal(request: Request) -> Principal:
    """The principal of a live session; refreshes the idle timer, ends an idle session."""
    web = web_of(request)
    cookie = session_cookie(request)
    if cookie is None:
        raise LoginRequired()
    now = int(time.time())
    with web.node.engine.begin() as conn:
        if cookie.idle(web.settings, now):
            sessions.end(conn, cookie.token, web.node.name, reason="timeout")
            principal = None
        else:
            principal = sessions.principal(conn, cookie.token, web.node.name)
    if principal is None:
        cookies.clear(request, web.settings, sessions.COOKIE)
        cookies.clear(request, web.settings, purpose.COOKIE)
        raise LoginRequired("timeout" if cookie.idle(web.settings, now) else "expired")
    cookies.queue(
        request,
        web.settings,
        sessions.COOKIE,
        sessions.encode(web.secret, cookie.token, now),
        max_age=web.settings.session_lifetime,
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            names = " or ".join(sorted(r.value for r in roles))
            raise NotPermitted(f"role: this page needs the role {names}")
        return principal

    return check


def permitted(
    allowed: Callable[[Principal], bool], refusal: str
) -> Callable[[Principal], Principal]:
    """A page the policy decision point opens (who reads the audit trail is its decision)."""

    def check(principal: PrincipalDep) -> Principal:
        if not allowed(principal):
            raise NotPermitted(refusal)
        return principal

    return check


# Officers, analysts and supervisors: the roles that read records, search and send messages.
ReaderDep = Annotated[Principal, Depends(require(*READING_ROLES))]


async def form_data(request: Request) -> FormData:
    """The submitted form (parsed once; the CSRF check has already read it)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def web_router() -> APIRouter:
    """Every web router checks CSRF on every unsafe request, and stays out of the OpenAPI."""
    return APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

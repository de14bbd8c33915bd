"""Browser sessions: the account service keeps them (hashed, expiring, revocable); the cookie
carries the session token and the time of the last request, signed, so the idle timeout holds
without a database write on every click."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection

from polex.access import accounts
from polex.access.principal import Principal
from polex.web.security import sign
from polex.web.settings import WebSettings

COOKIE = "polex_session"


@dataclass(frozen=True)
class SessionCookie:
    token: str
    seen: int  # Unix time of the last request

    def idle(self, settings: WebSettings, now: int | None = None) -> bool:
        now = int(time.time()) if now is None else now
        return now - self.seen > settings.idle_timeout.total_seconds()


def encode(secret: bytes, token: str, seen: int) -> str:
    return f"{token}.{seen}.{sign(secret, 'session', f'{token}.{seen}')}"


def decode(secret: bytes, value: str | None) -> SessionCookie | None:
    """The cookie's content if our own signature vouches for it."""
    if not value:
        return None
    token, _, rest = value.partition(".")
    seen, _, mac = rest.partition(".")
    if not token or not seen.isdigit() or mac != sign(secret, "session", f"{token}.{seen}"):
        return None
    return SessionCookie(token=token, seen=int(seen))


def start(conn: Connection, user_id: int, settings: WebSettings) -> str:
    """A new session for a user who has just proved password and second factor."""
    return accounts.issue_token(
        conn, user_id, expires_in=settings.session_lifetime, kind="web"
    )


def principal(conn: Connection, token: str, node: str) -> Principal | None:
    return accounts.authenticate(conn, token, node)


def end(conn: Connection, token: str) -> None:
    accounts.revoke_token(conn, token)


class LoginFailed(Exception):
    """Wrong name, password or code, a locked or inactive account: one answer for all."""


def login(
    conn: Connection, username: str, password: str, code: str, settings: WebSettings
) -> str:
    """Check password and second factor with the account service and open a session."""
    raise LoginFailed("login: the account service does not check passwords yet")

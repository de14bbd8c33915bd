"""Browser sessions: the account service keeps them (hashed, expiring, revocable); the cookie
carries the session token and the time of the last request, signed, so the idle timeout holds
without a database write on every click."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from polex.access import accounts
from polex.access import sessions as access_sessions
from polex.access.principal import Principal
from polex.audit import log as audit
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


def login(
    engine: Engine, username: str, password: str, code: str, node: str, settings: WebSettings
) -> str:
    """Password and one-time code checked by the account service (which counts and audits a
    failure even though it raises); the new session's token."""
    return access_sessions.open_session(
        engine, username, password, code, node, lifetime=settings.session_lifetime
    ).token


def start(conn: Connection, user_id: int, settings: WebSettings) -> str:
    """A session without the login form: for a user the caller has already authenticated."""
    return access_sessions.start(conn, user_id, lifetime=settings.session_lifetime)


def principal(conn: Connection, token: str, node: str) -> Principal | None:
    return accounts.authenticate(conn, token, node)


def end(conn: Connection, token: str, node: str, reason: str) -> None:
    """Revoke the session; the trail records whose session ended and why (logout, timeout)."""
    owner = accounts.authenticate(conn, token, node)
    access_sessions.end(conn, token)
    if owner is not None:
        audit.append(
            conn,
            actor=owner.actor,
            agency=owner.agency,
            action="session.end",
            details={"reason": reason},
        )

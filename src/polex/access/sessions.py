"""Web sessions: a login opens one, the user or an admin ends it.

A session is a token of kind "web" in api_tokens — hashed, expiring, revocable like any token —
so every server worker recognises it through the database. ``open_session`` runs the login in
its own transaction and commits a failure before reporting it: a failed attempt is counted
and audited even though the caller only sees an exception."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine

from polex.access import accounts
from polex.access.principal import Principal

KIND = "web"
DEFAULT_LIFETIME = timedelta(hours=8)


@dataclass(frozen=True)
class Session:
    token: str  # shown once: the cookie carries it
    principal: Principal


def start(conn: Connection, user_id: int, lifetime: timedelta = DEFAULT_LIFETIME) -> str:
    """A session for a user who has just proved password and second factor."""
    return accounts.issue_token(conn, user_id, expires_in=lifetime, kind=KIND)


def open_session(
    engine: Engine,
    username: str,
    password: str,
    totp_code: str,
    node: str,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> Session:
    """Log in and open a session, or raise ``accounts.LoginFailed`` after the failure is
    committed (counted towards the lock, and audited)."""
    failure: accounts.LoginFailed | None = None
    with engine.begin() as conn:
        try:
            principal = accounts.login(conn, username, password, totp_code, node)
        except accounts.LoginFailed as exc:
            failure = exc
        else:
            return Session(token=start(conn, principal.user_id, lifetime), principal=principal)
    assert failure is not None
    raise failure


def end(conn: Connection, token: str) -> None:
    accounts.revoke_token(conn, token)


def end_all(conn: Connection, username: str, *, actor: str) -> int:
    """End every web session of a user (a lost laptop, a user leaving): audited."""
    return accounts.revoke_user_tokens(conn, username, actor=actor, kind=KIND)

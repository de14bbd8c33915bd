"""Users and API tokens. A token is shown once; the database keeps only its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from polex.access.principal import Principal, Role
from polex.access.tables import api_tokens, users
from polex.store import agencies
from polex.store.metadata import utcnow

TOKEN_PREFIX = "plx_"
DEFAULT_SCOPES = ("records", "search", "messages", "hits", "audit", "admin")


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    username: str
    agency: str
    role: Role
    active: bool


@dataclass(frozen=True)
class NewUser:
    user: User
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: object) -> User:
    return User(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        agency=row.agency,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        active=row.active,  # type: ignore[attr-defined]
    )


def add_user(conn: Connection, username: str, agency: str, role: Role | str) -> NewUser:
    """Register a user of an existing agency and issue their first API token."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise AccountError(f"role: must be one of {', '.join(r.value for r in Role)}") from exc
    if agencies.get(conn, agency) is None:
        raise AccountError(f"agency: {agency} is not registered on this node")
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise AccountError(f"username: {username} is taken")
    uid = conn.execute(
        insert(users)
        .values(
            username=username,
            agency=agency.upper(),
            role=role.value,
            failed_logins=0,
            active=True,
            created_at=utcnow(),
        )
        .returning(users.c.id)
    ).scalar_one()
    user = User(id=uid, username=username, agency=agency.upper(), role=role, active=True)
    return NewUser(user=user, token=issue_token(conn, uid))


def issue_token(
    conn: Connection,
    user_id: int,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    expires_in: timedelta | None = timedelta(days=365),
    kind: str = "api",
) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        insert(api_tokens).values(
            user_id=user_id,
            token_hash=hash_token(token),
            kind=kind,
            scopes=list(scopes),
            expires_at=now + expires_in if expires_in else None,
            created_at=now,
        )
    )
    return token


def revoke_token(conn: Connection, token: str) -> None:
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.token_hash == hash_token(token))
        .values(revoked_at=utcnow())
    )


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC
    return ts if ts.tzinfo else ts.replace(tzinfo=utcnow().tzinfo)


def authenticate(conn: Connection, token: str, node: str) -> Principal | None:
    """The principal a bearer token stands for, or None if unknown, expired or revoked."""
    row = conn.execute(
        select(api_tokens, users, users.c.id.label("uid"))
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.token_hash == hash_token(token))
    ).first()
    if row is None or row.revoked_at is not None or not row.active:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= utcnow():
        return None
    agency = agencies.get(conn, row.agency)
    return Principal(
        user_id=row.uid,
        username=row.username,
        agency=row.agency,
        country=agency.country if agency else "",
        role=Role(row.role),
        node=node,
        scopes=frozenset(row.scopes),
    )


def principal_for(conn: Connection, username: str, node: str) -> Principal:
    """The principal of a registered, active user, for the CLI (which acts as a named user)."""
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None or not row.active:
        raise AccountError(f"user: {username} is not an active user of this node")
    agency = agencies.get(conn, row.agency)
    return Principal(
        user_id=row.id,
        username=row.username,
        agency=row.agency,
        country=agency.country if agency else "",
        role=Role(row.role),
        node=node,
        scopes=frozenset(DEFAULT_SCOPES),
    )


def get_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    return _user(row) if row else None


def list_users(conn: Connection, agency: str | None = None) -> list[User]:
    q = select(users).order_by(users.c.username)
    if agency:
        q = q.where(users.c.agency == agency.upper())
    return [_user(r) for r in conn.execute(q).all()]

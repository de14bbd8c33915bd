"""Users, their passwords and second factor, API tokens and web sessions.

A token is shown once and the database keeps only its SHA-256; a password only its Argon2id
hash. Failed logins and locks live in the users table, not in a process, so every server
worker sees the same count. Logins and account changes are audited in the caller's
transaction."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from polex.access import passwords, totp
from polex.access.principal import Principal, Role
from polex.access.tables import api_tokens, users
from polex.audit import log as audit
from polex.messaging.tables import workspace_members, workspaces
from polex.store import agencies, reads
from polex.store.metadata import utcnow
from polex.store.tables import agencies as agencies_table

TOKEN_PREFIX = "plx_"
DEFAULT_SCOPES = ("records", "search", "messages", "hits", "audit", "admin")
SCOPES = frozenset(DEFAULT_SCOPES)
API_TOKEN_DAYS = 365
MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)


class AccountError(ValueError):
    pass


class LoginFailed(Exception):
    """Wrong name, password or code, a locked or inactive account: one answer for all, so the
    login form tells an attacker nothing. ``reason`` is for the audit trail and tests only."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__("login: wrong username, password or code, or the account is locked")


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
    # the TOTP secret, shown once for the user's authenticator app
    totp_secret: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        agency=row.agency,
        role=Role(row.role),
        active=row.active,
    )


def _row(conn: Connection, username: str) -> Row[Any]:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise AccountError(f"username: {username} is not a user of this node")
    return row


def add_user(
    conn: Connection,
    username: str,
    agency: str,
    role: Role | str,
    password: str | None = None,
) -> NewUser:
    """Register a user of an existing agency: their first API token and TOTP secret."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise AccountError(f"role: must be one of {', '.join(r.value for r in Role)}") from exc
    if agencies.get(conn, agency) is None:
        raise AccountError(f"agency: {agency} is not registered on this node")
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise AccountError(f"username: {username} is taken")
    if password is not None and (why := passwords.problem(password)):
        raise AccountError(why)
    secret = totp.new_secret()
    uid = conn.execute(
        insert(users)
        .values(
            username=username,
            agency=agency.upper(),
            role=role.value,
            password_hash=passwords.hash_password(password) if password else None,
            totp_secret=secret,
            failed_logins=0,
            active=True,
            created_at=utcnow(),
        )
        .returning(users.c.id)
    ).scalar_one()
    user = User(id=uid, username=username, agency=agency.upper(), role=role, active=True)
    return NewUser(user=user, token=issue_token(conn, uid), totp_secret=secret)


def issue_token(
    conn: Connection,
    user_id: int,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    expires_in: timedelta | None = timedelta(days=API_TOKEN_DAYS),
    kind: str = "api",
) -> str:
    unknown = set(scopes) - SCOPES
    if unknown:
        raise AccountError(f"scopes: unknown {', '.join(sorted(unknown))}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        insert(api_tokens).values(
            user_id=user_id,
            token_hash=hash_token(token),
            kind=kind,
            scopes=sorted(set(scopes)),
            expires_at=now + expires_in if expires_in else None,
            created_at=now,
        )
    )
    return token


def revoke_token(conn: Connection, token: str) -> None:
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC
    return ts if ts.tzinfo else ts.replace(tzinfo=utcnow().tzinfo)


def case_refs(conn: Connection, agency: str, node: str) -> frozenset[str]:
    """Case references of the workspaces the agency works in: its need-to-know."""
    rows = conn.execute(
        select(workspaces.c.case_ref)
        .join(workspace_members, workspace_members.c.workspace_id == workspaces.c.id)
        .where(
            workspace_members.c.agency == agency,
            workspace_members.c.node == node,
            workspaces.c.case_ref.is_not(None),
        )
    ).scalars()
    return frozenset(rows)


def _principal(conn: Connection, row: Row[Any], node: str, scopes: frozenset[str]) -> Principal:
    agency = agencies.get(conn, row.agency)
    return Principal(
        user_id=row.id,
        username=row.username,
        agency=row.agency,
        country=agency.country if agency else "",
        role=Role(row.role),
        node=node,
        scopes=scopes,
        case_refs=case_refs(conn, row.agency, node),
    )


@cache
def _token_principal() -> reads.Read:
    """Token, user, agency and the agency's case references (one row per case reference), by
    token hash and node: built once, since building and compiling the expression cost more
    than running it, and run on the driver's cursor (``store.reads``), since every request
    pays for it."""
    cases = (
        select(workspace_members.c.agency, workspaces.c.case_ref)
        .join(workspaces, workspaces.c.id == workspace_members.c.workspace_id)
        .where(workspace_members.c.node == bindparam("node"), workspaces.c.case_ref.is_not(None))
        .subquery()
    )
    statement = (
        select(
            api_tokens.c.revoked_at,
            api_tokens.c.expires_at,
            api_tokens.c.scopes,
            users.c.id,
            users.c.username,
            users.c.agency,
            users.c.role,
            users.c.active,
            agencies_table.c.country,
            cases.c.case_ref,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .outerjoin(agencies_table, agencies_table.c.code == users.c.agency)
        .outerjoin(cases, cases.c.agency == users.c.agency)
        .where(api_tokens.c.token_hash == bindparam("token_hash"))
    )
    return reads.Read(statement)


def authenticate(conn: Connection, token: str, node: str) -> Principal | None:
    """The principal a bearer token stands for, or None if unknown, expired or revoked.

    Asked of the database on every request, so that a revocation, a deactivated user or a
    changed membership takes effect on the next one; in one indexed query, since every API
    request pays for it."""
    rows = _token_principal().rows(conn, {"token_hash": hash_token(token), "node": node})
    if not rows:
        return None
    row = rows[0]
    if row.revoked_at is not None or not row.active:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= utcnow():
        return None
    return Principal(
        user_id=row.id,
        username=row.username,
        agency=row.agency,
        country=row.country or "",
        role=Role(row.role),
        node=node,
        scopes=frozenset(row.scopes),
        case_refs=frozenset(r.case_ref for r in rows if r.case_ref is not None),
    )


def principal_for(conn: Connection, username: str, node: str) -> Principal:
    """The principal of a registered, active user, for the CLI (which acts as a named user)."""
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None or not row.active:
        raise AccountError(f"user: {username} is not an active user of this node")
    return _principal(conn, row, node, SCOPES)


def login(
    conn: Connection, username: str, password: str, totp_code: str, node: str = ""
) -> Principal:
    """Check password and one-time code; the principal of the user, or LoginFailed.

    Every attempt is audited and a failure counted in ``conn``'s transaction: a caller that
    lets LoginFailed roll the transaction back forgets the failure, so commit first and raise
    after (``sessions.open_session`` does). After MAX_FAILURES failures in a row the account
    is locked for LOCK_TIME, the right password included."""
    now = utcnow()
    row = conn.execute(select(users).where(users.c.username == username).with_for_update()).first()
    if row is None:
        passwords.verify(None, password)
        audit.append(
            conn, actor=username[:160], action="login.failed", details={"reason": "unknown_user"}
        )
        raise LoginFailed("unknown_user")
    actor = f"{row.username}@{row.agency}"
    if row.locked_until is not None and _aware(row.locked_until) > now:
        audit.append(
            conn,
            actor=actor,
            agency=row.agency,
            action="login.failed",
            details={"reason": "locked", "locked_until": _aware(row.locked_until)},
        )
        raise LoginFailed("locked")
    reason = None
    step = None
    if not row.active:
        reason = "inactive"
    elif not passwords.verify(row.password_hash, password):
        reason = "password"
    elif row.totp_secret is None:
        reason = "no_second_factor"
    else:
        step = totp.accepted_step(row.totp_secret, totp_code, now, after=row.totp_last_step)
        if step is None:
            reason = "code"
    if reason is not None:
        _count_failure(conn, row, actor, reason, now)
        raise LoginFailed(reason)
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "totp_last_step": step}
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.hash_password(password)
    conn.execute(update(users).where(users.c.id == row.id).values(**values))
    audit.append(conn, actor=actor, agency=row.agency, action="login")
    return _principal(conn, row, node, SCOPES)


def _count_failure(conn: Connection, row: Row[Any], actor: str, reason: str, now: datetime) -> None:
    failures = conn.execute(
        update(users)
        .where(users.c.id == row.id)
        .values(failed_logins=users.c.failed_logins + 1)
        .returning(users.c.failed_logins)
    ).scalar_one()
    details: dict[str, object] = {"reason": reason, "failures": failures}
    if failures >= MAX_FAILURES:
        locked_until = now + LOCK_TIME
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(failed_logins=0, locked_until=locked_until)
        )
        details["locked_until"] = locked_until
    audit.append(
        conn,
        actor=actor,
        agency=row.agency,
        action="login.failed",
        details=details,
    )


def set_password(conn: Connection, username: str, password: str, *, actor: str) -> None:
    """Set a user's password; it also lifts a lock (an admin resetting a locked user)."""
    row = _row(conn, username)
    if why := passwords.problem(password):
        raise AccountError(why)
    conn.execute(
        update(users)
        .where(users.c.id == row.id)
        .values(password_hash=passwords.hash_password(password), failed_logins=0, locked_until=None)
    )
    audit.append(
        conn,
        actor=actor,
        action="account.password",
        target=username,
        agency=row.agency,
    )


def reset_totp(conn: Connection, username: str, *, actor: str) -> str:
    """A new TOTP secret for a user who lost their authenticator; returned once."""
    row = _row(conn, username)
    secret = totp.new_secret()
    conn.execute(
        update(users).where(users.c.id == row.id).values(totp_secret=secret, totp_last_step=None)
    )
    audit.append(
        conn,
        actor=actor,
        action="account.totp_reset",
        target=username,
        agency=row.agency,
    )
    return secret


def issue_user_token(
    conn: Connection,
    username: str,
    *,
    actor: str,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    expires_in: timedelta | None = timedelta(days=API_TOKEN_DAYS),
) -> str:
    """An API token for a system acting as the user (a national system querying polex)."""
    row = _row(conn, username)
    if not row.active:
        raise AccountError(f"username: {username} is not active")
    token = issue_token(conn, row.id, scopes, expires_in)
    audit.append(
        conn,
        actor=actor,
        action="account.token_issue",
        target=username,
        agency=row.agency,
        details={
            "scopes": sorted(set(scopes)),
            "expires_at": utcnow() + expires_in if expires_in else None,
        },
    )
    return token


def revoke_user_tokens(
    conn: Connection, username: str, *, actor: str, kind: str | None = None
) -> int:
    """Revoke every live token (``kind``: only "api" tokens or "web" sessions) of a user."""
    row = _row(conn, username)
    where = [api_tokens.c.user_id == row.id, api_tokens.c.revoked_at.is_(None)]
    if kind is not None:
        where.append(api_tokens.c.kind == kind)
    revoked = conn.execute(update(api_tokens).where(*where).values(revoked_at=utcnow())).rowcount
    audit.append(
        conn,
        actor=actor,
        action="account.tokens_revoke",
        target=username,
        agency=row.agency,
        details={"kind": kind, "revoked": revoked},
    )
    return revoked


def get_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    return _user(row) if row else None


def list_users(conn: Connection, agency: str | None = None) -> list[User]:
    q = select(users).order_by(users.c.username)
    if agency:
        q = q.where(users.c.agency == agency.upper())
    return [_user(r) for r in conn.execute(q).all()]

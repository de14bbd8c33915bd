"""Accounts on a real node: Argon2id passwords, TOTP with drift and no replay, lockout kept in
the database, sessions and tokens that expire and are revoked, every attempt audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from polex.access import accounts, sessions, totp
from polex.access.principal import Role
from polex.access.tables import api_tokens, users
from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node.home import Node
from polex.store import agencies

PASSWORD = "correct horse battery staple"


@pytest.fixture
def anna(node: Node) -> accounts.NewUser:
    with node.engine.begin() as conn:
        agencies.add(conn, "DE-BKA", "Bundeskriminalamt", "DE")
        return accounts.add_user(conn, "anna", "DE-BKA", "officer", password=PASSWORD)


def code(new: accounts.NewUser, offset: int = 0) -> str:
    return totp.code_at(new.totp_secret, datetime.now(UTC) + timedelta(seconds=30 * offset))


def attempt(node: Node, password: str, otp: str, username: str = "anna") -> str | None:
    """Log in as a caller would: the failure committed, then reported. The reason, or None."""
    try:
        sessions.open_session(node.engine, username, password, otp, node.name)
    except accounts.LoginFailed as exc:
        return exc.reason
    return None


def actions(node: Node) -> list[tuple[str, str]]:
    with node.engine.begin() as conn:
        chain(conn)
        rows = conn.execute(select(audit_log.c.action, audit_log.c.actor).order_by("seq")).all()
    return [(r.action, r.actor) for r in rows]


def test_password_is_stored_as_argon2id_and_login_opens_a_session(
    node: Node, anna: accounts.NewUser
) -> None:
    with node.engine.begin() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    session = sessions.open_session(node.engine, "anna", PASSWORD, code(anna), node.name)
    assert session.principal.username == "anna" and session.principal.role == Role.officer
    with node.engine.begin() as conn:
        principal = accounts.authenticate(conn, session.token, node.name)
        kind = conn.execute(select(api_tokens.c.kind).order_by(api_tokens.c.id.desc())).first()
    assert principal is not None and principal.user_id == anna.user.id
    assert kind is not None and kind.kind == "web"
    assert ("login", "anna@DE-BKA") in actions(node)


def test_new_user_gets_token_and_totp_secret_once(node: Node, anna: accounts.NewUser) -> None:
    assert anna.token.startswith(accounts.TOKEN_PREFIX)
    assert len(anna.totp_secret) >= 16
    with node.engine.begin() as conn:
        row = conn.execute(select(users)).one()
        hashes = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert anna.token not in hashes and accounts.hash_token(anna.token) in hashes
    assert "otpauth://totp/" in totp.provisioning_uri(row.totp_secret, "anna", node.name)


def test_weak_passwords_are_refused_with_the_field(node: Node, anna: accounts.NewUser) -> None:
    with node.engine.begin() as conn, pytest.raises(accounts.AccountError, match="^password:"):
        accounts.set_password(conn, "anna", "short", actor="cli:root")
    with node.engine.begin() as conn, pytest.raises(accounts.AccountError, match="^username:"):
        accounts.set_password(conn, "nobody", PASSWORD * 2, actor="cli:root")


@pytest.mark.parametrize(
    ("password", "offset", "reason"),
    [
        ("wrong password here", 0, "password"),
        (PASSWORD, 5, "code"),
        (PASSWORD, -2, "code"),
    ],
)
def test_wrong_password_or_code_fails_and_is_audited(
    node: Node, anna: accounts.NewUser, password: str, offset: int, reason: str
) -> None:
    assert attempt(node, password, code(anna, offset)) == reason
    assert actions(node)[-1] == ("login.failed", "anna@DE-BKA")
    with node.engine.begin() as conn:
        assert conn.execute(select(users.c.failed_logins)).scalar_one() == 1


def test_unknown_user_fails_like_a_wrong_password(node: Node, anna: accounts.NewUser) -> None:
    assert attempt(node, PASSWORD, code(anna), username="mallory") == "unknown_user"
    with pytest.raises(accounts.LoginFailed) as failed:
        sessions.open_session(node.engine, "anna", "nope nope nope", "000000", node.name)
    assert str(failed.value) == str(accounts.LoginFailed("unknown_user"))


def test_codes_from_the_neighbouring_steps_pass_but_never_twice(
    node: Node, anna: accounts.NewUser
) -> None:
    early = code(anna, -1)
    assert attempt(node, PASSWORD, early) is None
    assert attempt(node, PASSWORD, early) == "code"  # replayed
    assert attempt(node, PASSWORD, code(anna, +1)) is None


def test_lockout_after_five_failures_holds_against_the_right_password(
    node: Node, anna: accounts.NewUser
) -> None:
    for _ in range(accounts.MAX_FAILURES):
        assert attempt(node, "not the password!", code(anna)) == "password"
    assert attempt(node, PASSWORD, code(anna)) == "locked"
    with node.engine.begin() as conn:
        locked_until = conn.execute(select(users.c.locked_until)).scalar_one()
    assert locked_until is not None
    failures = [a for a in actions(node) if a[0] == "login.failed"]
    assert len(failures) == accounts.MAX_FAILURES + 1
    # another worker sees the same lock: the state is in the database, not in this process
    with node.engine.begin() as conn:
        conn.execute(update(users).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert attempt(node, PASSWORD, code(anna)) is None
    with node.engine.begin() as conn:
        assert conn.execute(select(users.c.failed_logins)).scalar_one() == 0


def test_setting_the_password_lifts_the_lock(node: Node, anna: accounts.NewUser) -> None:
    for _ in range(accounts.MAX_FAILURES):
        attempt(node, "not the password!", code(anna))
    with node.engine.begin() as conn:
        accounts.set_password(conn, "anna", "a brand new passphrase", actor="cli:root")
    assert attempt(node, "a brand new passphrase", code(anna)) is None
    assert ("account.password", "cli:root") in actions(node)


def test_a_failure_rolled_back_by_the_caller_leaves_no_trace(
    node: Node, anna: accounts.NewUser
) -> None:
    """The failure count and its audit entry are in the caller's transaction: both or none."""
    before = len(actions(node))
    with pytest.raises(accounts.LoginFailed), node.engine.begin() as conn:
        accounts.login(conn, "anna", "wrong password again", code(anna), node.name)
    assert len(actions(node)) == before
    with node.engine.begin() as conn:
        assert conn.execute(select(users.c.failed_logins)).scalar_one() == 0


def test_inactive_user_cannot_log_in(node: Node, anna: accounts.NewUser) -> None:
    with node.engine.begin() as conn:
        conn.execute(update(users).values(active=False))
    assert attempt(node, PASSWORD, code(anna)) == "inactive"


def test_tokens_expire(node: Node, anna: accounts.NewUser) -> None:
    with node.engine.begin() as conn:
        token = accounts.issue_user_token(
            conn, "anna", actor="cli:root", scopes=("search",), expires_in=timedelta(hours=1)
        )
        principal = accounts.authenticate(conn, token, node.name)
        assert principal is not None and principal.scopes == {"search"}
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_hash == accounts.hash_token(token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert accounts.authenticate(conn, token, node.name) is None
        assert accounts.authenticate(conn, anna.token, node.name) is not None


def test_unknown_scopes_are_refused(node: Node, anna: accounts.NewUser) -> None:
    with node.engine.begin() as conn, pytest.raises(accounts.AccountError, match="^scopes:"):
        accounts.issue_user_token(conn, "anna", actor="cli:root", scopes=("everything",))


def test_sessions_and_tokens_are_revoked(node: Node, anna: accounts.NewUser) -> None:
    first = sessions.open_session(node.engine, "anna", PASSWORD, code(anna), node.name)
    with node.engine.begin() as conn:
        assert sessions.end_all(conn, "anna", actor="cli:root") == 1
        assert accounts.authenticate(conn, first.token, node.name) is None
        assert accounts.authenticate(conn, anna.token, node.name) is not None  # api, not web
        assert accounts.revoke_user_tokens(conn, "anna", actor="cli:root") == 1
        assert accounts.authenticate(conn, anna.token, node.name) is None
    assert ("account.tokens_revoke", "cli:root") in actions(node)


def test_totp_reset_gives_a_new_secret(node: Node, anna: accounts.NewUser) -> None:
    with node.engine.begin() as conn:
        secret = accounts.reset_totp(conn, "anna", actor="cli:root")
    assert secret != anna.totp_secret
    assert attempt(node, PASSWORD, code(anna)) == "code"
    now = datetime.now(UTC)
    assert attempt(node, PASSWORD, totp.code_at(secret, now)) is None


def test_principal_carries_the_agencys_case_references(node: Node, anna: accounts.NewUser) -> None:
    from polex.messaging import workspaces

    with node.engine.begin() as conn:
        principal = accounts.principal_for(conn, "anna", node.name)
        assert principal.case_refs == frozenset()
        workspaces.create(conn, node.name, principal, "Operation Rhine", case_ref="OP-RHINE")
        again = accounts.authenticate(conn, anna.token, node.name)
    assert again is not None and again.case_refs == {"OP-RHINE"}


def test_admin_adds_a_user_through_the_api_with_a_second_factor(
    node: Node, make_actor: Any, client: TestClient
) -> None:
    admin = make_actor("root", "DE-BKA", "admin", "DE")
    answer = client.post(
        "/api/v1/users",
        json={"username": "ben", "agency": "DE-BKA", "role": "analyst"},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    secret = answer.json()["totp_secret"]
    with node.engine.begin() as conn:
        accounts.set_password(conn, "ben", PASSWORD, actor="root@DE-BKA")
    now = datetime.now(UTC)
    assert attempt(node, PASSWORD, totp.code_at(secret, now), username="ben") is None

"""Browser sessions: pages need one, an idle one ends, a tampered cookie is worthless, logout
revokes, and each role sees its own pages."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from polex.access import accounts
from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.node.home import Node
from polex.web.security import CSRF_FIELD

IDLE_TOO_LONG = 31 * 60


def alive(node: Node, token: str) -> bool:
    with node.engine.begin() as conn:
        return accounts.authenticate(conn, token, node.name) is not None


def ended(node: Node) -> list[tuple[str, dict[str, str]]]:
    with node.engine.begin() as conn:
        chain(conn)
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.details).where(
                audit_log.c.action == "session.end"
            )
        ).all()
    return [(r.actor, r.details) for r in rows]


def test_pages_send_a_stranger_to_the_login(browser: TestClient) -> None:
    answer = browser.get("/records")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Frecords"
    partial = browser.get("/records", headers={"HX-Request": "true"})
    assert partial.headers["hx-redirect"].startswith("/login")
    assert browser.get("/login?next=%2Frecords").status_code == 200


def test_login_page_never_redirects_elsewhere(browser: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        html = browser.get("/login", params={"next": target}).text
        assert 'name="next" value="/"' in html


def test_an_active_session_is_refreshed(browser: TestClient, sign_in: Any, make_actor: Any) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"), idle=29 * 60)
    answer = browser.get("/records")
    assert answer.status_code == 200
    refreshed = re.search(r"__Host-polex_session=[^.]+\.(\d+)\.", answer.headers["set-cookie"])
    assert refreshed is not None
    assert "anna" in answer.text


def test_an_idle_session_ends(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    token = sign_in(make_actor("anna", "DE-BKA", "officer", "DE"), idle=IDLE_TOO_LONG)
    answer = browser.get("/records")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Frecords&reason=timeout"
    assert not alive(node, token)
    assert "ended after a period without activity" in browser.get(answer.headers["location"]).text
    assert ended(node) == [("anna@DE-BKA", {"reason": "timeout"})]


def test_a_tampered_cookie_is_worthless(browser: TestClient, sign_in: Any, make_actor: Any) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"), idle=IDLE_TOO_LONG)
    name = "__Host-polex_session"
    token, seen, mac = browser.cookies[name].split(".")
    browser.cookies.clear()
    browser.cookies.set(name, f"{token}.{int(seen) + IDLE_TOO_LONG}.{mac}", "testserver.local")
    assert browser.get("/records").status_code == 303


def test_logout_revokes_the_session(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, csrf_of: Any
) -> None:
    token = sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    page = browser.get("/records")
    answer = browser.post("/logout", data={CSRF_FIELD: csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/login?reason=logout"
    assert not alive(node, token)
    assert ended(node) == [("anna@DE-BKA", {"reason": "logout"})]
    cleared = answer.headers.get_list("set-cookie")
    assert any(c.startswith('__Host-polex_session=""') for c in cleared)
    assert any(c.startswith('__Host-polex_purpose=""') for c in cleared)  # for the next user
    assert browser.get("/records").status_code == 303


def test_each_role_sees_its_own_pages(browser: TestClient, sign_in: Any, make_actor: Any) -> None:
    sign_in(make_actor("dora", "DE-BKA", "dpo", "DE"))
    assert browser.get("/").headers["location"] == "/audit"
    audit = browser.get("/audit")
    assert audit.status_code == 200
    assert 'href="/search"' not in audit.text and 'href="/admin"' not in audit.text
    assert browser.get("/search").status_code == 403
    assert browser.get("/admin").status_code == 403

    browser.cookies.clear()
    sign_in(make_actor("otto", "DE-BKA", "officer", "DE"))
    home = browser.get("/")
    assert home.headers["location"] == "/search"
    search = browser.get("/search").text
    for label in ("Search", "Records", "Hits", "Messages", "Workspaces", "Network", "Threat"):
        assert f">{label}" in search
    assert browser.get("/admin").status_code == 403
    assert browser.get("/audit").status_code == 403

    browser.cookies.clear()
    sign_in(make_actor("adam", "DE-BKA", "admin", "DE"))
    assert browser.get("/").headers["location"] == "/admin"
    assert browser.get("/records").status_code == 403
    assert browser.get("/audit").status_code == 403  # an admin reads no audit trail ...
    chain = browser.get("/audit/verify")  # ... but verifies the chain, as the policy says
    assert chain.status_code == 200 and "The chain is intact" in chain.text
    assert 'href="/audit/reports"' not in chain.text


def credentials(node: Node, username: str) -> tuple[str, str]:
    """A password and a fresh TOTP secret for an existing user."""
    password = f"{username}-correct-horse-battery"
    with node.engine.begin() as conn:
        accounts.set_password(conn, username, password, actor="admin@TEST")
        secret = accounts.reset_totp(conn, username, actor="admin@TEST")
    return password, secret


def test_login_with_password_and_one_time_code(
    node: Node, browser: TestClient, make_actor: Any, csrf_of: Any
) -> None:
    make_actor("anna", "DE-BKA", "officer", "DE")
    password, secret = credentials(node, "anna")
    form = browser.get("/login", params={"next": "/messages"})
    assert 'autocomplete="one-time-code"' in form.text
    token = csrf_of(form.text)

    wrong = browser.post(
        "/login",
        data={
            CSRF_FIELD: token,
            "username": "anna",
            "password": password,
            "code": "000000",
            "next": "/messages",
        },
    )
    assert wrong.status_code == 401
    assert "wrong username, password or code" in wrong.text
    assert 'value="anna"' in wrong.text and password not in wrong.text

    code = pyotp.TOTP(secret).now()
    good = browser.post(
        "/login",
        data={
            CSRF_FIELD: token,
            "username": "anna",
            "password": password,
            "code": code,
            "next": "/messages",
        },
    )
    assert good.status_code == 303 and good.headers["location"] == "/messages"
    assert "__Host-polex_session=" in good.headers["set-cookie"]
    page = browser.get("/messages")
    assert page.status_code == 200 and "anna" in page.text
    assert csrf_of(page.text) != token  # the token is now bound to the session

    browser.cookies.clear()
    replay_form = browser.get("/login")
    replay = browser.post(
        "/login",
        data={
            CSRF_FIELD: csrf_of(replay_form.text),
            "username": "anna",
            "password": password,
            "code": code,
        },
    )
    assert replay.status_code == 401  # a one-time code is accepted once
    with node.engine.begin() as conn:
        chain(conn)
        actions = [
            r.action
            for r in conn.execute(
                select(audit_log.c.action).where(audit_log.c.actor == "anna@DE-BKA")
            )
        ]
    assert actions.count("login") == 1 and actions.count("login.failed") == 2

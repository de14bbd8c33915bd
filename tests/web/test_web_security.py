"""The web app's protections: a strict CSP and companion headers, CSRF on every unsafe
request (a forged POST is refused and changes nothing), cookie flags, autoescaping."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polex.node.home import Node
from polex.store.tables import records as record_table
from polex.web.routes import (
    admin,
    audit,
    auth,
    hits,
    messages,
    pages,
    records,
    review,
    search,
    workspaces,
)
from polex.web.security import CSRF_FIELD

ROUTE_MODULES = (admin, audit, auth, hits, messages, pages, records, review, search, workspaces)

PERSON = {
    "polex.database": "intelligence",
    "schema": "Person",
    "properties.name": "Sergei Ivanov",
    "polex.subject_category": "suspect",
}


def directives(header: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in header.split(";") if p.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def count_records(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(record_table)).scalar_one())


def test_pages_carry_a_strict_content_security_policy(browser: TestClient) -> None:
    answer = browser.get("/login")
    assert answer.status_code == 200
    csp = directives(answer.headers["content-security-policy"])
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert not any("unsafe" in v or "*" in v or "data:" in v for v in csp.values())
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_static_assets_are_served_and_may_be_cached(browser: TestClient) -> None:
    for path in ("/static/vendor/htmx/htmx.min.js", "/static/css/polex.css"):
        answer = browser.get(path)
        assert answer.status_code == 200
        assert "no-store" not in answer.headers.get("cache-control", "")
        assert "content-security-policy" in answer.headers
    assert "0BSD" in browser.get("/static/vendor/htmx/LICENSE").text or "Zero-Clause BSD" in (
        browser.get("/static/vendor/htmx/LICENSE").text
    )


def test_pages_have_no_inline_script_or_style(
    browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    for path in ("/search", "/records/new", "/messages/new", "/workspaces", "/hits"):
        html = browser.get(path).text
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_forged_post_without_token_is_refused_and_changes_nothing(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    answer = browser.post("/records/new", data=PERSON)
    assert answer.status_code == 403
    assert "csrf.missing" in answer.text
    assert count_records(node) == 0


def test_token_of_another_browser_is_refused(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, csrf_of: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    own = csrf_of(browser.get("/records/new").text)
    assert csrf_of(browser.get("/search").text) == own  # one token per session
    with TestClient(browser.app, base_url="https://testserver") as other:
        theirs = csrf_of(other.get("/login").text)
    assert theirs != own
    for token in (theirs, "0" * len(own)):
        answer = browser.post("/records/new", data={CSRF_FIELD: token, **PERSON})
        assert answer.status_code == 403 and "csrf.mismatch" in answer.text
    assert count_records(node) == 0


def test_cross_site_post_is_refused_even_with_a_token(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, csrf_of: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    token = csrf_of(browser.get("/records/new").text)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = browser.post("/records/new", data={CSRF_FIELD: token, **PERSON}, headers=headers)
        assert answer.status_code == 403 and "csrf.origin" in answer.text
    assert count_records(node) == 0
    good = browser.post(
        "/records/new",
        data={CSRF_FIELD: token, **PERSON},
        headers={"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert good.status_code == 303
    assert count_records(node) == 1


def test_htmx_requests_carry_the_token_in_a_header(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, csrf_of: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    token = csrf_of(browser.get("/records/new").text)
    answer = browser.post(
        "/records/new", data=PERSON, headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert answer.status_code == 303
    assert count_records(node) == 1


def test_every_unsafe_web_route_checks_csrf(
    browser: TestClient, sign_in: Any, make_actor: Any
) -> None:
    """No web POST handler escapes the check: each refuses a signed-in request without a
    token, before it does anything."""
    sign_in(make_actor("sam", "DE-BKA", "supervisor", "DE"))
    unsafe = [
        route
        for module in ROUTE_MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.methods - {"GET", "HEAD"}
    ]
    assert len(unsafe) >= 12
    for route in unsafe:
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        answer = browser.post(path, data={"x": "1"})
        assert answer.status_code == 403 and "csrf." in answer.text, route.path


def test_login_form_is_protected_before_any_session(browser: TestClient) -> None:
    answer = browser.post("/login", data={"username": "anna", "password": "x", "code": "1"})
    assert answer.status_code == 403 and "csrf.cookie" in answer.text


def test_cookies_are_host_only_secure_httponly_and_strict(browser: TestClient) -> None:
    answer = browser.get("/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-polex_pre=")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
    assert not any(f.startswith("domain") for f in flags)


def test_record_content_is_escaped(
    node: Node, browser: TestClient, sign_in: Any, make_actor: Any, post_form: Any
) -> None:
    sign_in(make_actor("anna", "DE-BKA", "officer", "DE"))
    evil = '<script>alert("x")</script>'
    answer = post_form("/records/new", "/records/new", {**PERSON, "properties.name": evil})
    assert answer.status_code == 303, answer.text
    page = browser.get(answer.headers["location"]).text
    assert evil not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_unknown_pages_answer_in_html_and_the_api_in_json(browser: TestClient) -> None:
    page = browser.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and "content-security-policy" in page.headers
    api = browser.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    unauthorised = browser.get("/api/v1/records")
    assert unauthorised.status_code == 401
    assert unauthorised.headers["www-authenticate"] == "Bearer"

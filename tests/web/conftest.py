"""Helpers for the web tests: a browser-like client over HTTPS (the cookies are Secure), a way
to sign in a user, and the CSRF token of a page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from polex.api.app import create_app
from polex.node.home import Node
from polex.web import security, sessions
from polex.web.settings import WebSettings

BASE = "https://testserver"
SESSION = "__Host-polex_session"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@pytest.fixture
def browser(node: Node) -> Iterator[TestClient]:
    """A client that keeps cookies and sends same-origin headers like a browser would."""
    with TestClient(create_app(node), base_url=BASE, follow_redirects=False) as c:
        yield c


def token_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@pytest.fixture
def csrf_of() -> Callable[[str], str]:
    """csrf_of(html): the CSRF token a page carries."""
    return token_of


@pytest.fixture
def sign_in(node: Node, browser: TestClient) -> Callable[..., str]:
    """sign_in(actor, idle=0): a web session for the actor's user, as after a login, whose last
    request was ``idle`` seconds ago; returns the session token."""

    def sign(actor: Any, idle: int = 0) -> str:
        settings = WebSettings()
        with node.engine.begin() as conn:
            token = sessions.start(conn, actor.principal.user_id, settings)
        value = sessions.encode(security.derive_secret(node), token, int(time.time()) - idle)
        browser.cookies.set(SESSION, value, domain="testserver.local")
        return token

    return sign


@pytest.fixture
def post_form(browser: TestClient) -> Callable[..., Any]:
    """post_form(page_path, action, data): load the page, post its form with its token."""

    def post(page_path: str, action: str, data: dict[str, Any]) -> Any:
        page = browser.get(page_path)
        assert page.status_code == 200, page.text
        return browser.post(action, data={security.CSRF_FIELD: token_of(page.text), **data})

    return post

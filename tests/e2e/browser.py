"""What the browser tests share: Debian's Chromium under Playwright, free loopback ports, waiting
for a node to answer, and one user's browser tab that logs in with password and TOTP code.
The `chromium` fixture itself is in conftest.py."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pyotp
import pytest

CHROMIUM = Path(os.environ.get("POLEX_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"browser tests need Debian's chromium at {CHROMIUM} (make system installs it)",
)


@dataclass(frozen=True)
class User:
    username: str
    password: str
    totp_secret: str


class Site(Protocol):
    """A node the browser talks to, and the users who may log in to it."""

    @property
    def url(self) -> str: ...

    @property
    def users(self) -> dict[str, User]: ...


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports free now (held open together, so no two are the same)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_healthy(url: str, process: subprocess.Popen[Any], log: Path, timeout: float) -> None:
    """Until ``url``/healthz answers 200; fails with the process's log if it stops first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


class Session:
    """One user's browser tab, collecting what the console says (CSP violations land there)."""

    def __init__(
        self,
        chromium: Any,
        server: Site,
        width: int = 1280,
        height: int = 800,
        bypass_csp: bool = False,
        javascript: bool = True,
    ):
        self.server = server
        self.context = chromium.new_context(
            viewport={"width": width, "height": height},
            locale="en-GB",
            bypass_csp=bypass_csp,
            java_script_enabled=javascript,
        )
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def go(self, path: str) -> None:
        self.page.goto(self.server.url + path)

    def log_in(self, username: str) -> None:
        user = self.server.users[username]
        self.go("/login")
        self.page.get_by_label("User name").fill(user.username)
        self.page.get_by_label("Password").fill(user.password)
        self.page.get_by_label("One-time code").fill(pyotp.TOTP(user.totp_secret).now())
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, self.page.content()

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)

    def close(self) -> None:
        violations = [
            c for c in self.console if "Content Security Policy" in c or c.startswith("pageerror")
        ]
        self.context.close()
        assert violations == [], violations

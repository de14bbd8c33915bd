"""The browser the e2e tests drive: Debian's Chromium, one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()

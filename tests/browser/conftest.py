"""Browser tests: the real server (uvicorn, in a thread) driven by Debian's Chromium through Playwright.

The server runs as in development: ``dev_mode``, a migrated SQLite database with the demo
tenants, ``base_url`` http://127.0.0.1:PORT. Chromium counts 127.0.0.1 as a secure origin, so
the Secure cookies work there without TLS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.live_servers import sesame_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 15.0
#: How long an action (a click, a navigation) and an ``expect`` wait at most. CI runs two workers,
#: PostgreSQL and Chromium on two cores, and a step may wait on Tesseract, argon2 or a server-sent
#: event: generous, since a passing test waits only as long as it must. (Playwright's own default
#: for ``expect`` is 5 s, separate from the contexts' default timeout.)
ACTION_TIMEOUT_MS = 30_000
EXPECT_TIMEOUT_MS = 20_000

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running Sésame with the demo tenants."""
    with sesame_server(tmp_path_factory.mktemp("browser-var")) as sesame:
        yield sesame.base_url


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is started, and later tests of the same worker that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile of a French customer (no cookies yet)."""
    fresh = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    fresh.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield fresh
    finally:
        fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()

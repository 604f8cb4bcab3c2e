"""Browser tests: the real server (uvicorn, in a thread) driven by Debian's Chromium through Playwright.

The server runs as in development: ``dev_mode``, a migrated SQLite database with the demo
tenants, ``base_url`` http://127.0.0.1:PORT. Chromium counts 127.0.0.1 as a secure origin, so
the Secure cookies work there without TLS.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from sesame.adapters.sql import migrate
from sesame.bootstrap import build_container
from sesame.config import Settings
from sesame.services.demo import load_demo
from sesame.web.app import create_app

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


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running Sésame with the demo tenants."""
    var_dir = tmp_path_factory.mktemp("browser-var")
    database_url = f"sqlite:///{var_dir / 'sesame.db'}"
    migrate.upgrade(database_url)
    # Bound before the server starts: the port is ours, no race with another process.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        var_dir=var_dir,
        database_url=database_url,
        base_url=base_url,
        secret_key="browser-test-secret-key-0123456789abcdefghijklmnop",
        dev_mode=True,
        outbox_worker=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    container = build_container(settings)
    load_demo(container.tenants)
    config = uvicorn.Config(
        create_app(container), lifespan="on", log_config=None, access_log=False, ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sesame-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the Sésame server did not start")
        time.sleep(0.05)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        container.close()


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
    fresh.set_default_timeout(10_000)
    try:
        yield fresh
    finally:
        fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()

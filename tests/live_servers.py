"""Real servers for end-to-end tests: Sésame (or any ASGI app) under uvicorn in a thread, on its
own free 127.0.0.1 port, for the browser tests, the demo partner's tests and the ``sesame-app``
tests. One place, so every live server starts, waits and stops the same way.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from sesame.adapters.sql import migrate
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.services.demo import load_demo, load_demo_accounts
from sesame.web.app import create_app

STARTUP_SECONDS = 15.0
SECRET_KEY = "live-server-test-secret-key-0123456789abcdefghijklm"


def bound_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port (bound before the server starts: no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{sock.getsockname()[1]}"


@contextlib.contextmanager
def serving(app: ASGIApp, sock: socket.socket, name: str) -> Iterator[None]:
    """``app`` under uvicorn on ``sock`` in a thread, until the block ends."""
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass(frozen=True)
class Sesame:
    """A running Sésame: its base URL and its container (for a test to make accounts, read the outbox)."""

    base_url: str
    container: Container

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/laposte"


@contextlib.contextmanager
def sesame_server(
    var_dir: Path,
    *,
    host: str = "127.0.0.1",
    demo_accounts: bool = False,
    outbox_worker: bool = False,
    name: str = "sesame-live-server",
) -> Iterator[Sesame]:
    """Sésame as ``make run`` serves it (dev mode, SQLite under ``var_dir``, the demo tenants, and the
    demo accounts if asked) on a free port. ``host`` names the loopback in the base URL: passkeys
    need ``localhost``, since an IP address cannot be a WebAuthn relying party id."""
    database_url = f"sqlite:///{var_dir / 'sesame.db'}"
    migrate.upgrade(database_url)
    sock = bound_socket()
    settings = Settings(
        var_dir=var_dir,
        database_url=database_url,
        base_url=url_of(sock, host),
        secret_key=SECRET_KEY,
        dev_mode=True,
        outbox_worker=outbox_worker,
        outbox_poll_seconds=0.2,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        argon2_parallelism=1,
        _env_file=None,  # type: ignore[call-arg]
    )
    container = build_container(settings)
    try:
        load_demo(container.tenants)
        if demo_accounts:
            load_demo_accounts(container.tenants, container.accounts)
        with serving(create_app(container), sock, name):
            yield Sesame(settings.base_url, container)
    finally:
        container.close()

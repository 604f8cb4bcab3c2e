"""Real servers for the demo partner's tests: Sésame and the partner, each under uvicorn in a thread
on its own free 127.0.0.1 port, and an HTTP client that counts loopback as secure, as browsers do.

Used by tests/demo_partner/ and by the end-to-end browser test.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from sesame.adapters.sql import migrate
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.services.demo import load_demo, load_demo_accounts
from sesame.services.demo_partner import ensure_demo_partner
from sesame.web.app import create_app
from sesame_demo_partner.app import create_app as create_partner_app
from sesame_demo_partner.config import PartnerSettings

STARTUP_SECONDS = 15.0
SECRET_KEY = "demo-partner-test-secret-key-0123456789abcdefghijkl"


def bound_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port (bound before the server starts: no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


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
    url: str
    container: Container

    @property
    def issuer(self) -> str:
        return f"{self.url}/laposte"


@contextlib.contextmanager
def sesame_server(var_dir: Path, *, outbox_worker: bool = False) -> Iterator[Sesame]:
    """Sésame as ``make run`` serves it (dev mode, demo tenants and accounts), on a free port."""
    database_url = f"sqlite:///{var_dir / 'sesame.db'}"
    migrate.upgrade(database_url)
    sock = bound_socket()
    settings = Settings(
        var_dir=var_dir,
        database_url=database_url,
        base_url=url_of(sock),
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
        load_demo_accounts(container.tenants, container.accounts)
        with serving(create_app(container), sock, "sesame-live-server"):
            yield Sesame(settings.base_url, container)
    finally:
        container.close()


@dataclass(frozen=True)
class Partner:
    url: str
    settings: PartnerSettings
    client_id: str


@contextlib.contextmanager
def partner_server(sesame: Sesame, var_dir: Path) -> Iterator[Partner]:
    """The demo partner on a free port, registered at laposte as ``sesame demo load`` does it."""
    sock = bound_socket()
    url = url_of(sock)
    registered = ensure_demo_partner(
        sesame.container.oidc_clients, sesame.container.tenants, var_dir=var_dir, base_url=sesame.url, partner_url=url
    )
    settings = PartnerSettings(issuer=sesame.issuer, url=url, client_file=registered.client_file)
    with serving(create_partner_app(settings), sock, "demo-partner"):
        yield Partner(url, settings, registered.client_id)


class LoopbackIsSecure(httpx.HTTPTransport):
    """Browsers count http://127.0.0.1 as a secure origin and keep its Secure cookies; Python's
    cookie jar does not. On loopback, the Secure attribute is dropped as the answer arrives."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.host != "127.0.0.1" or "set-cookie" not in response.headers:
            return response
        headers = [
            (name, re.sub(r";\s*Secure(?=;|$)", "", value, flags=re.I) if name.lower() == "set-cookie" else value)
            for name, value in response.headers.multi_items()
        ]
        return httpx.Response(
            response.status_code, headers=headers, stream=response.stream, extensions=response.extensions
        )


def browser_like_client() -> httpx.Client:
    """An HTTP client that keeps cookies like a browser (Secure ones on loopback included) and
    follows no redirect by itself (the tests follow them and look at each step)."""
    return httpx.Client(follow_redirects=False, timeout=15.0, transport=LoopbackIsSecure())

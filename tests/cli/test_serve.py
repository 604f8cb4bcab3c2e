"""`sesame serve`: a real server process, with several workers sharing the port."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sesame.bootstrap import build_container
from sesame.cli.serve import CoalescingHttpToolsProtocol, CoalescingTransport, default_workers, http_protocol
from sesame.config import Settings
from tests.conftest import TEST_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path, env: dict[str, str], *, workers: int = 2) -> tuple[subprocess.Popen[bytes], int, Path]:
    """``sesame serve`` on a free port, started and answering ``/healthz``.

    The port is free when it is picked, not when the server binds it a second or two later (the
    other test worker starts servers too): a server that found it taken is started again on
    another. Any other failure to start fails the test, with the server's log.
    """
    for attempt in range(3):
        port = _free_port()
        log_path = tmp_path / f"server-{attempt}.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "sesame", "serve", "--port", str(port), "--workers", str(workers)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60  # generous: two workers importing the app on a loaded machine
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                return server, port, log_path
            except httpx.TransportError:
                time.sleep(0.2)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if "address already in use" not in log_path.read_text(errors="replace").lower():
            break
    pytest.fail("the server did not start:\n" + log_path.read_text(errors="replace"))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(c) for c in children)
    return found


def test_default_workers() -> None:
    assert default_workers(dev_mode=True) == 1
    assert default_workers(dev_mode=False) == max(1, os.cpu_count() or 1)


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SESAME_DATABASE_URL": database_url,
        "SESAME_VAR_DIR": str(tmp_path / "var"),
        "SESAME_SECRET_KEY": TEST_SECRET,
        "SESAME_DEV_MODE": "false",
        "SESAME_OUTBOX_WORKER": "false",
    }


@pytest.mark.slow
def test_serves_with_two_workers(tmp_path: Path, database_url: str) -> None:
    server, port, _log_path = _serve(tmp_path, _env(tmp_path, database_url))
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert response.json()["status"] == "ok"
        # uvicorn's supervisor plus two worker processes (the multiprocessing helper may add one).
        assert len([c for c in _children(server.pid) if Path(f"/proc/{c}/cmdline").exists()]) >= 2
        for _ in range(20):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        assert metrics.status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert (tmp_path / "var" / "prometheus").is_dir()


def test_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sesame", "serve", "--port", str(_free_port())],
        env=_env(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "sesame db upgrade" in result.stderr


# -- one send per response -------------------------------------------------------------------------


class Wire(asyncio.Transport):
    """The socket side, as a test double of asyncio's transport: what was sent, send by send."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sends.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 4242)}.get(name, default)


def test_writes_of_one_loop_turn_leave_in_one_send() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        wire = Wire()
        transport = CoalescingTransport(wire, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        assert wire.sends == [] and transport.get_write_buffer_size() == 40
        await asyncio.sleep(0)  # the loop's next turn
        first = list(wire.sends)
        transport.write(b"next")
        transport.close()  # closing sends what is pending first
        return first, wire.sends

    first, after_close = asyncio.run(scenario())
    assert first == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    assert after_close == [*first, b"next"]


def test_nothing_is_written_to_a_closed_connection() -> None:
    async def scenario() -> list[bytes]:
        wire = Wire()
        transport = CoalescingTransport(wire, asyncio.get_running_loop())
        transport.write(b"late")
        wire.closed = True  # the client went away meanwhile
        await asyncio.sleep(0)
        assert transport.get_extra_info("peername") == ("127.0.0.1", 4242)  # the rest is the real transport's
        return wire.sends

    assert asyncio.run(scenario()) == []


def test_uvicorn_gets_the_coalescing_protocol() -> None:
    assert http_protocol() is CoalescingHttpToolsProtocol


@pytest.mark.slow
def test_two_workers_issue_and_check_client_tokens_and_audit_them_when_stopped(
    tmp_path: Path, database_url: str, settings: Settings
) -> None:
    """The token endpoint's lane through the real HTTP stack (uvicorn, the coalescing transport),
    two workers on one database; stopping the server writes what each worker counted (ADR 0006)."""
    served = settings.model_copy(update={"base_url": "http://127.0.0.1"})
    container = build_container(served)
    tenant = container.tenants.create("laposte", "La Poste")
    client, secret = container.oidc_clients.create(tenant, "Batch", grant_types=["client_credentials"])
    assert secret is not None
    basic = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    env = {**_env(tmp_path, database_url), "SESAME_BASE_URL": "http://127.0.0.1"}
    server, port, log_path = _serve(tmp_path, env)
    url = f"http://127.0.0.1:{port}/laposte"
    try:
        with httpx.Client(timeout=5) as http:
            form = {"grant_type": "client_credentials"}
            tokens = [http.post(f"{url}/token", data=form, headers={"Authorization": basic}) for _ in range(30)]
            assert all(t.status_code == 200 for t in tokens), log_path.read_text(errors="replace")
            assert tokens[0].headers["x-content-type-options"] == "nosniff" and "x-request-id" in tokens[0].headers
            token = tokens[-1].json()["access_token"]
            described = http.post(f"{url}/introspect", data={"token": token}, headers={"Authorization": basic})
            assert described.json()["active"] is True
            jwks = http.get(f"{url}/jwks")
            again = http.get(f"{url}/jwks", headers={"If-None-Match": jwks.headers["etag"]})
            assert (jwks.status_code, again.status_code, again.content) == (200, 304, b"")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    with container.uow(readonly=True) as uow:
        events = [r.event for r in uow.audit.chain(tenant.id) if r.event.type == "oidc.client_tokens_issued"]
    container.close()
    assert sum(e.details["count"] for e in events) == 30  # nothing lost, one event per worker at most
    assert 1 <= len(events) <= 2 and {e.subject for e in events} == {f"client:{client.client_id}"}

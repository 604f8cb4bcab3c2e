"""`sesame serve`: a real server process, with several workers sharing the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sesame.cli.serve import default_workers
from tests.conftest import TEST_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    port = _free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "sesame", "serve", "--port", str(port), "--workers", "2"],
            env=_env(tmp_path, database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None, "the server did not start:\n" + log_path.read_text(errors="replace")
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

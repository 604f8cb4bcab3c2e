"""/healthz checks the database cheaply; /metrics speaks Prometheus, across worker processes too."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import build_container
from sesame.config import Settings
from sesame.web.app import create_app

from ..conftest import BASE_URL


def test_healthz_is_ok_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_is_503_when_the_database_is_broken(settings: Settings, clock: FrozenClock, tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a SQLite database, whatever its name says" * 100)
    container = build_container(settings.model_copy(update={"database_url": f"sqlite:///{broken}"}), clock=clock)
    try:
        with TestClient(create_app(container), base_url=BASE_URL) as client:
            response = client.get("/healthz")
    finally:
        container.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "error"}}
    assert "SQLite" not in response.text  # the reason is logged, not told


def test_metrics_are_in_the_prometheus_format(client: TestClient) -> None:
    client.get("/laposte")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "# TYPE sesame_http_requests_total counter" in response.text
    assert "# TYPE sesame_http_request_duration_seconds histogram" in response.text


def test_metrics_add_up_the_workers_in_multiprocess_mode(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prometheus_client import CollectorRegistry, Counter, values

    # What a worker process writes when PROMETHEUS_MULTIPROC_DIR is set before it starts.
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 4242))
    worker = Counter("sesame_worker_test", "A counter of another worker.", registry=CollectorRegistry())
    worker.inc(3)

    text = client.get("/metrics").text
    assert "sesame_worker_test_total 3.0" in text
    # This process's own registry is not what is served: only the files of every worker are.
    assert "sesame_http_requests_total{" not in text

"""Liveness and metrics for operators: ``/healthz`` (with a cheap database check) and ``/metrics``.

``sesame serve --workers N`` runs several processes, each with its own counters: when
``PROMETHEUS_MULTIPROC_DIR`` is set they write there, and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os

import anyio
import structlog
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from starlette.responses import Response

from sesame.adapters.sql.db import Database
from sesame.bootstrap import Container
from sesame.web.deps import get_container

#: A health check that hangs is worse than one that fails: a load balancer waits on it.
DATABASE_TIMEOUT_SECONDS = 3.0

router = APIRouter(tags=["operations"])
log = structlog.get_logger("sesame.web.health")


def _select_one(database: Database) -> None:
    # The read engine: on SQLite the write engine would take the write lock for a SELECT.
    with database.read_engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def check_database(database: Database) -> str:
    """``ok``, ``timeout`` or ``error``; the reason goes to the log, not to the caller."""
    with anyio.move_on_after(DATABASE_TIMEOUT_SECONDS):
        try:
            await anyio.to_thread.run_sync(_select_one, database, abandon_on_cancel=True)
        except Exception as error:  # noqa: BLE001 (any driver error means "down"; logged below)
            log.warning("health.database_failed", error=type(error).__name__, detail=str(error))
            return "error"
        return "ok"
    log.warning("health.database_timeout", seconds=DATABASE_TIMEOUT_SECONDS)
    return "timeout"


@router.get("/healthz", summary="Is this server able to serve?")
async def healthz(container: Container = Depends(get_container)) -> JSONResponse:
    """``{"status": "ok"}``, or 503 with the failing checks."""
    checks = {"database": await check_database(container.database)}
    if all(result == "ok" for result in checks.values()):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus text format; every worker's samples in multiprocess mode."""
    registry = REGISTRY
    # prometheus_client's own variable (it reads it too); set by `sesame serve --workers N`.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

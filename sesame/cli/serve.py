"""``sesame serve``: run the web server (N worker processes sharing one port)."""

from __future__ import annotations

import os
import shutil

import typer

from sesame.adapters.sql import migrate
from sesame.cli.common import fail
from sesame.config import get_settings


def default_workers(dev_mode: bool) -> int:
    """One process per core in production, one in dev mode."""
    return 1 if dev_mode else max(1, os.cpu_count() or 1)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes sharing the port (default: one per core; one in dev mode)."
    ),
) -> None:
    """Serve Sésame over HTTP (put a TLS-terminating proxy in front in production)."""
    import uvicorn

    settings = get_settings()
    url = settings.resolved_database_url()
    current, head = migrate.current_revision(url), migrate.head_revision(url)
    if current != head:
        fail(f"the database is at revision {current or '(empty)'}, this code needs {head}: run `sesame db upgrade`.")
    settings.resolved_secret_key()  # generate it once, before the workers race for it
    count = workers or default_workers(settings.dev_mode)
    if count > 1:
        # Each worker writes its metrics here; /metrics adds them up (prometheus_client multiprocess mode).
        metrics_dir = settings.var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    typer.echo(f"Sésame on http://{host}:{port} ({count} worker{'s' if count > 1 else ''}); Ctrl-C stops it.")
    uvicorn.run(
        "sesame.web.app:asgi_app",
        factory=True,
        host=host,
        port=port,
        workers=count,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        log_config=None,
        access_log=False,
    )

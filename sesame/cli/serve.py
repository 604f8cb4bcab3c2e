"""``sesame serve``: run the web server (N worker processes sharing one port)."""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import typer

from sesame.adapters.sql import migrate
from sesame.cli.common import fail
from sesame.config import get_settings

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover (httptools comes with uvicorn[standard])
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def default_workers(dev_mode: bool) -> int:
    """One process per core in production, one in dev mode."""
    return 1 if dev_mode else max(1, os.cpu_count() or 1)


class CoalescingTransport:
    """A connection's transport whose writes of one event-loop turn leave in one ``send``.

    uvicorn writes a response's head and its body separately, one system call each; a small
    JSON answer (a token, a JWKS) then costs two sends, two TCP segments and twice the kernel
    work. Buffering the writes until the loop's next turn (what Node.js does with cork/uncork)
    sends them together. Everything else is the real transport's; closing flushes first.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()  # an upgraded connection (websocket) writes on the real transport from now on
        self._transport.set_protocol(protocol)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


if HttpToolsProtocol is not None:

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, writing through a :class:`CoalescingTransport`."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


def http_protocol() -> Any:
    """The HTTP implementation for uvicorn: the coalescing one when httptools is there."""
    return CoalescingHttpToolsProtocol if HttpToolsProtocol is not None else "auto"


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
        http=http_protocol(),
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        log_config=None,
        access_log=False,
    )

"""The protocol endpoints' own lane: what clients call most, without what pages need.

A client calling ``/{tenant}/token``, ``/introspect``, ``/revoke``, ``/userinfo``, ``/jwks`` or
``/.well-known/openid-configuration`` gets JSON, never a page: it needs no language, no CSRF
cookie, no page error handler, and the form reader has its own size limit. So the outermost
middleware sends exactly these (path, method) pairs straight to their handlers, with what they
do need done once here, cheaply:

* the correlation id (the caller's sane ``X-Request-ID`` or a new one), echoed and bound to logs;
* the security headers of every response (pre-encoded once);
* metrics for every request; the access log line for failures (status >= 400) at info, and for
  successes at debug only, like ``/healthz``: at thousands of tokens a second a line per token
  costs more than the token (and the audit log has what matters, ADR 0006);
* a JSON 500 when a handler fails unexpectedly;
* and at shutdown (the ASGI lifespan), the client_credentials issuances still counted are
  written to the audit log.

Anything else (another method, ``HEAD``, ``OPTIONS``, any other path) goes through the full
stack as before. The same handlers stay registered as routes, so they behave the same either way.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping

import structlog
from prometheus_client import Counter, Histogram
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sesame.web.middleware import (
    _METHODS,
    _SANE_REQUEST_ID,
    CONTENT_SECURITY_POLICY,
    HSTS,
    LATENCY,
    PERMISSIONS_POLICY,
    REQUEST_ID_HEADER,
    REQUESTS,
)
from sesame.web.oidc import json_error

log = structlog.get_logger("sesame.access")
_access_logger = logging.getLogger("sesame.access")

#: (the path after ``/{tenant}/``, method) -> the route, filled by ``add_protocol_route``.
LaneRoutes = Mapping[tuple[str, str], Route]


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    """What SecurityHeadersMiddleware adds to every response, encoded once."""
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    ]
    if hsts:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class ProtocolLane:
    """The outermost middleware: protocol requests to their handler, everything else to ``app``."""

    def __init__(self, app: ASGIApp, *, routes: LaneRoutes, hsts: bool) -> None:
        self.app = app
        self.routes = dict(routes)
        self.headers = security_headers(hsts=hsts)
        self._metrics: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _flushing_at_shutdown(scope, send))
            return
        if scope["type"] == "http":
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if root_path and path.startswith(root_path):
                path = path[len(root_path) :]
            parts = path.split("/", 2)  # "", tenant, the endpoint's own path
            if len(parts) == 3:
                route = self.routes.get((parts[2], scope["method"]))
                if route is not None:
                    await self._serve(route, parts[1], scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, route: Route, tenant: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        correlation_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        scope["path_params"] = {"tenant": tenant}
        scope["route"] = route
        bound = structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            try:
                response = await route.endpoint(Request(scope, receive))
            except Exception as error:
                log.error("request.failed", path=scope["path"], exc_info=error)
                response = json_error(500, "server_error", "the server met an unexpected error")
            response.raw_headers.extend(self.headers)
            response.raw_headers.append((REQUEST_ID_HEADER.encode(), correlation_id.encode()))
            await response(scope, receive, send)
            self._account(route, scope, response.status_code, time.perf_counter() - started)
        finally:
            structlog.contextvars.reset_contextvars(**bound)

    def _account(self, route: Route, scope: Scope, status: int, duration: float) -> None:
        """Metrics for every request; a log line at info for failures, debug for the rest."""
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        key = (method, route.path, status)
        children = self._metrics.get(key)
        if children is None:
            children = self._metrics[key] = (
                REQUESTS.labels(method, route.path, str(status)),
                LATENCY.labels(method, route.path),
            )
        children[0].inc()
        children[1].observe(duration)
        level = logging.INFO if status >= 400 else logging.DEBUG
        if _access_logger.isEnabledFor(level):
            client = scope.get("client")
            (log.info if level == logging.INFO else log.debug)(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route.path,
                status=status,
                duration_ms=round(duration * 1000, 1),
                client=client[0] if client else None,
            )


def _flushing_at_shutdown(scope: Scope, send: Send) -> Send:
    """``send`` for the lifespan: once the app has shut down, the issuances still counted are
    written to the audit log (ADR 0006), before the server is told it may exit. (A worker of
    ``sesame serve --workers N`` is stopped by a signal that ends it right after, so the
    interpreter's exit hooks would not run.)"""

    async def send_after_flushing(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            providers = getattr(getattr(scope.get("app"), "state", None), "oidc_providers", None)
            if providers is not None:
                await run_in_threadpool(providers.full.tally.close)
        await send(message)

    return send_after_flushing

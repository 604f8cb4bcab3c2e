"""The HTTP middleware of every request, as plain ASGI classes (no BaseHTTPMiddleware: no extra task).

From the outside in: correlation id, access log and metrics, security headers, language, CSRF
cookie, body size limit. :func:`install` adds them, serves ``/static``, and configures logging
(the app factory is the one place every worker process goes through).
"""

from __future__ import annotations

import re
import time
import uuid
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sesame.bootstrap import Container
from sesame.config import Settings
from sesame.logging import configure_logging
from sesame.web import csrf, i18n, templating
from sesame.web.errors import ErrorPage, error_response
from sesame.web.i18n import N_

log = structlog.get_logger("sesame.access")

REQUEST_ID_HEADER = "x-request-id"
# An incoming id is kept only if it cannot forge a log line or fill the disk.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# No form-action: it would block the redirect to an OAuth client after a login form is posted.
# The API's Swagger page is FastAPI's own HTML (an inline script, files from a CDN); no user data there.
_DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# Camera and microphone keep the browser's default (this origin only): video identification needs them.
PERMISSIONS_POLICY = "geolocation=(), payment=(), usb=(), serial=(), bluetooth=()"
HSTS = "max-age=63072000; includeSubDomains"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
CSRF_COOKIE_MAX_AGE = 7 * 24 * 3600  # renewed whenever a form is shown

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_QUIET_PATHS = ("/healthz", "/metrics", "/static/")

REQUESTS = Counter("sesame_http_requests", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "sesame_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Lax, Path=/ (and Secure when ``secure``)."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    morsel["secure"] = secure
    return morsel.OutputString()


def cookies_secure(settings: Settings) -> bool:
    """Cookies are Secure over HTTPS and on loopback, which browsers count as a secure origin.

    Plain HTTP on another host (a development machine on a LAN) would have every Secure cookie
    dropped by the browser, and every form refused: there the cookies go without the flag.
    """
    host = urlsplit(settings.base_url).hostname or ""
    return settings.is_https or host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")


class CorrelationIdMiddleware:
    """Gives each request an id (the caller's sane ``X-Request-ID``, or a new one), echoed in the
    response, bound to every log line, and kept in ``request.state.correlation_id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        correlation_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        _state(scope)["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = correlation_id
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's path template (``/{tenant}``), so metrics do not grow with every URL."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "<unmatched>"
    mount_prefix = str(scope.get("root_path", ""))[len(root_path) :]
    return (mount_prefix + path) or "/"


class AccessLogMiddleware:
    """One log line and one metrics sample per request: method, path without its query string
    (it may carry codes), status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            duration = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_template(scope, root_path)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(duration)
            path: str = scope["path"]
            client = scope.get("client")
            write = log.debug if path.startswith(_QUIET_PATHS) else log.info
            write(
                "request",
                method=scope["method"],
                path=path,
                route=route,
                status=status,
                duration_ms=round(duration * 1000, 1),
                client=client[0] if client else None,
            )


class SecurityHeadersMiddleware:
    """Security headers on every response; HSTS only when the server is reached over HTTPS."""

    def __init__(self, app: ASGIApp, *, hsts: bool, docs_path: str | None = None) -> None:
        self.app = app
        self.hsts = hsts
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = _DOCS_CONTENT_SECURITY_POLICY if scope["path"] == self.docs_path else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", policy)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("permissions-policy", PERMISSIONS_POLICY)
                if self.hsts:
                    headers.setdefault("strict-transport-security", HSTS)
                # Pages show personal data: no copy in a shared cache nor in the back-forward history.
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LocaleMiddleware:
    """Chooses the page language before routing (``?lang=``, cookie, ``Accept-Language``, French);
    a valid ``?lang=`` is remembered in the ``sesame_lang`` cookie. Tenant pages narrow it further."""

    def __init__(self, app: ASGIApp, *, secure_cookie: bool) -> None:
        self.app = app
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        i18n.apply_locale(request, i18n.locale_for(request))
        asked = i18n.requested_language(request)

        async def send_with_cookie(message: Message) -> None:
            if asked is not None and message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie",
                    cookie_header(i18n.LANG_COOKIE, asked, max_age=LANG_COOKIE_MAX_AGE, secure=self.secure_cookie),
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class CsrfCookieMiddleware:
    """Sets the CSRF cookie on responses whose page used it (``csrf_input()``, ``browser_token()``)."""

    def __init__(self, app: ASGIApp, *, name: str, secure: bool) -> None:
        self.app = app
        self.name = name
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = _state(scope).get(csrf.STATE_COOKIE)
                if isinstance(value, str):
                    # Sent again even when known: a form shown now keeps working for the cookie's lifetime.
                    MutableHeaders(scope=message).append(
                        "set-cookie", cookie_header(self.name, value, max_age=CSRF_COOKIE_MAX_AGE, secure=self.secure)
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def human_size(size: int) -> str:
    """``8 MB`` / ``8 Mo``, ``512 kB`` / ``512 ko``: in the current language."""
    if size >= 1024 * 1024:
        return i18n.gettext("%(number)s MB") % {"number": i18n.format_number(round(size / (1024 * 1024), 1))}
    return i18n.gettext("%(number)s kB") % {"number": i18n.format_number(round(size / 1024, 1))}


class RequestTooLarge(ErrorPage):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            "payload_too_large",
            N_("What you sent is too large"),
            N_("Files and forms can be %(size)s at most. Send smaller files, then try again."),
            params={"size": human_size(max_bytes)},
        )


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with a 413: at once when ``Content-Length`` says
    so, else as soon as the streamed body goes over."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(Request(scope, receive), RequestTooLarge(self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)  # the error handlers render it
            return message

        await self.app(scope, limited_receive, send)


def install(app: FastAPI, container: Container) -> None:
    """Add the middleware stack and the static files to ``app``; configure logging."""
    settings = container.settings
    configure_logging(settings)
    i18n.catalogs()  # compile now: a broken catalog stops the start, not the first request
    secure = cookies_secure(settings)
    if not secure:
        log.warning("cookies.not_secure", base_url=settings.base_url, hint="serve over HTTPS in production")
    # Before every router: a tenant catch-all such as /{tenant}/{page} must not shadow them.
    app.router.routes[0:0] = templating.static_routes()
    # add_middleware puts each new one outside the previous ones: innermost first.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(CsrfCookieMiddleware, name=csrf.cookie_name(settings), secure=secure)
    app.add_middleware(LocaleMiddleware, secure_cookie=secure)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_https, docs_path=app.docs_url)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(CorrelationIdMiddleware)
    # Outermost: the OpenID Connect endpoints clients call (JSON only) skip what pages need.
    from sesame.web.oidc import LANE_ROUTES
    from sesame.web.oidc.lane import ProtocolLane

    app.add_middleware(ProtocolLane, routes=LANE_ROUTES, hsts=settings.is_https)

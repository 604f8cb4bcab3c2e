"""Errors as people and programs see them: a friendly page, or JSON with a correlation id.

Routes under ``/api/`` (and requests whose ``Accept`` prefers JSON) get
``{"error": code, "message": text, "correlation_id": id}``; every other route gets a page in
the visitor's language saying what happened, what to do, and a reference to quote to support.
Technical detail goes to the log with the same correlation id, never into the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sesame.domain import errors as domain
from sesame.web.i18n import N_, gettext, request_locale, use_locale

log = structlog.get_logger("sesame.web.errors")


class ErrorPage(HTTPException):
    """An HTTP error with words for people: raise it from a route or a dependency.

    ``title`` and ``message`` are English msgids (mark them with ``N_``); they are translated
    when the page is rendered, into the visitor's language. ``params`` fill ``%(name)s``
    placeholders of the message.
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        title: str,
        message: str,
        *,
        params: Mapping[str, Any] | None = None,
        action_url: str | None = None,
        action_label: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=code, headers=dict(headers) if headers else None)
        self.code = code
        self.title = title
        self.message = message
        self.params = dict(params or {})
        self.action_url = action_url
        self.action_label = action_label


@dataclass(frozen=True, slots=True)
class _Wording:
    code: str
    title: str
    message: str


_BY_STATUS: dict[int, _Wording] = {
    400: _Wording(
        "bad_request",
        N_("The information sent could not be used"),
        N_("Check what you typed, then send the form again."),
    ),
    401: _Wording("unauthorized", N_("Please log in"), N_("You need to log in to see this page.")),
    403: _Wording("forbidden", N_("Access refused"), N_("You are not allowed to see this page.")),
    404: _Wording(
        "not_found",
        N_("Page not found"),
        N_("The address may be mistyped, or the page no longer exists."),
    ),
    405: _Wording(
        "method_not_allowed",
        N_("This action is not possible here"),
        N_("Go back to the previous page and try again."),
    ),
    409: _Wording(
        "conflict",
        N_("This action was already done"),
        N_("The page changed in the meantime. Go back and check where you are."),
    ),
    410: _Wording("gone", N_("This page has expired"), N_("Please start again from the beginning.")),
    413: _Wording(
        "payload_too_large",
        N_("What you sent is too large"),
        N_("Send smaller files, then try again."),
    ),
    429: _Wording("too_many_requests", N_("Too many attempts"), N_("Please wait a moment, then try again.")),
    500: _Wording(
        "internal_error",
        N_("Something went wrong on our side"),
        N_(
            "Please try again in a few minutes. If it happens again, contact support and give them the reference below."
        ),
    ),
    503: _Wording(
        "unavailable",
        N_("The service is temporarily unavailable"),
        N_("Please try again in a few minutes."),
    ),
}

#: Domain errors a route did not catch itself: a sane default status (subclasses first).
_DOMAIN_STATUS: tuple[tuple[type[domain.DomainError], int], ...] = (
    (domain.FlowNotFound, 404),
    (domain.FlowExpired, 410),
    (domain.FlowStateError, 409),
    (domain.FlowCsrfMismatch, 403),
    (domain.TooManyAttempts, 429),
    (domain.NotFound, 404),
    (domain.AlreadyExists, 409),
    (domain.InvalidInput, 400),
    (domain.PolicyViolation, 400),
)
_DOMAIN_WORDING: dict[str, tuple[str, str]] = {
    domain.FlowExpired.code: (
        N_("This step has expired"),
        N_("For your security, a journey stays open for a limited time. Please start again."),
    ),
    domain.FlowNotFound.code: (
        N_("This step no longer exists"),
        N_("The link may be old or already used. Please start again."),
    ),
    domain.FlowCsrfMismatch.code: (
        N_("This page was opened in another browser"),
        N_("For your security, finish in the browser where you started, or start again here."),
    ),
}


def wants_json(request: Request) -> bool:
    """API routes, and clients that ask for JSON rather than HTML, get JSON errors."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return True
    return _quality(request.headers.get("accept", ""), "application/json") > _quality(
        request.headers.get("accept", ""), "text/html"
    )


def _quality(accept: str, media_type: str) -> float:
    best = 0.0
    for entry in accept.split(",")[:32]:
        kind, _sep, params = entry.strip().partition(";")
        if kind.strip().lower() != media_type:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best = max(best, quality)
    return best


def _correlation_id(request: Request) -> str:
    value = getattr(request.state, "correlation_id", None)
    return value if isinstance(value, str) else ""


def error_response(request: Request, error: ErrorPage) -> Response:
    """The response for ``error``: JSON for the API, a friendly page for people."""
    with use_locale(request_locale(request)):
        message = gettext(error.message) % error.params if error.params else gettext(error.message)
        if wants_json(request):
            body = {"error": error.code, "message": message, "correlation_id": _correlation_id(request)}
            return JSONResponse(body, status_code=error.status_code, headers=error.headers)
        return _error_page(request, error, message)


def _error_page(request: Request, error: ErrorPage, message: str) -> Response:
    # Imported here: templating uses csrf, which raises this module's ErrorPage (a cycle at import time).
    from sesame.web.templating import render

    context = {
        "error": {
            "status": error.status_code,
            "code": error.code,
            "title": gettext(error.title),
            "message": message,
            "action_url": error.action_url,
            "action_label": gettext(error.action_label) if error.action_label else None,
        }
    }
    try:
        response: Response = render(request, "error.html", context, status_code=error.status_code)
    except Exception:
        # A broken error page must not turn a 404 into a 500 with a stack trace.
        log.exception("error_page.render_failed", status=error.status_code)
        response = HTMLResponse(
            f"<!doctype html><title>{error.status_code}</title><h1>{error.status_code}</h1>",
            status_code=error.status_code,
        )
    if error.headers:
        response.headers.update(error.headers)
    return response


def page_for_status(status_code: int, *, headers: Mapping[str, str] | None = None) -> ErrorPage:
    """The generic error for an HTTP status (a 4xx without its own wording reads as a 400)."""
    wording = _BY_STATUS.get(status_code) or _BY_STATUS[500 if status_code >= 500 else 400]
    return ErrorPage(status_code, wording.code, wording.title, wording.message, headers=headers)


def page_for_domain_error(error: domain.DomainError) -> ErrorPage:
    status = next((code for kind, code in _DOMAIN_STATUS if isinstance(error, kind)), 400)
    generic = page_for_status(status)
    title, message = _DOMAIN_WORDING.get(error.code, (generic.title, generic.message))
    return ErrorPage(status, error.code, title, message)


# -- handlers ------------------------------------------------------------------------------------


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = exc if isinstance(exc, ErrorPage) else page_for_status(exc.status_code, headers=exc.headers)
    return error_response(request, error)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Field names and error kinds only: pydantic's "input" would echo what was typed (a password).
    problems = [
        {"loc": list(e.get("loc", ())), "type": e.get("type", ""), "msg": e.get("msg", "")} for e in exc.errors()
    ]
    log.info("request.invalid", problems=[{"loc": p["loc"], "type": p["type"]} for p in problems])
    if wants_json(request):
        with use_locale(request_locale(request)):
            message = gettext(page_for_status(400).message)
        body = {
            "error": "invalid_input",
            "message": message,
            "correlation_id": _correlation_id(request),
            "details": problems,
        }
        return JSONResponse(body, status_code=422)
    return error_response(request, page_for_status(400))


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, domain.DomainError)
    log.info("domain_error", error=exc.code, detail=str(exc))
    return error_response(request, page_for_domain_error(exc))


def internal_error_response(request: Request, exc: BaseException) -> Response:
    """Log an unexpected exception with the correlation id, and answer a 500 that reveals nothing."""
    log.error("request.failed", path=request.url.path, exc_info=exc)
    return error_response(request, page_for_status(500))


class UnhandledErrorMiddleware:
    """Turns an exception no handler took into a 500 page *inside* our middleware stack.

    Starlette's own last-resort handler sits outside every user middleware, so its response
    would miss the security headers and the correlation id; this one does not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # half a response is out: nothing better to do than to let the server close it
                raise
            request = Request(scope, receive)
            if isinstance(exc, HTTPException):
                response = await _http_exception(request, exc)
            else:
                response = internal_error_response(request, exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the error handlers, and the catch-all that renders 500s."""
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(domain.DomainError, _domain_error)
    # Added first, so it is the innermost user middleware: its 500s still get every header.
    app.add_middleware(UnhandledErrorMiddleware)

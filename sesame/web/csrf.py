"""Cross-site request forgery protection for every HTML form (signed double-submit cookie).

A browser gets a random ``sesame_csrf`` cookie (HttpOnly, SameSite=Lax, Secure, and the
``__Host-`` prefix over HTTPS). Each form carries ``HMAC(server key, cookie)``: another site can
make the browser send the cookie, but cannot read it nor compute the token. The cookie is also
the browser's identity for flows (:func:`browser_token`), so that a flow started in one
browser cannot be continued from another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from base64 import urlsafe_b64encode
from collections.abc import AsyncIterator
from typing import Any

import structlog
from markupsafe import Markup, escape
from starlette.datastructures import FormData
from starlette.requests import Request

from sesame.config import Settings
from sesame.web.deps import local_path
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_

COOKIE_BASENAME = "sesame_csrf"
FORM_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Where the cookie for this request lives in ``scope["state"]``, and whether it must be set.
STATE_COOKIE = "csrf_cookie"
STATE_NEW_COOKIE = "csrf_cookie_new"
_COOKIE_BYTES = 32
_COOKIE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)

log = structlog.get_logger("sesame.web.csrf")


class CsrfFailed(ErrorPage):
    """The form's token does not match the browser's cookie (expired, replayed, or forged)."""

    def __init__(self, back_url: str) -> None:
        super().__init__(
            403,
            "csrf_failed",
            N_("The form could not be sent"),
            N_("Your session has expired or the form was sent twice: please try again."),
            action_url=back_url,
            action_label=N_("Back to the form"),
        )


def cookie_name(settings: Settings) -> str:
    # __Host- makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
    return f"__Host-{COOKIE_BASENAME}" if settings.is_https else COOKIE_BASENAME


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.container.settings
    return settings


def _signing_key(request: Request) -> bytes:
    secret: str = request.app.state.container.secret_key
    # A key of its own, derived from the server secret, so a CSRF token reveals nothing about other uses.
    return hmac.new(secret.encode(), b"sesame/csrf/v1", hashlib.sha256).digest()


def _sent_cookie(request: Request) -> str | None:
    value = request.cookies.get(cookie_name(_settings(request)))
    return value if value is not None and _COOKIE_RE.fullmatch(value) else None


def _state(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


def browser_token(request: Request) -> str:
    """The raw CSRF cookie of this browser: the one it sent, or a fresh one set on this response.

    Flows hash it to bind themselves to the browser. A browser without the cookie gets one
    now (the response of this request sets it), so a flow started on a first visit is bound too.
    """
    state = _state(request)
    if STATE_COOKIE not in state:
        sent = _sent_cookie(request)
        state[STATE_COOKIE] = sent or secrets.token_urlsafe(_COOKIE_BYTES)
        state[STATE_NEW_COOKIE] = sent is None
    value: str = state[STATE_COOKIE]
    return value


def _token_for(request: Request, cookie: str) -> str:
    digest = hmac.new(_signing_key(request), cookie.encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_token(request: Request) -> str:
    """The token to put in this request's forms."""
    return _token_for(request, browser_token(request))


def csrf_input(request: Request) -> Markup:
    """``<input type="hidden" name="csrf_token" value="...">`` for a form (``{{ csrf_input() }}``)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, escape(csrf_token(request)))


def _back_url(request: Request) -> str:
    query = request.url.query
    return local_path(request.url.path) + (f"?{query}" if query else "")


def _rejection(request: Request, form: FormData) -> str | None:
    """Why this form must be refused, or None when its token matches the browser's cookie."""
    cookie = _sent_cookie(request)
    sent = form.get(FORM_FIELD)
    if cookie is None:
        return "no_cookie"
    if not isinstance(sent, str) or not sent:
        return "no_token"
    if not hmac.compare_digest(sent.encode(), _token_for(request, cookie).encode()):
        return "mismatch"
    return None


async def csrf_protect(request: Request) -> AsyncIterator[None]:
    """FastAPI dependency: refuse a POST/PUT/PATCH/DELETE whose form token does not match the cookie.

    Routers of HTML pages use ``APIRouter(dependencies=[Depends(csrf_protect)])``. The form is
    parsed once: FastAPI's ``Form()`` parameters and ``await request.form()`` reuse it, and its
    uploaded files are closed when the request is done.
    """
    if request.method not in UNSAFE_METHODS:
        yield
        return
    form = await request.form()
    try:
        reason = _rejection(request, form)
        if reason is not None:
            log.info("csrf.rejected", reason=reason, path=request.url.path)
            raise CsrfFailed(_back_url(request))
        yield
    finally:
        await form.close()

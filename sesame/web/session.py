"""The session cookie: one per tenant, holding the random session token (the database keeps its hash).

``Secure; HttpOnly; SameSite=Lax``, with the ``__Host-`` prefix under HTTPS. Pages that need a
logged-in person depend on :func:`require_login`, which sends others to the tenant's login
page and brings them back afterwards.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.config import Settings
from sesame.domain.tenants import Tenant
from sesame.services.context import RequestContext
from sesame.services.sessions import LiveSession
from sesame.web.deps import client_ip, get_container, get_tenant, local_path
from sesame.web.middleware import cookie_header, cookies_secure

_STATE_KEY = "sesame_session"


def session_cookie_name(settings: Settings, tenant: Tenant) -> str:
    base = f"sesame_session_{tenant.slug}"
    return f"__Host-{base}" if settings.is_https else base


def set_session_cookie(response: Response, settings: Settings, tenant: Tenant, token: str) -> None:
    """Set the cookie (its lifetime is the session's absolute limit; the server enforces both limits)."""
    response.headers.append(
        "set-cookie",
        cookie_header(
            session_cookie_name(settings, tenant),
            token,
            max_age=tenant.policy.session.absolute_timeout_seconds,
            secure=cookies_secure(settings),
        ),
    )


def clear_session_cookie(response: Response, settings: Settings, tenant: Tenant) -> None:
    response.headers.append(
        "set-cookie",
        cookie_header(session_cookie_name(settings, tenant), "", max_age=0, secure=cookies_secure(settings)),
    )


def session_token(request: Request, tenant: Tenant) -> str | None:
    return request.cookies.get(session_cookie_name(get_container(request).settings, tenant))


async def current_session(request: Request, tenant: Tenant) -> LiveSession | None:
    """The logged-in session of this browser at ``tenant`` (resolved once per request)."""
    cached = getattr(request.state, _STATE_KEY, None)
    if isinstance(cached, LiveSession) and cached.session.tenant_id == tenant.id:
        return cached
    live = await run_in_threadpool(get_container(request).sessions.resolve, tenant, session_token(request, tenant))
    setattr(request.state, _STATE_KEY, live)
    return live


def request_context(request: Request, live: LiveSession | None = None) -> RequestContext:
    """Who asks, for the audit log and throttles."""
    return RequestContext(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:300],
        correlation_id=str(getattr(request.state, "correlation_id", "")),
        actor=f"account:{live.account.id}" if live else "anonymous",
    )


class LoginRequired(Exception):
    """Raised by :func:`require_login`; the handler sends the browser to the login page."""

    def __init__(self, tenant: Tenant, return_to: str) -> None:
        super().__init__("login required")
        self.tenant = tenant
        self.return_to = return_to


async def require_login(request: Request, tenant: Tenant = Depends(get_tenant)) -> LiveSession:
    """Dependency of pages for logged-in people only."""
    live = await current_session(request, tenant)
    if live is None:
        query = request.url.query
        raise LoginRequired(tenant, local_path(request.url.path + (f"?{query}" if query else "")))
    return live


def login_url(tenant: Tenant, return_to: str | None = None) -> str:
    url = f"/{tenant.slug}/login"
    return f"{url}?return_to={quote(local_path(return_to), safe='/')}" if return_to else url


def install(app: FastAPI) -> None:
    async def _to_login(request: Request, error: Exception) -> Response:
        assert isinstance(error, LoginRequired)
        return RedirectResponse(login_url(error.tenant, error.return_to), status_code=303)

    app.add_exception_handler(LoginRequired, _to_login)

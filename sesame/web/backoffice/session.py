"""The back office's own session cookie, and the dependency of pages for logged-in agents.

The cookie holds 256 random bits (the database keeps their SHA-256): ``Secure``, ``HttpOnly``,
``SameSite=Strict`` and ``Path=/backoffice``, so no other page of the server, and no other site's
link, ever sends it. An agent who is not logged in (or idle too long) is sent to the login page
and brought back afterwards; an agent with a one-time password is sent to change it first.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from sesame.backoffice.agents import LiveAgent
from sesame.backoffice.services import Backoffice
from sesame.config import Settings
from sesame.domain.agents import BACKOFFICE_SESSION_SECONDS
from sesame.services.context import RequestContext
from sesame.web.deps import client_ip, get_container, local_path
from sesame.web.middleware import cookies_secure

PREFIX = "/backoffice"
LOGIN_PATH = f"{PREFIX}/login"
PASSWORD_PATH = f"{PREFIX}/password"
_STATE_KEY = "sesame_agent"
#: A return_to longer than this is not a back-office page worth coming back to.
RETURN_TO_MAX = 1024


def backoffice(request: Request) -> Backoffice:
    return get_container(request).backoffice


def cookie_name(settings: Settings) -> str:
    # Not __Host-: that prefix demands Path=/, and this cookie is for /backoffice only.
    return "__Secure-sesame_backoffice" if settings.is_https else "sesame_backoffice"


def _cookie_header(settings: Settings, value: str, max_age: int) -> str:
    cookie: SimpleCookie = SimpleCookie()
    name = cookie_name(settings)
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = PREFIX
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    morsel["secure"] = cookies_secure(settings)
    return morsel.OutputString()


def set_agent_cookie(response: Response, settings: Settings, token: str) -> None:
    response.headers.append("set-cookie", _cookie_header(settings, token, BACKOFFICE_SESSION_SECONDS))


def clear_agent_cookie(response: Response, settings: Settings) -> None:
    response.headers.append("set-cookie", _cookie_header(settings, "", 0))


def agent_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(get_container(request).settings))


async def current_agent(request: Request) -> LiveAgent | None:
    """The logged-in agent of this browser (resolved once per request; the idle timeout applies)."""
    cached = getattr(request.state, _STATE_KEY, None)
    if isinstance(cached, LiveAgent):
        return cached
    live = await run_in_threadpool(backoffice(request).access.resolve, agent_token(request))
    if live is not None:
        setattr(request.state, _STATE_KEY, live)
    return live


def agent_context(request: Request, live: LiveAgent | None = None) -> RequestContext:
    return RequestContext(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:300],
        correlation_id=str(getattr(request.state, "correlation_id", "")),
        actor=live.agent.actor if live else "anonymous",
    )


def safe_return_to(raw: str | None) -> str | None:
    """A back-office page to come back to after the login, never another site nor another area."""
    if not raw or len(raw) > RETURN_TO_MAX:
        return None
    path = local_path(raw)
    return path if path == PREFIX or path.startswith(PREFIX + "/") else None


def login_url(return_to: str | None = None) -> str:
    target = safe_return_to(return_to)
    return f"{LOGIN_PATH}?return_to={quote(target, safe='/')}" if target else LOGIN_PATH


class AgentLoginRequired(Exception):
    """Raised by :func:`require_agent`; the router's route class answers with a redirect."""

    def __init__(self, url: str) -> None:
        super().__init__("agent login required")
        self.url = url


async def require_agent(request: Request) -> LiveAgent:
    """Dependency of every page but the login: a logged-in agent whose password is not a one-time one."""
    live = await current_agent(request)
    if live is None:
        query = request.url.query
        back = request.url.path + (f"?{query}" if query else "") if request.method == "GET" else PREFIX
        raise AgentLoginRequired(login_url(back))
    if live.agent.password_change_required and request.url.path != PASSWORD_PATH:
        raise AgentLoginRequired(PASSWORD_PATH)
    return live


class BackofficeRoute(APIRoute):
    """Routes of the back office: an :class:`AgentLoginRequired` becomes a 303 to the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AgentLoginRequired as redirect:
                return RedirectResponse(redirect.url, status_code=303)

        return route


def no_store(headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Headers of a response that no cache, shared or private, may keep."""
    return {"cache-control": "no-store", "pragma": "no-cache", **(headers or {})}

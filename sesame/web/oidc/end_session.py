"""The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2-§4), a page for browsers.

``GET``/``POST /{tenant}/end-session``: a client sends the person here to log out. With an
``id_token_hint`` of the browser's current session, the session ends at once; otherwise the
person is asked (``POST /{tenant}/end-session/confirm`` with the CSRF token), so that another
site cannot log anyone out. Afterwards the browser goes to the client's registered
``post_logout_redirect_uri`` (with ``state``), or sees "you are logged out". The decisions are
:mod:`sesame.oidc.logout`'s; this module only translates HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.logout import EndSession, EndSessionDecision, EndSessionRequest
from sesame.services.sessions import LiveSession
from sesame.web import csrf, i18n
from sesame.web.csrf import csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.session import clear_session_cookie, current_session, login_url, request_context
from sesame.web.templating import render

router = APIRouter(include_in_schema=False)

#: A request with more parameters than this is not an end-session request.
MAX_PARAMETERS = 32


def _service(container: Container) -> EndSession:
    return EndSession(container.uow, container.clock, container.backchannel_logouts)


async def _parameters(request: Request) -> dict[str, str]:
    """§2: the query of a GET, the form of a POST (only the first value of a repeated name)."""
    if request.method == "POST":
        items = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    else:
        items = list(request.query_params.multi_items())
    params: dict[str, str] = {}
    for name, value in items[:MAX_PARAMETERS]:
        params.setdefault(name, value)
    return params


def _apply_ui_locales(request: Request, tenant: Tenant, asked: EndSessionRequest) -> None:
    """§2 ui_locales: the first language the tenant offers (a ``?lang=`` of the page wins)."""
    if i18n.requested_language(request) is not None:
        return
    available = i18n.available_locales(tenant.policy.languages)
    for tag in asked.ui_locales:
        primary = tag.split("-", 1)[0].lower()
        if primary in available:
            i18n.apply_locale(request, primary)
            return


async def _decide(
    request: Request, tenant: Tenant, params: Mapping[str, str]
) -> tuple[EndSessionDecision, LiveSession | None]:
    asked = EndSessionRequest.from_params(params)
    _apply_ui_locales(request, tenant, asked)
    live = await current_session(request, tenant)
    container = get_container(request)
    decision = await run_in_threadpool(_service(container).decide, tenant, asked, live.session if live else None)
    return decision, live


async def _log_out(request: Request, tenant: Tenant, live: LiveSession, decision: EndSessionDecision) -> None:
    container = get_container(request)
    await run_in_threadpool(_service(container).end, tenant, live.session, request_context(request, live), decision)


def _finish(request: Request, tenant: Tenant, decision: EndSessionDecision, *, ended: bool) -> Response:
    """§3: to the registered post_logout_redirect_uri (with state), or "you are logged out"."""
    response: Response
    if decision.redirect_to is not None:
        response = RedirectResponse(decision.redirect_to, status_code=303)
    else:
        client_name = decision.client.name if decision.client and not decision.problem else None
        response = render(request, "oidc/logged_out.html", {"client_name": client_name, "login_url": login_url(tenant)})
    if ended:
        clear_session_cookie(response, get_container(request).settings, tenant)
    response.headers["cache-control"] = "no-store"
    return response


@router.api_route("/{tenant}/end-session", methods=["GET", "POST"], name="oidc_end_session")
async def end_session(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """§2: log out at once when the hint names this browser's session, otherwise ask first."""
    params = await _parameters(request)
    if request.method == "POST" and request.cookies.get(csrf.cookie_name(get_container(request).settings)) is None:
        # A cross-site POST carries no SameSite=Lax cookie, so no session: the same request as a
        # GET (a top-level navigation) carries them, and can end the session it names.
        return RedirectResponse(f"/{tenant.slug}/end-session?{urlencode(params)}", status_code=303)
    decision, live = await _decide(request, tenant, params)
    if live is None:
        return _finish(request, tenant, decision, ended=False)  # nothing to end here
    if decision.hint_matches_session:
        await _log_out(request, tenant, live, decision)
        return _finish(request, tenant, decision, ended=True)
    response = render(
        request,
        "oidc/logout_confirm.html",
        {
            "client_name": decision.client.name if decision.client and not decision.problem else None,
            "unverified": decision.problem is not None,
            "fields": EndSessionRequest.from_params(params).as_params(),
            "confirm_url": f"/{tenant.slug}/end-session/confirm",
            "account_url": f"/{tenant.slug}/account",
        },
    )
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/{tenant}/end-session/confirm", name="oidc_end_session_confirm", dependencies=[Depends(csrf_protect)])
async def confirm(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """§4: the person said yes (the CSRF token proves it was this page): log out, then go on."""
    decision, live = await _decide(request, tenant, await _parameters(request))
    if live is not None:
        await _log_out(request, tenant, live, decision)
    return _finish(request, tenant, decision, ended=live is not None)

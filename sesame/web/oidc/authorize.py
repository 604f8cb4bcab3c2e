"""The authorization endpoint (OpenID Connect Core §3.1.2) and its pages: resume and consent.

``GET``/``POST /{tenant}/authorize`` validates the request (:mod:`sesame.oidc.authorize`),
starts an authorization flow bound to the browser, and runs its first step: a code or an error
back to the client, the consent page, or the login page with ``return_to`` pointing at
``/{tenant}/authorize/{flow_id}``, which resumes the flow when the person comes back. The
consent form is a POST with the CSRF token. A request for ``eidas2`` that the session does not
reach, from an account that can reach it, goes to the step-up page
(``/{tenant}/authorize/{flow_id}/step-up``): a button sends an approval request to the person's
phone app, and the decoupled login's waiting page (:mod:`sesame.web.pages.app_login`) opens the
session again at ``eidas2`` and comes back here. The routes only translate HTTP: the decisions
are the flow's (:mod:`sesame.flows.authorization.steps`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.errors import FlowCsrfMismatch, FlowExpired, FlowNotFound, FlowStateError, TooManyAttempts
from sesame.domain.tenants import Tenant
from sesame.flows.authorization.flow import AUTHORIZATION
from sesame.flows.authorization.states import AuthorizationContext, AuthorizationState
from sesame.flows.authorization.steps import CANCEL_STEP_UP, EXTRAS_KEY, NEED, AuthorizationServices
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.oidc import assurance, discovery
from sesame.oidc.authorize import (
    LIST_MAX,
    SERVER_ERROR,
    AuthorizationError,
    AuthorizationPageError,
    success_url,
    validate,
)
from sesame.oidc.interaction import Need
from sesame.oidc.models import OidcClient
from sesame.oidc.tokens import hash_token, new_token
from sesame.services.app_login import AppLogin
from sesame.services.approvals import ApprovalRateLimited, ApprovalUnavailable
from sesame.services.audit import AuditService
from sesame.services.context import RequestContext
from sesame.services.sessions import LiveSession
from sesame.web import csrf, i18n
from sesame.web.csrf import browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.pages.app_login import wait_url
from sesame.web.session import current_session, request_context
from sesame.web.templating import render

log = structlog.get_logger("sesame.web.oidc.authorize")

router = APIRouter(include_in_schema=False)

AuthorizationFlow = Flow[AuthorizationState, AuthorizationContext]
#: A request with more parameters than this is not an authorization request.
MAX_PARAMETERS = 64

_PAGE_ERRORS: Mapping[str, tuple[str, str]] = {
    "unknown_client": (
        N_("This service is not known here"),
        N_("The service that sent you here is not registered. Go back to it and try again later."),
    ),
    "client_disabled": (
        N_("This service is no longer available"),
        N_("The service that sent you here can no longer use this login. Contact the service."),
    ),
    "unregistered_redirect_uri": (
        N_("This login request cannot be accepted"),
        N_(
            "The service asked to send you back to an address it has not registered. For your security, "
            "you were not sent there. Go back to the service and contact it if this happens again."
        ),
    ),
}
_INCOMPLETE = (
    N_("This login request is incomplete"),
    N_("The link of the service that sent you here is missing information. Go back to the service and try again."),
)


def issuer_of(container: Container, tenant: Tenant) -> str:
    return discovery.issuer(container.settings.base_url, tenant.slug)


def resume_path(tenant: Tenant, flow_id: str) -> str:
    return f"/{tenant.slug}/authorize/{flow_id}"


def step_up_path(tenant: Tenant, flow_id: str) -> str:
    return f"{resume_path(tenant, flow_id)}/step-up"


# -- the authorization endpoint -------------------------------------------------------------------------


@router.api_route("/{tenant}/authorize", methods=["GET", "POST"], name="oidc_authorize")
async def authorize(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """§3.1.2.1: validate, start the flow, and answer at once when nothing is needed from the person."""
    params = await _parameters(request)
    if request.method == "POST" and _without_browser_cookie(request):
        # A cross-site POST carries no SameSite=Lax cookie: neither the session nor the browser
        # binding. The same request as a GET (a top-level navigation) carries both.
        return RedirectResponse(f"/{tenant.slug}/authorize?{urlencode(params)}", status_code=303)
    container = get_container(request)
    issuer = issuer_of(container, tenant)
    context = request_context(request)
    # Before validating: the error page of an invalid request is in the person's language too.
    _apply_ui_locales(request, tenant, next((v for n, v in params if n == "ui_locales"), "").split())
    try:
        validated, _client = await run_in_threadpool(
            lambda: validate(params, tenant_id=tenant.id, load_client=lambda cid: _find_client(container, tenant, cid))
        )
    except AuthorizationPageError as error:
        await run_in_threadpool(_record_rejection, container, tenant, error, context)
        title, message = _PAGE_ERRORS.get(error.reason, _INCOMPLETE)
        raise ErrorPage(400, f"oidc_{error.reason}", title, message) from error
    except AuthorizationError as error:
        await run_in_threadpool(_record_refusal, container, tenant, params, error, context)
        return _to_client(error.response_url(issuer))
    flow_context = AuthorizationContext(request=validated, issuer=issuer)
    flow = await run_in_threadpool(
        lambda: FlowRunner(container.uow, container.clock).start(
            AUTHORIZATION, tenant, browser_token(request), context=flow_context
        )
    )
    return await _advance(request, tenant, flow.id, starting=True, expected_state=AuthorizationState.LOGIN)


async def _parameters(request: Request) -> list[tuple[str, str]]:
    """The request's parameters as sent, repeats included (§3.1.2.1: query for GET, form for POST)."""
    if request.method == "POST":
        form = await request.form()
        items = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    else:
        items = list(request.query_params.multi_items())
    if len(items) > MAX_PARAMETERS:
        raise ErrorPage(400, "oidc_invalid_request", *_INCOMPLETE)
    return items


def _without_browser_cookie(request: Request) -> bool:
    settings = get_container(request).settings
    return request.cookies.get(csrf.cookie_name(settings)) is None


def _find_client(container: Container, tenant: Tenant, client_id: str) -> OidcClient | None:
    return container.oidc_clients.find(tenant.id, client_id)


# -- resuming, and the consent page ------------------------------------------------------------------


@router.get("/{tenant}/authorize/{flow_id}", name="oidc_authorize_resume")
async def resume(flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Back from the login (or a reload): decide again with the browser's session."""
    container = get_container(request)
    try:
        flow = await run_in_threadpool(FlowRunner(container.uow, container.clock).load, AUTHORIZATION, tenant, flow_id)
        flow.record.check_browser(browser_token(request))
    except (FlowNotFound, FlowExpired, TooManyAttempts, FlowCsrfMismatch) as error:
        raise _unavailable(error) from error
    _apply_ui_locales(request, tenant, flow.context.request.ui_locales)
    if flow.state is AuthorizationState.LOGIN:
        return await _advance(request, tenant, flow_id, expected_state=flow.state)
    if flow.state is AuthorizationState.CONSENT:
        live = await current_session(request, tenant)
        if live is not None and live.account.id == flow.context.account_id:
            return await _consent_page(request, tenant, flow, live)
        return await _advance(request, tenant, flow_id, data={"action": "restart"}, expected_state=flow.state)
    return _finished(flow)


# -- step-up: an approval in the phone app ------------------------------------------------------------


@router.get("/{tenant}/authorize/{flow_id}/step-up", name="oidc_authorize_step_up")
async def step_up_page(flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """The partner asks for eidas2, the session is eidas1: confirm with the app (or decline)."""
    found = await _step_up_situation(request, tenant, flow_id)
    if isinstance(found, Response):
        return found
    flow, client, _live = found
    return _step_up_page(request, tenant, flow, client)


@router.post("/{tenant}/authorize/{flow_id}/step-up", dependencies=[Depends(csrf_protect)])
async def step_up_submit(flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """The step-up form: "send" asks the account's app (then the waiting page, which comes back
    to the flow); "cancel" answers access_denied to the client."""
    action = (await request.form()).get("action")
    found = await _step_up_situation(request, tenant, flow_id)
    if isinstance(found, Response):
        return found
    flow, client, live = found
    if action == "cancel":
        return await _advance(
            request, tenant, flow_id, data={"action": CANCEL_STEP_UP}, expected_state=AuthorizationState.LOGIN
        )
    container = get_container(request)
    try:
        created = await run_in_threadpool(
            lambda: AppLogin(container.approvals).step_up(
                tenant,
                live.account.id,
                client.name,
                browser_token(request),
                request_context(request, live),
                client_id=client.client_id,
                acr=assurance.EIDAS2,
            )
        )
    except ApprovalRateLimited as limited:
        return _step_up_page(request, tenant, flow, client, retry_at=limited.retry_at, status_code=429)
    except ApprovalUnavailable as error:
        raise _unavailable(error) from error
    return RedirectResponse(wait_url(tenant, created.request.id, resume_path(tenant, flow_id)), status_code=303)


async def _step_up_situation(
    request: Request, tenant: Tenant, flow_id: str
) -> tuple[AuthorizationFlow, OidcClient, LiveSession] | Response:
    """The flow (this browser's, still waiting for a login at eidas2), its client and the session;
    or where to go instead (the flow's own page decides again)."""
    container = get_container(request)
    try:
        flow = await run_in_threadpool(FlowRunner(container.uow, container.clock).load, AUTHORIZATION, tenant, flow_id)
        flow.record.check_browser(browser_token(request))
    except (FlowNotFound, FlowExpired, TooManyAttempts, FlowCsrfMismatch) as error:
        raise _unavailable(error) from error
    _apply_ui_locales(request, tenant, flow.context.request.ui_locales)
    live = await current_session(request, tenant)
    asked = flow.context.request
    wants_eidas2 = assurance.requested_level(asked.acr_values, asked.claims) == assurance.EIDAS2
    if flow.state is not AuthorizationState.LOGIN or live is None or not wants_eidas2:
        return RedirectResponse(resume_path(tenant, flow_id), status_code=303)
    client = await run_in_threadpool(_find_client, container, tenant, asked.client_id)
    if client is None or not client.enabled:
        raise ErrorPage(400, "oidc_client_disabled", *_PAGE_ERRORS["client_disabled"])
    return flow, client, live


def _step_up_page(
    request: Request,
    tenant: Tenant,
    flow: AuthorizationFlow,
    client: OidcClient,
    *,
    retry_at: datetime | None = None,
    status_code: int = 200,
) -> Response:
    context = {"client_name": client.name, "form_url": step_up_path(tenant, flow.id), "retry_at": retry_at}
    return render(request, "app_login/step_up.html", context, status_code=status_code)


@router.post("/{tenant}/authorize/{flow_id}", name="oidc_authorize_consent", dependencies=[Depends(csrf_protect)])
async def consent(flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """The consent form: approve or deny."""
    action = (await request.form()).get("action")
    data = {"action": action if isinstance(action, str) else ""}
    return await _advance(request, tenant, flow_id, data=data, expected_state=AuthorizationState.CONSENT)


async def _consent_page(
    request: Request, tenant: Tenant, flow: AuthorizationFlow, live: LiveSession, *, status_code: int = 200
) -> Response:
    container = get_container(request)
    client = await run_in_threadpool(_find_client, container, tenant, flow.context.request.client_id)
    if client is None or not client.enabled:
        raise ErrorPage(400, "oidc_client_disabled", *_PAGE_ERRORS["client_disabled"])
    items = flow.context.consent_items
    return render(
        request,
        "oidc/consent.html",
        {
            "client_name": client.name,
            "items": items,
            "offline": "offline_access" in items,
            "account_email": live.account.email or live.account.display_name,
            "form_url": resume_path(tenant, flow.id),
            "switch_url": _login_url(tenant, flow, Need.FRESH_LOGIN, request),
            "errors": status_code != 200,
        },
        status_code=status_code,
    )


# -- running a step and answering ---------------------------------------------------------------------


async def _advance(
    request: Request,
    tenant: Tenant,
    flow_id: str,
    *,
    data: Mapping[str, str] | None = None,
    expected_state: AuthorizationState,
    starting: bool = False,
) -> Response:
    """Run the flow's step with the browser's session and a freshly drawn code, then answer."""
    container = get_container(request)
    live = await current_session(request, tenant)
    code = new_token()
    services = AuthorizationServices(live=live, code=code, request=request_context(request, live), starting=starting)
    try:
        result = await run_in_threadpool(
            lambda: FlowRunner(container.uow, container.clock).submit(
                AUTHORIZATION,
                tenant,
                flow_id,
                browser_token(request),
                data or {},
                expected_state=expected_state.value,
                extras={EXTRAS_KEY: services},
            )
        )
    except (FlowNotFound, FlowExpired, TooManyAttempts, FlowCsrfMismatch) as error:
        raise _unavailable(error) from error
    except FlowStateError:
        # Another tab's submit won the race (or the flow is finished): show where it is now.
        return RedirectResponse(resume_path(tenant, flow_id), status_code=303)
    return await _answer(request, tenant, result, code, live)


async def _answer(
    request: Request,
    tenant: Tenant,
    result: SubmitResult[AuthorizationState, AuthorizationContext],
    code: str,
    live: LiveSession | None,
) -> Response:
    flow, context = result.flow, result.flow.context
    need = result.errors.get(NEED)
    if need == Need.CONFIRMED_EMAIL and live is not None:
        return _confirm_email_page(request, tenant, flow, live)
    if need == Need.STEP_UP and live is not None and _step_up_to_eidas2(flow):
        return RedirectResponse(step_up_path(tenant, flow.id), status_code=303)
    if need is not None:
        return RedirectResponse(_login_url(tenant, flow, Need(need), request), status_code=303)
    if result.errors and flow.state is AuthorizationState.CONSENT and live is not None:
        return await _consent_page(request, tenant, flow, live, status_code=400)
    if flow.state is AuthorizationState.DONE and context.code_hash == hash_token(code):
        return _to_client(success_url(context.request, code, context.issuer))
    if flow.state is AuthorizationState.FAILED:
        return _to_client(_error_url(context))
    if flow.state is AuthorizationState.DONE:
        return _finished(flow)
    # CONSENT to show, or back to LOGIN: the resume page takes it from there.
    return RedirectResponse(resume_path(tenant, flow.id), status_code=303)


def _to_client(url: str) -> Response:
    """The answer at the client's redirect URI (§3.1.2.5, §3.1.2.6); a code is kept by no cache."""
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _error_url(context: AuthorizationContext) -> str:
    asked = context.request
    error = AuthorizationError(
        context.error or SERVER_ERROR,
        context.error_description or "",
        redirect_uri=asked.redirect_uri,
        state=asked.state,
    )
    return error.response_url(context.issuer)


def _login_url(tenant: Tenant, flow: AuthorizationFlow, need: Need, request: Request) -> str:
    """The login page, coming back here; ``prompt=login`` when a login made for this request is needed."""
    asked = flow.context.request
    query: list[tuple[str, str]] = [("return_to", resume_path(tenant, flow.id))]
    if asked.login_hint:
        query.append(("login_hint", asked.login_hint))
    if need in (Need.FRESH_LOGIN, Need.STEP_UP):
        query.append(("prompt", "login"))
    if need is Need.STEP_UP:
        level = assurance.requested_level(asked.acr_values, asked.claims)
        query.append(("acr_values", level or ""))
    locale = _ui_locale(request, tenant, asked.ui_locales)
    if locale is not None:
        query.append((i18n.LANG_QUERY, locale))
    return f"/{tenant.slug}/login?{urlencode(query)}"


def _step_up_to_eidas2(flow: AuthorizationFlow) -> bool:
    """The level missing is eidas2: the phone app reaches it (sesame.oidc.interaction says the
    account can), the password login would not."""
    asked = flow.context.request
    return assurance.requested_level(asked.acr_values, asked.claims) == assurance.EIDAS2


def _confirm_email_page(request: Request, tenant: Tenant, flow: AuthorizationFlow, live: LiveSession) -> Response:
    """The client takes only confirmed addresses: say how to confirm, then come back here."""
    email = live.account.email or ""
    return render(
        request,
        "oidc/confirm_email.html",
        {
            "email": email,
            "resend_url": f"/{tenant.slug}/confirm-email/resend?{urlencode({'email': email})}",
            "continue_url": resume_path(tenant, flow.id),
        },
        status_code=403,
    )


def _finished(flow: AuthorizationFlow) -> Response:
    """DONE (the code went back already; it is never sent twice) or FAILED (the error again)."""
    if flow.state is AuthorizationState.FAILED:
        return _to_client(_error_url(flow.context))
    raise ErrorPage(
        409,
        "oidc_authorization_finished",
        N_("This login is already finished"),
        N_("You were already sent back to the service. Go back to it to continue."),
    )


def _unavailable(error: Exception) -> ErrorPage:
    log.info("oidc.authorize.unavailable", reason=type(error).__name__)
    if isinstance(error, FlowCsrfMismatch):
        return ErrorPage(
            403,
            "oidc_other_browser",
            N_("This page was opened in another browser"),
            N_("For your security, a login is finished in the browser where it began. Go back to the service."),
        )
    return ErrorPage(
        410,
        "oidc_authorization_expired",
        N_("This login request has expired"),
        N_("For your security, a login request stays open for a limited time. Go back to the service and start again."),
    )


# -- languages (ui_locales) ----------------------------------------------------------------------------


def _ui_locale(request: Request, tenant: Tenant, ui_locales: Sequence[str]) -> str | None:
    """The first of the request's ``ui_locales`` the tenant offers (a ``?lang=`` of the page wins)."""
    if i18n.requested_language(request) is not None:
        return None
    available = i18n.available_locales(tenant.policy.languages)
    for tag in ui_locales[:LIST_MAX]:
        primary = tag.split("-", 1)[0].lower()
        if primary in available:
            return primary
    return None


def _apply_ui_locales(request: Request, tenant: Tenant, ui_locales: Sequence[str]) -> None:
    locale = _ui_locale(request, tenant, ui_locales)
    if locale is not None:
        i18n.apply_locale(request, locale)


# -- audit of refused requests -------------------------------------------------------------------------


def _record_refusal(
    container: Container,
    tenant: Tenant,
    params: Sequence[tuple[str, str]],
    error: AuthorizationError,
    context: RequestContext,
) -> None:
    client_id = next((value for name, value in params if name == "client_id"), "")
    AuditService(container.uow, container.clock).record(
        "oidc.authorization.refused",
        tenant_id=tenant.id,
        actor=context.actor,
        subject=f"client:{client_id[:64]}",
        ip=context.ip,
        correlation_id=context.correlation_id,
        details={"error": error.error, "description": error.description},
    )


def _record_rejection(
    container: Container, tenant: Tenant, error: AuthorizationPageError, context: RequestContext
) -> None:
    """A known client's request with a bad redirect URI is worth an audit event; unknown clients only a log line."""
    log.info("oidc.authorize.rejected", reason=error.reason, tenant=tenant.slug)
    if error.client_id is None:
        return
    AuditService(container.uow, container.clock).record(
        "oidc.authorization.rejected",
        tenant_id=tenant.id,
        actor=context.actor,
        subject=f"client:{error.client_id}",
        ip=context.ip,
        correlation_id=context.correlation_id,
        details={"reason": error.reason},
    )

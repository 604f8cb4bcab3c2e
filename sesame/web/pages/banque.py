"""Pages of customer-number tenants (the bank): keypad login, "secure my access", a new code by post.

``/{tenant}/login`` starts the keypad login flow for these tenants (the login page dispatches
here); the flow lives at ``/{tenant}/keypad-login/{id}``. ``/{tenant}/secure-access`` blocks the
access (logged in: one button; otherwise the keypad proves who asks), and ``/{tenant}/recovery``
(the recovery page dispatches here) sends a new one-time code by post. The journeys' logic is
in the flow and in ``sesame.services.banque``; these routes only translate HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.customer_numbers import INPUT_MAX, normalize_customer_number, number_problem
from sesame.domain.keypad import draw_layout
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.flows.base import Flow, FlowRunner
from sesame.flows.keypad_login.flow import KEYPAD_LOGIN
from sesame.flows.keypad_login.states import KeypadIntent, KeypadLoginContext, KeypadLoginState
from sesame.flows.keypad_login.steps import EXTRAS_KEY, KeypadServices
from sesame.methods.keypad.codes import KeypadCodeHasher
from sesame.methods.keypad.login import KeypadAuthenticator
from sesame.methods.keypad.recovery_codes import RecoveryCodes
from sesame.services.banque import BankCustomers
from sesame.services.sessions import SESSION_TOKEN_BYTES, session_id_of
from sesame.web.csrf import browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant, local_path
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.pages.flows import FlowPage, mount_flow
from sesame.web.session import (
    clear_session_cookie,
    current_session,
    request_context,
    session_token,
    set_session_cookie,
)
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

FLOW_PATH = "keypad-login"
SECURE_PATH = "secure-access"
RECOVERY_PATH = "recovery"
#: A return_to longer than this is not a page of ours worth coming back to.
RETURN_TO_MAX = 2048


# -- services ---------------------------------------------------------------------------------------


def bank_customers(container: Container) -> BankCustomers:
    return BankCustomers(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        container.settings.base_url,
        logouts=container.backchannel_logouts,
    )


def keypad_authenticator(container: Container) -> KeypadAuthenticator:
    return KeypadAuthenticator(
        container.uow,
        container.clock,
        container.counters,
        KeypadCodeHasher(container.hasher, container.keyed),
        RecoveryCodes(container.keyed),
    )


def uses_keypad(tenant: Tenant) -> bool:
    return tenant.policy.identifier is IdentifierKind.CUSTOMER_NUMBER


def _require_keypad(tenant: Tenant) -> None:
    if not uses_keypad(tenant):
        raise ErrorPage(
            404,
            "not_offered",
            N_("This is not possible with this service"),
            N_("This page belongs to services whose customers log in with a customer number."),
            action_url=f"/{tenant.slug}",
            action_label=N_("Back to the home page"),
        )


def account_url(tenant: Tenant) -> str:
    return f"/{tenant.slug}/account"


def _return_to(request: Request) -> str | None:
    raw = request.query_params.get("return_to")
    if not raw or len(raw) > RETURN_TO_MAX:
        return None
    return local_path(raw)


# -- the keypad login flow ------------------------------------------------------------------------------


async def start_keypad_login(
    request: Request,
    tenant: Tenant,
    *,
    return_to: str | None,
    intent: KeypadIntent = KeypadIntent.LOGIN,
    customer_number: str = "",
) -> Response:
    """Start a keypad login (or "secure my access") flow with its first layout; go to its page."""
    _require_keypad(tenant)
    container = get_container(request)
    context = KeypadLoginContext(intent=intent, layout=draw_layout(), customer_number=customer_number)
    flow = await run_in_threadpool(
        lambda: FlowRunner(container.uow, container.clock).start(
            KEYPAD_LOGIN, tenant, browser_token(request), context=context, return_to=return_to
        )
    )
    return RedirectResponse(f"/{tenant.slug}/{FLOW_PATH}/{flow.id}", status_code=303)


def _extras(request: Request, tenant: Tenant) -> Mapping[str, Any]:
    container = get_container(request)
    return {
        EXTRAS_KEY: KeypadServices(
            authenticator=keypad_authenticator(container),
            customers=bank_customers(container),
            keyed=container.keyed,
            request=request_context(request),
            # Drawn now, so that this page can set the cookie of the session the step opens.
            session_token=secrets.token_urlsafe(SESSION_TOKEN_BYTES),
            previous_session_token=session_token(request, tenant),
        )
    }


async def _after_step(
    request: Request, tenant: Tenant, flow: Flow[Any, Any], extras: Mapping[str, Any]
) -> Response | None:
    """Once DONE: set the session cookie and go on; once SECURED: forget this browser's session."""
    settings = get_container(request).settings
    if flow.state is KeypadLoginState.SECURED:
        response = RedirectResponse(f"/{tenant.slug}/{FLOW_PATH}/{flow.id}", status_code=303)
        clear_session_cookie(response, settings, tenant)
        return response
    if flow.state is not KeypadLoginState.DONE:
        return None
    services = extras[EXTRAS_KEY]
    assert isinstance(services, KeypadServices)
    response = RedirectResponse(flow.record.return_to or account_url(tenant), status_code=303)
    # Only the submit whose step opened the session has its token (a double click must not
    # replace the cookie by one that opens nothing).
    if flow.context.session_id == session_id_of(services.session_token):
        set_session_cookie(response, settings, tenant, services.session_token)
    return response


@router.get(f"/{{tenant}}/{FLOW_PATH}", name="keypad_login_start")
async def start(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """The keypad login's own start ("start again" links); ``/{tenant}/login`` comes here too."""
    _require_keypad(tenant)
    return_to = _return_to(request)
    # ``?prompt=login``: a login made now is asked for (OpenID Connect), even from a logged-in browser.
    fresh = request.query_params.get("prompt") == "login"
    if not fresh and await current_session(request, tenant) is not None:
        return RedirectResponse(return_to or account_url(tenant), status_code=303)
    return await start_keypad_login(request, tenant, return_to=return_to, customer_number=_login_hint(request))


def _login_hint(request: Request) -> str:
    """``?login_hint=`` (OpenID Connect) prefills the customer number, when it is one."""
    hint = request.query_params.get("login_hint", "")
    return normalize_customer_number(hint) if number_problem(hint) is None else ""


mount_flow(router, FlowPage(KEYPAD_LOGIN, FLOW_PATH, extras=_extras, after_step=_after_step))
# The start is ours (above); the generic one mount_flow adds at the same path is never reached.
router.routes[:] = [route for route in router.routes if getattr(route, "name", None) != "flow_keypad_login_start"]


# -- "secure my access" -----------------------------------------------------------------------------------


@router.get(f"/{{tenant}}/{SECURE_PATH}", name="secure_access")
async def secure_access_page(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Logged in: one button blocks the access. Otherwise: the keypad proves who asks first."""
    _require_keypad(tenant)
    live = await current_session(request, tenant)
    if live is None:
        return await start_keypad_login(request, tenant, return_to=None, intent=KeypadIntent.SECURE)
    return render(request, "banque/secure_access.html", {"action_url": f"/{tenant.slug}/{SECURE_PATH}"})


@router.post(f"/{{tenant}}/{SECURE_PATH}", name="secure_access_confirm")
async def secure_access(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Block the access now: every session ends (this one too), a new code goes by post."""
    _require_keypad(tenant)
    live = await current_session(request, tenant)
    if live is None:
        return RedirectResponse(f"/{tenant.slug}/{SECURE_PATH}", status_code=303)
    container = get_container(request)
    secured = await run_in_threadpool(
        bank_customers(container).secure_access_now, tenant, live.account.id, request_context(request, live)
    )
    response = render(request, "banque/secured.html", {"letter_sent": secured.letter_sent})
    clear_session_cookie(response, container.settings, tenant)
    return response


# -- a new code by post ("I forgot my code") ---------------------------------------------------------------


async def recovery_page(request: Request, tenant: Tenant) -> Response:
    """The recovery page of customer-number tenants (``GET /{tenant}/recovery`` dispatches here)."""
    _require_keypad(tenant)
    sent = request.query_params.get("sent") == "1"
    return _recovery(request, tenant, sent=sent)


def _recovery(
    request: Request,
    tenant: Tenant,
    *,
    sent: bool = False,
    number: str = "",
    error: str | None = None,
    retry_at: datetime | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "sent": sent,
        "number": number,
        "error": error,
        "retry_at": retry_at,
        "action_url": f"/{tenant.slug}/{RECOVERY_PATH}",
        "secure_url": f"/{tenant.slug}/{SECURE_PATH}",
        "login_url": f"/{tenant.slug}/login",
    }
    return render(request, "banque/recovery.html", context, status_code=status_code)


@router.post(f"/{{tenant}}/{RECOVERY_PATH}", name="recovery_by_post")
async def request_code_by_post(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Send a new one-time code by post if the number is a customer's; the answer never tells."""
    _require_keypad(tenant)
    form = await request.form()
    typed = form.get("customer_number")
    typed = typed[:INPUT_MAX].strip() if isinstance(typed, str) else ""
    problem = number_problem(typed)
    if problem is not None:
        return _recovery(request, tenant, number=typed, error=f"number_{problem.value}", status_code=400)
    service = bank_customers(get_container(request))
    retry_at = await run_in_threadpool(service.request_code_by_post, tenant, typed, request_context(request))
    if retry_at is not None:
        return _recovery(request, tenant, number=typed, error="throttled", retry_at=retry_at, status_code=429)
    return RedirectResponse(f"/{tenant.slug}/{RECOVERY_PATH}?sent=1", status_code=303)

"""Pages: login (the login flow), logout, and the way on for people already logged in.

``GET /{tenant}/login`` starts the login flow (``?return_to=`` kept, ``?login_hint=`` prefills
the identifier), or sends a logged-in person on at once (unless ``?prompt=login`` asks for a
new login). The flow's last step opens the session with a token drawn here beforehand; this
page then sets the cookie. Where the tenant offers passkeys, a new flow carries a WebAuthn
challenge for "log in with a passkey" and the identifier field's autofill of passkeys
(``static/js/webauthn.js``); the second factor after a password is a state of the same flow.
Where the tenant offers the phone app, "Use the Digital Identity" leads to its login
(``pages/app_login.py``) with the same ``return_to``.
Logging out is a POST with the CSRF token that ends the session on the server;
``GET /{tenant}/logout`` only shows the button, so that a link on another site cannot log
anyone out.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.factors import FactorKind
from sesame.domain.tenants import CredentialKind, IdentifierKind, Tenant
from sesame.flows.base import Flow, FlowRunner
from sesame.flows.login.flow import LOGIN
from sesame.flows.login.states import LoginContext, LoginState
from sesame.flows.login.steps import EXTRAS_KEY, IDENTIFIER_MAX, LoginServices
from sesame.oidc.logout import SessionLogout
from sesame.services.context import RequestContext
from sesame.services.devices import offers_app
from sesame.services.password_change import PasswordChangeService
from sesame.services.sessions import SESSION_TOKEN_BYTES, LiveSession, session_id_of
from sesame.services.throttling import Throttle
from sesame.web.csrf import browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant, local_path
from sesame.web.pages import banque
from sesame.web.pages.app_login import app_login_url
from sesame.web.pages.flows import FlowPage, mount_flow
from sesame.web.session import (
    clear_session_cookie,
    current_session,
    login_url,
    request_context,
    session_token,
    set_session_cookie,
)
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

FLOW_PATH = "login"
#: A return_to longer than this is not a page of ours worth coming back to.
RETURN_TO_MAX = 2048
#: The query parameter the tenant home reads to say "you are logged out".
LOGGED_OUT_QUERY = "logged_out"


def account_url(tenant: Tenant) -> str:
    return f"/{tenant.slug}/account"


def offers_password_login(tenant: Tenant) -> bool:
    """Email and password tenants only (customer-number tenants log in on a keypad: pages/banque.py)."""
    policy = tenant.policy
    return policy.identifier is IdentifierKind.EMAIL and CredentialKind.PASSWORD in policy.credentials


def offers_passkey_login(tenant: Tenant) -> bool:
    """Passkeys are one of the tenant's second factors: they may also replace the password."""
    return offers_password_login(tenant) and FactorKind.PASSKEY.value in tenant.policy.mfa.second_factors


def app_login_link(tenant: Tenant, return_to: str | None, *, fresh_login: bool = False) -> str:
    """The login page's "Use the Digital Identity" (seed 000): the phone app's login, which
    comes back to the same ``return_to`` (an OpenID Connect interaction resumes after it), and
    asks for a new login too when this one was asked with ``prompt=login``; "" where the
    tenant does not offer the app."""
    if not offers_app(tenant):
        return ""
    url = app_login_url(tenant, return_to)
    return f"{url}{'&' if '?' in url else '?'}prompt=login" if fresh_login else url


def _return_to(request: Request) -> str | None:
    raw = request.query_params.get("return_to")
    if not raw or len(raw) > RETURN_TO_MAX:
        return None
    return local_path(raw)  # never another site: //evil.example becomes /evil.example


def _fresh_login_asked(request: Request) -> bool:
    """``?prompt=login``: the authorization endpoint needs a login made now (OpenID Connect
    prompt=login, an exceeded max_age), so the form is shown even to a logged-in person."""
    return request.query_params.get("prompt") == "login"


def _login_hint(request: Request) -> str:
    hint = request.query_params.get("login_hint", "").strip()
    return hint if len(hint) <= IDENTIFIER_MAX and hint.isprintable() else ""


# -- the login flow ---------------------------------------------------------------------------------


def _password_changes(container: Container) -> PasswordChangeService:
    return PasswordChangeService(
        container.uow,
        container.clock,
        container.hasher,
        container.password_rules,
        base_url=container.settings.base_url,
        logouts=container.backchannel_logouts,
    )


def _extras(request: Request, tenant: Tenant) -> Mapping[str, Any]:
    container = get_container(request)
    return {
        EXTRAS_KEY: LoginServices(
            authenticator=container.authenticator,
            tokens=container.tokens,
            passwords=_password_changes(container),
            resend_throttle=Throttle(container.counters, container.clock),
            factors=container.factors,
            request=request_context(request),
            base_url=container.settings.base_url.rstrip("/"),
            # Drawn now, so that this page can set the cookie of the session the step opens.
            session_token=secrets.token_urlsafe(SESSION_TOKEN_BYTES),
            previous_session_token=session_token(request, tenant),
        )
    }


async def _after_step(
    request: Request, tenant: Tenant, flow: Flow[Any, Any], extras: Mapping[str, Any]
) -> Response | None:
    """Once DONE: set the session cookie and go where the person was going."""
    if flow.state is not LoginState.DONE:
        return None
    services = extras[EXTRAS_KEY]
    assert isinstance(services, LoginServices)
    response = RedirectResponse(flow.record.return_to or account_url(tenant), status_code=303)
    # Only the submit whose step opened the session has its token: a second submit of a
    # finished flow (a double click) must not replace the cookie by one that opens nothing.
    if flow.context.session_id == session_id_of(services.session_token):
        set_session_cookie(response, get_container(request).settings, tenant, services.session_token)
    return response


LOGIN_PAGE = FlowPage(LOGIN, FLOW_PATH, extras=_extras, after_step=_after_step)


@router.get(f"/{{tenant}}/{FLOW_PATH}", name="login")
async def start(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Start a login, unless the tenant has no password login or the person is logged in already."""
    if banque.uses_keypad(tenant):  # customer-number tenants (the bank): the keypad login flow
        return await banque.start(request, tenant)
    if not offers_password_login(tenant):
        keypad = tenant.policy.identifier is IdentifierKind.CUSTOMER_NUMBER
        return render(request, "login/unavailable.html", {"keypad": keypad})
    return_to, fresh_login = _return_to(request), _fresh_login_asked(request)
    if not fresh_login and await current_session(request, tenant) is not None:
        return RedirectResponse(return_to or account_url(tenant), status_code=303)
    container = get_container(request)
    context = LoginContext(
        identifier=_login_hint(request), app_login_url=app_login_link(tenant, return_to, fresh_login=fresh_login)
    )
    if offers_passkey_login(tenant):  # the login page's "log in with a passkey", and its autofill
        challenge = container.factors.passwordless_challenge(tenant)
        context.passkey_challenge, context.passkey_options = challenge.value, challenge.options_json
    flow = await run_in_threadpool(
        lambda: FlowRunner(container.uow, container.clock).start(
            LOGIN, tenant, browser_token(request), context=context, return_to=return_to
        )
    )
    return RedirectResponse(f"/{tenant.slug}/{FLOW_PATH}/{flow.id}", status_code=303)


mount_flow(router, LOGIN_PAGE)
# Starting is ours (above: logged-in people and keypad tenants are sent elsewhere first); the
# generic start that mount_flow adds at the same path would never be reached: drop it.
router.routes[:] = [route for route in router.routes if getattr(route, "name", None) != f"flow_{LOGIN.kind}_start"]


# -- logout -------------------------------------------------------------------------------------------


@router.get("/{tenant}/logout", name="logout_confirm")
async def logout_page(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """A button, not an action: only the POST logs out (no cross-site logout by a link)."""
    live = await current_session(request, tenant)
    return render(
        request,
        "login/logout.html",
        {
            "logged_in": live is not None,
            "logout_url": f"/{tenant.slug}/logout",
            "account_url": account_url(tenant),
            "login_url": login_url(tenant),
        },
    )


@router.post("/{tenant}/logout", name="logout")
async def logout(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """End this browser's session on the server, clear its cookie, say so on the tenant's home."""
    live = await current_session(request, tenant)
    container = get_container(request)
    if live is not None:
        context = request_context(request, live)
        await run_in_threadpool(_end_session, container, tenant, live, context)
    response = RedirectResponse(f"/{tenant.slug}?{LOGGED_OUT_QUERY}=1", status_code=303)
    clear_session_cookie(response, container.settings, tenant)
    return response


def _end_session(container: Container, tenant: Tenant, live: LiveSession, context: RequestContext) -> None:
    # With its OpenID Connect side: the session's online grants revoked, back-channel logouts queued.
    SessionLogout(container.uow, container.clock, container.backchannel_logouts).end(
        tenant, live.session, context, via="logout"
    )

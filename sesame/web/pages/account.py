"""Pages: the account page ``/{tenant}/account`` ("Mon compte → Paramètres → Mes informations").

The profile, the marketing consents, the active sessions ("end this session", "end all
others"), and the password and email changes, which are flows (``/account/password``,
``/account/email``). The link sent to a new address (``/account/email/confirm``) works from
any browser, logged in or not. Routes only translate HTTP to the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.tenants import CredentialKind, IdentifierKind, Tenant
from sesame.flows.email_change import steps as email_steps
from sesame.flows.email_change.flow import EMAIL_CHANGE
from sesame.flows.email_change.states import EmailChangeContext
from sesame.flows.settings import steps as settings_steps
from sesame.flows.settings.flow import SETTINGS
from sesame.flows.settings.states import SettingsContext
from sesame.services.consents import ConsentService
from sesame.services.email_change import EmailChange, EmailChangeStatus
from sesame.services.password_change import PasswordChangeService
from sesame.services.sessions import LiveSession
from sesame.services.settings import AccountSettings
from sesame.web.csrf import csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.pages.flows import FlowPage, mount_flow
from sesame.web.session import LoginRequired, current_session, request_context, require_login
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

#: Notices the account page shows after a redirect (``?notice=``); anything else shows nothing.
NOTICES = frozenset({"consents_saved", "session_ended", "others_ended", "service_withdrawn"})
#: Form values of a ticked consent box.
TICKED = "yes"
_STATE_KEY = "account_session"


# -- services and guards -----------------------------------------------------------------------------


def account_settings(container: Container) -> AccountSettings:
    return AccountSettings(
        container.uow,
        container.clock,
        hasher=container.hasher,
        rules=container.password_rules,
        counters=container.counters,
        keyed=container.keyed,
    )


def consents(container: Container) -> ConsentService:
    return ConsentService(container.uow, container.clock)


def email_change(container: Container) -> EmailChange:
    return EmailChange(container.uow, container.clock, container.tokens, base_url=container.settings.base_url)


def password_change(container: Container) -> PasswordChangeService:
    return PasswordChangeService(
        container.uow,
        container.clock,
        container.hasher,
        container.password_rules,
        base_url=container.settings.base_url,
        logouts=container.backchannel_logouts,
    )


def account_url(tenant: Tenant, notice: str | None = None, anchor: str = "") -> str:
    return f"/{tenant.slug}/account" + (f"?notice={notice}" if notice else "") + (f"#{anchor}" if anchor else "")


async def account_session(request: Request, tenant: Tenant = Depends(get_tenant)) -> LiveSession:
    """:func:`require_login` for pages and forms: a form sent while logged out comes back, after
    the login, to the account page (a form's URL cannot be opened with GET)."""
    if request.method in {"GET", "HEAD"}:
        live = await require_login(request, tenant)
    else:
        found = await current_session(request, tenant)
        if found is None:
            raise LoginRequired(tenant, account_url(tenant))
        live = found
    setattr(request.state, _STATE_KEY, live)
    return live


def _not_here(message: str) -> ErrorPage:
    return ErrorPage(
        404,
        "not_offered",
        N_("This is not possible with this service"),
        message,
    )


async def uses_passwords(tenant: Tenant = Depends(get_tenant)) -> None:
    """The password change exists only where people log in with a password."""
    if CredentialKind.PASSWORD not in tenant.policy.credentials:
        raise _not_here(N_("This service uses its own login, without a password to change here."))


async def uses_email(tenant: Tenant = Depends(get_tenant)) -> None:
    """The email change exists only where people log in with their email address."""
    if tenant.policy.identifier is not IdentifierKind.EMAIL:
        raise _not_here(N_("This service uses its own login: its email address cannot be changed here."))


_private = APIRouter(dependencies=[Depends(account_session)])
_public = APIRouter()


# -- the account page --------------------------------------------------------------------------------


@_private.get("/{tenant}/account", response_class=HTMLResponse, name="account")
async def account_page(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> HTMLResponse:
    """Profile, consents, sessions, connected services, and the way to every change."""
    container = get_container(request)
    overview = await run_in_threadpool(account_settings(container).overview, tenant, live)
    connected = await run_in_threadpool(consents(container).connected_services, live.account.id)
    notice = request.query_params.get("notice", "")
    return render(
        request,
        "account/index.html",
        {
            "overview": overview,
            "profile": overview.profile,
            "notice": notice if notice in NOTICES else "",
            "offers_password": CredentialKind.PASSWORD in tenant.policy.credentials,
            "offers_email": tenant.policy.identifier is IdentifierKind.EMAIL,
            "connected_services": connected,
        },
    )


def _consent(value: object) -> bool:
    """A ticked box sends "yes", an unticked one nothing; anything else is not our form."""
    if value is None:
        return False
    if value != TICKED:
        raise ErrorPage(
            400,
            "bad_request",
            N_("The information sent could not be used"),
            N_("Check what you typed, then send the form again."),
        )
    return True


@_private.post("/{tenant}/account/consents", name="account_consents")
async def save_consents(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    form = await request.form()
    marketing_email, marketing_partners = (
        _consent(form.get("marketing_email")),
        _consent(form.get("marketing_partners")),
    )
    settings, context = account_settings(get_container(request)), request_context(request, live)
    await run_in_threadpool(
        lambda: settings.set_consents(
            tenant, live, marketing_email=marketing_email, marketing_partners=marketing_partners, context=context
        )
    )
    return RedirectResponse(account_url(tenant, "consents_saved", "consents"), status_code=303)


@_private.post("/{tenant}/account/sessions/end", name="account_end_session")
async def end_session(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    """End one other session; an unknown one gets the same answer (nothing to learn here)."""
    handle = (await request.form()).get("session")
    settings, context = account_settings(get_container(request)), request_context(request, live)
    if isinstance(handle, str):
        await run_in_threadpool(settings.end_session, tenant, live, handle, context)
    return RedirectResponse(account_url(tenant, "session_ended", "sessions"), status_code=303)


@_private.post("/{tenant}/account/sessions/end-others", name="account_end_other_sessions")
async def end_other_sessions(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    settings, context = account_settings(get_container(request)), request_context(request, live)
    await run_in_threadpool(settings.end_other_sessions, tenant, live, context)
    return RedirectResponse(account_url(tenant, "others_ended", "sessions"), status_code=303)


@_private.post("/{tenant}/account/services/withdraw", name="account_withdraw_service")
async def withdraw_service(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    """Withdraw a connected service's consent: its grants (and tokens) for this account are revoked."""
    client_id = (await request.form()).get("client_id")
    if isinstance(client_id, str) and 0 < len(client_id) <= 64:
        service, context = consents(get_container(request)), request_context(request, live)
        await run_in_threadpool(service.withdraw, tenant.id, live.account.id, client_id, context)
    return RedirectResponse(account_url(tenant, "service_withdrawn", "services"), status_code=303)


# -- the link sent to a new address (any browser) --------------------------------------------------------


@_public.get("/{tenant}/account/email/confirm", response_class=HTMLResponse, name="account_email_confirm")
async def email_confirm_page(
    request: Request, tenant: Tenant = Depends(get_tenant), _email: None = Depends(uses_email)
) -> HTMLResponse:
    """Ask for one click before changing anything: mail scanners open links, people press buttons."""
    token = request.query_params.get("token", "")
    new_email = await run_in_threadpool(email_change(get_container(request)).pending_link, tenant, token)
    context = {
        "token": token if new_email else "",
        "new_email": new_email,
        "status": "pending" if new_email else "invalid",
        "logged_in": False,
    }
    return render(request, "account/email_confirm.html", context, status_code=200 if new_email else 410)


@_public.post("/{tenant}/account/email/confirm", response_class=HTMLResponse, name="account_email_confirm_submit")
async def email_confirm(
    request: Request, tenant: Tenant = Depends(get_tenant), _email: None = Depends(uses_email)
) -> HTMLResponse:
    token = (await request.form()).get("token")
    live = await current_session(request, tenant)
    context = request_context(request, live)
    service = email_change(get_container(request))
    status = (
        await run_in_threadpool(service.confirm_link, tenant, token, context)
        if isinstance(token, str)
        else EmailChangeStatus.INVALID
    )
    codes = {EmailChangeStatus.CHANGED: 200, EmailChangeStatus.TAKEN: 409}
    return render(
        request,
        "account/email_confirm.html",
        {"token": "", "new_email": None, "status": status.value, "logged_in": live is not None},
        status_code=codes.get(status, 410),
    )


# -- the password and email changes (flows) ---------------------------------------------------------------


def _flow_extras(request: Request, tenant: Tenant) -> Mapping[str, Any]:
    """What the settings and email change steps use (the session was resolved by the route's guard)."""
    container = get_container(request)
    live: LiveSession = getattr(request.state, _STATE_KEY)
    return {
        settings_steps.LIVE: live,
        settings_steps.CONTEXT: request_context(request, live),
        settings_steps.SETTINGS: account_settings(container),
        settings_steps.PASSWORD_CHANGE: password_change(container),
        email_steps.EMAIL_CHANGE: email_change(container),
    }


async def _password_start(request: Request, tenant: Tenant) -> BaseModel:
    live: LiveSession = getattr(request.state, _STATE_KEY)
    return SettingsContext(account_id=live.account.id)


async def _email_start(request: Request, tenant: Tenant) -> BaseModel:
    live: LiveSession = getattr(request.state, _STATE_KEY)
    return EmailChangeContext(account_id=live.account.id)


_password_flow = APIRouter(dependencies=[Depends(account_session), Depends(uses_passwords)])
_email_flow = APIRouter(dependencies=[Depends(account_session), Depends(uses_email)])
mount_flow(_password_flow, FlowPage(SETTINGS, "account/password", extras=_flow_extras, start_context=_password_start))
mount_flow(_email_flow, FlowPage(EMAIL_CHANGE, "account/email", extras=_flow_extras, start_context=_email_start))

# The link's fixed path first: it must win over the email flow's /account/email/{flow_id}.
for _sub in (_public, _private, _password_flow, _email_flow):
    router.include_router(_sub)

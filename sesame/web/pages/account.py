"""Pages: the account page ``/{tenant}/account`` ("Mon compte → Paramètres → Mes informations").

The profile, the marketing consents, the active sessions ("end this session", "end all
others"), the second factors (an authenticator app, passkeys, recovery codes), the digital
identity (its status or the enrolment under way, the phone app's devices) and the registered
letters, and the password, email and factor changes, which are flows (``/account/password``,
``/account/email``, ``/account/factors/new/{kind}`` and ``/account/factors/remove/{id}``;
removing a phone app device, ``POST /account/devices/remove``, is the factors flow too: a
fresh authentication first).
The link sent to a new address (``/account/email/confirm``) works from any browser, logged in
or not. Routes only translate HTTP to the services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.devices import Device
from sesame.domain.errors import FlowExpired, FlowNotFound, TooManyAttempts
from sesame.domain.factors import FactorKind, offered_kinds
from sesame.domain.identity import ProofingCase, VerifiedIdentity, stage_of
from sesame.domain.registered_letters import LetterStatus
from sesame.domain.tenants import CredentialKind, IdentifierKind, Tenant
from sesame.flows.base import Flow, FlowRunner
from sesame.flows.email_change import steps as email_steps
from sesame.flows.email_change.flow import EMAIL_CHANGE
from sesame.flows.email_change.states import EmailChangeContext
from sesame.flows.factors import steps as factor_steps
from sesame.flows.factors.flow import FACTORS
from sesame.flows.factors.states import FactorIntent, FactorsContext, FactorsState
from sesame.flows.settings import steps as settings_steps
from sesame.flows.settings.flow import SETTINGS
from sesame.flows.settings.states import SettingsContext
from sesame.services.consents import ConsentService
from sesame.services.devices import offers_app
from sesame.services.email_change import EmailChange, EmailChangeStatus
from sesame.services.password_change import PasswordChangeService
from sesame.services.sessions import LiveSession
from sesame.services.settings import AccountSettings
from sesame.web.csrf import browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.pages.flows import FlowPage, mount_flow
from sesame.web.pages.identity import progress
from sesame.web.session import LoginRequired, current_session, request_context, require_login
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

#: Notices the account page shows after a redirect (``?notice=``); anything else shows nothing.
NOTICES = frozenset({"consents_saved", "session_ended", "others_ended", "service_withdrawn", "factor_unavailable"})
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
    return ConsentService(container.uow, container.clock, logouts=container.backchannel_logouts)


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


def offers_factors(tenant: Tenant) -> bool:
    """Second factors are managed here where the login flow asks for them: password logins
    (the bank's keypad login has its own flow), and only the kinds the tenant's policy names."""
    policy = tenant.policy
    password_login = policy.identifier is IdentifierKind.EMAIL and CredentialKind.PASSWORD in policy.credentials
    return password_login and bool(offered_kinds(policy.mfa))


async def uses_devices(tenant: Tenant = Depends(get_tenant)) -> None:
    """The phone app's devices are managed here where the tenant offers the app."""
    if not offers_app(tenant):
        raise _not_here(N_("This service does not offer the phone app."))


async def uses_factors_flow(tenant: Tenant = Depends(get_tenant)) -> None:
    """The factors flow serves second factors and the phone app's devices."""
    if not (offers_factors(tenant) or offers_app(tenant)):
        raise _not_here(N_("This service does not offer second factors."))


# -- the digital identity and the registered letters, as the account page shows them -----------------


@dataclass(frozen=True, slots=True)
class IdentitySection:
    """The "Digital identity" section: the verified identity, or the enrolment under way (with its
    place in seed 001's progress bar), or the way to start one; and the phone app's devices."""

    enrolment_offered: bool
    app_offered: bool
    identity: VerifiedIdentity | None
    case: ProofingCase | None
    last_closed: ProofingCase | None
    #: The open case's stage: its number (from 1), the number of stages, its name.
    stage: tuple[int, int, str] | None
    devices: Sequence[Device]


def identity_section(container: Container, tenant: Tenant, account_id: int) -> IdentitySection | None:
    """None where the tenant offers neither a digital identity nor the phone app."""
    enrolment, app = tenant.policy.identity.enabled, offers_app(tenant)
    if not (enrolment or app):
        return None
    overview = container.proofing.overview(tenant, account_id)
    devices = [d for d in container.devices.devices_of(account_id) if d.tenant_id == tenant.id]
    case = overview.case if overview.identity is None else None
    stage = None
    if case is not None:
        stages = progress(stage_of(case.status))
        current = next(index for index, item in enumerate(stages) if item["state"] == "current")
        stage = (current + 1, len(stages), stages[current]["label"])
    return IdentitySection(
        enrolment_offered=enrolment,
        app_offered=app,
        identity=overview.identity,
        case=case,
        last_closed=overview.last_closed,
        stage=stage,
        devices=devices,
    )


@dataclass(frozen=True, slots=True)
class LettersSummary:
    count: int
    unopened: int


def letters_summary(container: Container, tenant: Tenant, account_id: int) -> LettersSummary | None:
    """The account's registered letters (None: it has none, the page shows no link)."""
    letters = container.registered_letters.letters_of(tenant, account_id)
    if not letters:
        return None
    return LettersSummary(len(letters), sum(1 for letter in letters if letter.status is LetterStatus.SENT))


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
    factors_here = offers_factors(tenant)
    factors = await run_in_threadpool(container.factors.factors, live.account.id) if factors_here else []
    identity = await run_in_threadpool(identity_section, container, tenant, live.account.id)
    letters = await run_in_threadpool(letters_summary, container, tenant, live.account.id)
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
            "factors": factors,
            "offered_factors": [kind.value for kind in offered_kinds(tenant.policy.mfa)] if factors_here else [],
            "identity_section": identity,
            "letters": letters,
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


# -- second factors (the factors flow) ---------------------------------------------------------------------

FACTORS_PATH = "account/factors"
_KIND_INTENTS = {
    FactorKind.TOTP.value: FactorIntent.ADD_TOTP,
    FactorKind.PASSKEY.value: FactorIntent.ADD_PASSKEY,
    FactorKind.RECOVERY_CODES.value: FactorIntent.RECOVERY_CODES,
}


async def uses_factors(tenant: Tenant = Depends(get_tenant)) -> None:
    if not offers_factors(tenant):
        raise _not_here(N_("This service does not offer second factors."))


def _factor_extras(request: Request, tenant: Tenant) -> Mapping[str, Any]:
    container = get_container(request)
    live: LiveSession = getattr(request.state, _STATE_KEY)
    return {
        settings_steps.LIVE: live,
        settings_steps.CONTEXT: request_context(request, live),
        settings_steps.SETTINGS: account_settings(container),
        factor_steps.FACTORS: container.factors,
        factor_steps.DEVICES: container.devices,
        factor_steps.REVEALED: factor_steps.RevealedCodes(),
    }


def _factors_url(tenant: Tenant, flow_id: str) -> str:
    return f"/{tenant.slug}/{FACTORS_PATH}/{flow_id}"


async def _start_factors(request: Request, tenant: Tenant, context: FactorsContext) -> Response:
    """Start the flow and take its first step at once (straight to the change when the login is fresh)."""
    container = get_container(request)
    runner, token = FlowRunner(container.uow, container.clock), browser_token(request)
    extras = _factor_extras(request, tenant)

    def start_and_begin() -> str:
        flow = runner.start(FACTORS, tenant, token, context=context)
        runner.submit(FACTORS, tenant, flow.id, token, {}, expected_state=FactorsState.BEGIN.value, extras=extras)
        return flow.id

    flow_id = await run_in_threadpool(start_and_begin)
    return RedirectResponse(_factors_url(tenant, flow_id), status_code=303)


_factors_flow = APIRouter(dependencies=[Depends(account_session), Depends(uses_factors_flow)])


@_factors_flow.get(
    f"/{{tenant}}/{FACTORS_PATH}/new/{{kind}}", name="account_factor_add", dependencies=[Depends(uses_factors)]
)
async def add_factor(
    kind: str, request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    intent = _KIND_INTENTS.get(kind)
    if intent is None or FactorKind(kind) not in offered_kinds(tenant.policy.mfa):
        return RedirectResponse(account_url(tenant, "factor_unavailable", "factors"), status_code=303)
    return await _start_factors(request, tenant, FactorsContext(account_id=live.account.id, intent=intent))


@_factors_flow.get(
    f"/{{tenant}}/{FACTORS_PATH}/remove/{{factor_id}}",
    name="account_factor_remove",
    dependencies=[Depends(uses_factors)],
)
async def remove_factor(
    factor_id: str, request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    """Removing starts with a confirmation (and the password again when the login is not fresh)."""
    owned = await run_in_threadpool(get_container(request).factors.factors, live.account.id)
    factor = next((f for f in owned if factor_id.isdigit() and f.id == int(factor_id)), None)
    if factor is None:  # not one of this account's factors: the same answer as a missing one
        return RedirectResponse(account_url(tenant, "factor_unavailable", "factors"), status_code=303)
    context = FactorsContext(account_id=live.account.id, intent=FactorIntent.REMOVE, factor_id=factor.id)
    return await _start_factors(request, tenant, context)


@_factors_flow.post(
    "/{tenant}/account/devices/remove", name="account_device_remove", dependencies=[Depends(uses_devices)]
)
async def remove_device(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    """ "Remove" beside an active device: the factors flow confirms it (after the password again
    when the login is not fresh), then disables the device and tells the person by email."""
    device_id = (await request.form()).get("device")
    owned = await run_in_threadpool(get_container(request).devices.devices_of, live.account.id)
    device = next((d for d in owned if d.id == device_id and d.active and d.tenant_id == tenant.id), None)
    if device is None:  # not one of this account's active devices: the same answer as a missing one
        return RedirectResponse(account_url(tenant, "factor_unavailable", "identity"), status_code=303)
    context = FactorsContext(account_id=live.account.id, intent=FactorIntent.REMOVE_DEVICE, device_id=device.id)
    return await _start_factors(request, tenant, context)


@_factors_flow.get(f"/{{tenant}}/{FACTORS_PATH}/{{flow_id}}", name="account_factors_flow")
async def factors_page(
    flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(account_session)
) -> Response:
    """The flow's current state, with the QR code and the key of an app being added (made from
    the encrypted seed for this response only)."""
    container = get_container(request)
    try:
        flow = await run_in_threadpool(FlowRunner(container.uow, container.clock).load, FACTORS, tenant, flow_id)
    except (FlowNotFound, FlowExpired, TooManyAttempts):
        return RedirectResponse(account_url(tenant, "factor_unavailable", "factors"), status_code=303)
    if flow.context.account_id != live.account.id:
        return RedirectResponse(account_url(tenant, "factor_unavailable", "factors"), status_code=303)
    totp = None
    if flow.state is FactorsState.ENROL_TOTP and flow.context.totp_seed:
        totp = await run_in_threadpool(container.factors.totp_enrolment, tenant, live.account, flow.context.totp_seed)
    return render(request, f"flows/factors/{flow.state.value}.html", _factors_page(tenant, flow, totp=totp))


def _factors_page(tenant: Tenant, flow: Flow[Any, Any], **extra: Any) -> dict[str, Any]:
    """What flows/layout.html and the factors templates use (as the generic flow pages give it)."""
    return {
        "flow": flow,
        "flow_url": _factors_url(tenant, flow.id),
        "start_url": account_url(tenant, anchor="factors"),
        "errors": {},
        "values": {},
        **extra,
    }


async def _after_factor_step(
    request: Request, tenant: Tenant, flow: Flow[Any, Any], extras: Mapping[str, Any]
) -> Response | None:
    """New recovery codes are shown in this response, once; nothing keeps them afterwards."""
    revealed = extras.get(factor_steps.REVEALED)
    if flow.state is FactorsState.DONE and isinstance(revealed, factor_steps.RevealedCodes) and revealed.codes:
        return render(request, "flows/factors/codes.html", _factors_page(tenant, flow, codes=revealed.codes))
    return None


mount_flow(_factors_flow, FlowPage(FACTORS, FACTORS_PATH, extras=_factor_extras, after_step=_after_factor_step))
# Starting is ours (above, by kind or factor) and so is showing (the QR code); drop the generic ones,
# which would never be reached anyway (the routes above come first).
_GENERIC = {f"flow_{FACTORS.kind}_start", f"flow_{FACTORS.kind}"}
_factors_flow.routes[:] = [route for route in _factors_flow.routes if getattr(route, "name", None) not in _GENERIC]

_password_flow = APIRouter(dependencies=[Depends(account_session), Depends(uses_passwords)])
_email_flow = APIRouter(dependencies=[Depends(account_session), Depends(uses_email)])
mount_flow(_password_flow, FlowPage(SETTINGS, "account/password", extras=_flow_extras, start_context=_password_start))
mount_flow(_email_flow, FlowPage(EMAIL_CHANGE, "account/email", extras=_flow_extras, start_context=_email_start))

# The link's fixed path first: it must win over the email flow's /account/email/{flow_id}.
for _sub in (_public, _private, _factors_flow, _password_flow, _email_flow):
    router.include_router(_sub)

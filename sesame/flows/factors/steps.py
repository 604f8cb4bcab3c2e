"""Steps of the factors flow: fresh authentication, then the change (see states.mmd).

The page gives the steps, in ``env.extras``, the logged-in session (``live``), the request's
context (``context``), the account settings (``settings``, for the password asked again), the
factors service (``factors``), the phone app's devices (``devices``, for removing one) and a
:class:`RevealedCodes` holder: new recovery codes are shown in the response of the step that
made them, and nowhere else, ever.

The change itself checks freshness again: a flow left open must not outlive the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sesame.domain.errors import AlreadyExists
from sesame.domain.factors import FactorKind, is_fresh, offered_kinds
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.factors.states import FactorIntent, FactorsContext, FactorsState
from sesame.flows.settings.steps import SETTINGS, logged_in, refusal_errors, request_context, service
from sesame.methods.passkey import RESPONSE_MAX, PasskeyRejected
from sesame.methods.totp import INPUT_MAX as CODE_INPUT_MAX
from sesame.services.devices import DeviceService
from sesame.services.factors import FactorService
from sesame.services.password_change import PASSWORD_INPUT_MAX
from sesame.services.sessions import LiveSession
from sesame.services.settings import AccountSettings

FactorsFlow = Flow[FactorsState, FactorsContext]

#: Keys of ``StepEnv.extras`` that the account page fills, besides the settings flow's
#: ``LIVE``, ``CONTEXT`` and ``SETTINGS`` (sesame.flows.settings.steps).
FACTORS = "factors"
DEVICES = "devices"
REVEALED = "revealed_codes"
#: What the confirmation page and the done page call a phone app device.
DEVICE_KIND = "app"

PASSWORD_FIELD = "current_password"  # noqa: S105 (a field name, not a secret)
LABEL_INPUT_MAX = 200

_STATE_OF = {
    FactorIntent.ADD_TOTP: FactorsState.ENROL_TOTP,
    FactorIntent.ADD_PASSKEY: FactorsState.REGISTER_PASSKEY,
    FactorIntent.RECOVERY_CODES: FactorsState.RECOVERY_CODES,
    FactorIntent.REMOVE: FactorsState.CONFIRM_REMOVAL,
    FactorIntent.REMOVE_DEVICE: FactorsState.CONFIRM_REMOVAL,
}
_KIND_OF = {
    FactorIntent.ADD_TOTP: FactorKind.TOTP,
    FactorIntent.ADD_PASSKEY: FactorKind.PASSKEY,
    FactorIntent.RECOVERY_CODES: FactorKind.RECOVERY_CODES,
}


@dataclass(slots=True)
class RevealedCodes:
    """Where the step puts the recovery codes it made, for the page to show in its response."""

    codes: list[str] = field(default_factory=list)


def _factors(env: StepEnv) -> FactorService:
    found: FactorService = service(env, FACTORS, FactorService)
    return found


def _devices(env: StepEnv) -> DeviceService:
    found: DeviceService = service(env, DEVICES, DeviceService)
    return found


def _live(flow: FactorsFlow, env: StepEnv) -> LiveSession:
    return logged_in(env, flow.context.account_id)


def fresh_since(flow: FactorsFlow, live: LiveSession) -> datetime:
    """The latest authentication: the session's login, or the password typed again here."""
    again = flow.context.reauthenticated_at
    return max(live.session.auth_time, again) if again is not None else live.session.auth_time


def _fresh(flow: FactorsFlow, live: LiveSession, env: StepEnv) -> bool:
    return is_fresh(fresh_since(flow, live), env.now, env.tenant.policy.mfa)


def allowed(intent: FactorIntent, env: StepEnv) -> bool:
    """Adding a kind the tenant does not offer is refused; removing is always possible."""
    kind = _KIND_OF.get(intent)
    return kind is None or kind in offered_kinds(env.tenant.policy.mfa)


# -- BEGIN and REAUTHENTICATE --------------------------------------------------------------------------


def begin(flow: FactorsFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[FactorsState]:
    """Straight to the change when the login is fresh, else the password again first."""
    live = _live(flow, env)
    if not allowed(flow.context.intent, env):
        return Reject({"factor": "unavailable"})
    if not _fresh(flow, live, env):
        return Advance(FactorsState.REAUTHENTICATE)
    return _enter(flow, live, env)


def reauthenticate(flow: FactorsFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[FactorsState]:
    """The current password, checked and counted like a login (the login's lockout)."""
    flow.context.error = None
    live = _live(flow, env)
    password = data.get(PASSWORD_FIELD, "")
    if not password:
        return Reject({PASSWORD_FIELD: "required"})
    if len(password) > PASSWORD_INPUT_MAX:
        return Reject({PASSWORD_FIELD: "wrong"})
    settings: AccountSettings = service(env, SETTINGS, AccountSettings)
    # Slow (argon2) and counted in its own transactions: before env.uow.
    check = settings.check_current_password(env.tenant, live.account, password)
    if not check.ok:
        settings.audit_refused(
            env.uow, env.tenant, "factor.reauthentication_refused", live.account.id, check, request_context(env)
        )
        return Reject(refusal_errors(check, env), counts=True)
    flow.context.reauthenticated_at = env.now
    return _enter(flow, live, env)


def _enter(flow: FactorsFlow, live: LiveSession, env: StepEnv) -> StepResult[FactorsState]:
    """The intent's state, with what it needs (a seed, a challenge, the factor to remove)."""
    context, factors = flow.context, _factors(env)
    if context.intent is FactorIntent.ADD_TOTP and context.totp_seed is None:
        context.totp_seed = factors.new_totp_seed()
    elif context.intent is FactorIntent.ADD_PASSKEY:
        challenge = factors.registration_challenge(env.tenant, live.account)
        context.passkey_challenge, context.passkey_options = challenge.value, challenge.options_json
    elif context.intent is FactorIntent.REMOVE:
        factor = env.uow.factors.get(context.factor_id) if context.factor_id is not None else None
        if factor is None or factor.account_id != live.account.id:
            return Reject({"factor": "unknown"})
        context.factor_kind, context.factor_label = factor.kind.value, factor.label
    elif context.intent is FactorIntent.REMOVE_DEVICE:
        device = env.uow.devices.get(context.device_id) if context.device_id else None
        mine = device is not None and device.account_id == live.account.id and device.tenant_id == env.tenant.id
        if device is None or not mine or not device.active:
            return Reject({"factor": "unknown"})
        context.factor_kind, context.factor_label = DEVICE_KIND, device.label
        context.last_device = env.uow.devices.count_active(live.account.id) <= 1
    return Advance(_STATE_OF[context.intent])


def _stale(flow: FactorsFlow, live: LiveSession, env: StepEnv) -> StepResult[FactorsState] | None:
    """Back to the password when the fresh authentication expired while the page was open."""
    if _fresh(flow, live, env):
        return None
    flow.context.error = "stale"
    return Advance(FactorsState.REAUTHENTICATE)


# -- the changes -------------------------------------------------------------------------------------------


def enrol_totp(flow: FactorsFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[FactorsState]:
    """The first code of the app that scanned the QR code: the app is stored."""
    flow.context.error = None
    live = _live(flow, env)
    code = data.get("code", "").strip()
    if not code:
        return Reject({"code": "required"})
    if len(code) > CODE_INPUT_MAX or len(data.get("label", "")) > LABEL_INPUT_MAX:
        return Reject({"code": "invalid"} if len(code) > CODE_INPUT_MAX else {"label": "too_long"})
    stale = _stale(flow, live, env)
    if stale is not None:
        return stale
    seed = flow.context.totp_seed
    if seed is None:  # pragma: no cover (set when the state was entered)
        return Reject({"factor": "unknown"})
    label, acting = data.get("label", ""), request_context(env)
    added = _factors(env).add_totp(env.uow, env.tenant, live.account, seed, code, label, acting)
    if added is None:
        flow.context.error = "wrong_code"
        return Advance(FactorsState.ENROL_TOTP)  # saved: the refusal's audit event commits
    flow.context.totp_seed, flow.context.done_kind = None, FactorKind.TOTP.value
    return Advance(FactorsState.DONE)


def register_passkey(flow: FactorsFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[FactorsState]:
    """The browser's ``navigator.credentials.create()`` response: the key is stored."""
    flow.context.error = None
    live = _live(flow, env)
    response = data.get("credential", "")
    if not response:
        return Reject({"credential": "required"})
    if len(response) > RESPONSE_MAX or len(data.get("label", "")) > LABEL_INPUT_MAX:
        return Reject({"credential": "invalid"} if len(response) > RESPONSE_MAX else {"label": "too_long"})
    stale = _stale(flow, live, env)
    if stale is not None:
        return stale
    factors, challenge = _factors(env), flow.context.passkey_challenge
    # Used once, whatever the outcome: the next try gets a new one (read before env.uow).
    renewed = factors.registration_challenge(env.tenant, live.account)
    flow.context.passkey_challenge, flow.context.passkey_options = renewed.value, renewed.options_json
    if challenge is None:
        flow.context.error = "passkey_refused"
        return Advance(FactorsState.REGISTER_PASSKEY)
    try:
        label, acting = data.get("label", ""), request_context(env)
        factors.add_passkey(env.uow, env.tenant, live.account, response, challenge, label, acting)
    except PasskeyRejected:
        flow.context.error = "passkey_refused"
        return Advance(FactorsState.REGISTER_PASSKEY)
    except AlreadyExists:
        flow.context.error = "already_registered"
        return Advance(FactorsState.REGISTER_PASSKEY)
    flow.context.passkey_challenge = flow.context.passkey_options = None
    flow.context.done_kind = FactorKind.PASSKEY.value
    return Advance(FactorsState.DONE)


def recovery_codes(flow: FactorsFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[FactorsState]:
    """Ten new codes, the old ones deleted; the codes go to the page's response only."""
    live = _live(flow, env)
    stale = _stale(flow, live, env)
    if stale is not None:
        return stale
    revealed = env.extras.get(REVEALED)
    if not isinstance(revealed, RevealedCodes):
        raise TypeError(f"the factors flow needs extras[{REVEALED!r}]: RevealedCodes")
    codes = _factors(env).regenerate_recovery_codes(env.uow, env.tenant, live.account, request_context(env))
    revealed.codes = codes
    flow.context.done_kind, flow.context.codes_count = FactorKind.RECOVERY_CODES.value, len(codes)
    return Advance(FactorsState.DONE)


def confirm_removal(flow: FactorsFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[FactorsState]:
    """ "Remove": the factor or the device goes (an unknown one: nothing happens, the same page)."""
    live = _live(flow, env)
    stale = _stale(flow, live, env)
    if stale is not None:
        return stale
    if flow.context.intent is FactorIntent.REMOVE_DEVICE:
        device_id, acting = flow.context.device_id or "", request_context(env)
        if not _devices(env).remove_in(env.uow, env.tenant, live.account.id, device_id, acting):
            return Reject({"factor": "unknown"})
        flow.context.done_kind = "device_removed"
        return Advance(FactorsState.DONE)
    removed = None
    if flow.context.factor_id is not None:
        removed = _factors(env).remove(env.uow, env.tenant, live.account, flow.context.factor_id, request_context(env))
    if removed is None:
        return Reject({"factor": "unknown"})
    flow.context.done_kind = "removed"
    return Advance(FactorsState.DONE)

"""Steps of the recovery flow: one function per state that takes input.

They get the recovery service as ``extras["recovery"]`` and who asks as ``extras["request"]`` (a
:class:`RequestContext`). Work with transactions of its own (throttle counters, hashing the new
password, the lockout counters) runs before the first use of ``env.uow``.

Rejections carry field -> message code; a throttle or a cooldown adds ``retry_minutes`` or
``retry_seconds`` (as text) so the page can say when to try again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from sesame.domain.errors import InvalidInput, NotFound, PolicyViolation
from sesame.domain.passwords import PasswordRule
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.recovery.states import RecoveryContext, RecoveryState
from sesame.services.accounts import clean_email
from sesame.services.context import RequestContext
from sesame.services.recovery import RECOVERY_LIFETIME, RESEND_COOLDOWN, RecoveryService
from sesame.services.tokens import CODE_DIGITS, MAX_CODE_ATTEMPTS

EXTRA_SERVICE = "recovery"
EXTRA_REQUEST = "request"
#: RFC 5321 caps a path at 256 octets; anything much longer is not an address worth parsing.
EMAIL_MAX_LENGTH = 320
#: The least time left to choose the new password once the code is accepted.
NEW_PASSWORD_WINDOW = timedelta(minutes=15)
#: Longer than any policy's maximum: refused before the rules and the blocklist even look at it.
PASSWORD_MAX_INPUT = 1024

RecoveryFlow = Flow[RecoveryState, RecoveryContext]


def request(flow: RecoveryFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[RecoveryState]:
    """An email address: its account, if any, is sent a link and a code; the answer is the same."""
    raw = data.get("email", "")
    if not raw.strip():
        return Reject({"email": "required"})
    try:
        # A syntax error is about what was typed, not about an account: it may be said.
        email = clean_email(raw) if len(raw) <= EMAIL_MAX_LENGTH else ""
    except InvalidInput:
        email = ""
    if not email:
        return Reject({"email": "invalid"})
    refused = _throttled("email", email, env)
    if refused is not None:
        return refused
    service, who = _extras(env)
    flow.context.account_id = service.request(env.uow, env.tenant, email, who, env.now, resend=False)
    flow.context.email = email
    _sent_now(flow, env.now)
    return Advance(RecoveryState.SENT)


def sent(flow: RecoveryFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[RecoveryState]:
    """The code from the email ("verify"), a new email ("resend"), or another address ("change_email")."""
    action = data.get("action", "verify")
    if action == "resend":
        return _resend(flow, env)
    if action == "change_email":
        flow.context = RecoveryContext()
        return Advance(RecoveryState.REQUEST)
    if action != "verify":
        return Reject({"action": "required"})
    return _verify_code(flow, data, env)


def new_password(flow: RecoveryFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[RecoveryState]:
    """The new password, twice: the tenant's rules, not the person's email or name, not blocklisted."""
    account_id = flow.context.account_id
    if account_id is None:  # cannot happen: this state is reached only once the mailbox is proven
        return Reject({"password": "unavailable"})
    password = data.get("password", "")
    confirm = data.get("password_confirm", "")
    if not password:
        return Reject({"password": "required"})
    service, who = _extras(env)
    try:
        failed = (
            [PasswordRule.MAX_LENGTH.value]
            if len(password) > PASSWORD_MAX_INPUT
            else service.check_new_password(env.tenant, account_id, password)
        )
    except NotFound:
        return Reject({"password": "unavailable"})
    errors: dict[str, str] = {}
    if failed:
        errors.update({"password": "weak", "password_rules": " ".join(failed)})
    if password != confirm:
        errors["password_confirm"] = "mismatch" if confirm else "required"
    if errors:
        return Reject(errors)
    try:
        # Hashing and the lockout counters, before this step's transaction takes the write lock.
        prepared = service.prepare_reset(env.tenant, account_id, password)
        outcome = service.reset_password(
            env.uow, env.tenant, prepared, who, env.now, verified_by=flow.context.verified_by or "unknown"
        )
    except InvalidInput as error:  # the current password again: a reset must change it
        return Reject({"password": str(error.details.get("reason") or "invalid")})
    except PolicyViolation as error:  # the blocklist or the policy changed between the two checks
        rules = error.details.get("rules")
        return Reject({"password": "weak", "password_rules": " ".join(rules) if isinstance(rules, list) else ""})
    except NotFound:
        return Reject({"password": "unavailable"})
    flow.context.account_locked = outcome.account_locked
    return Advance(RecoveryState.DONE)


# -- internals ---------------------------------------------------------------------------------


def _extras(env: StepEnv) -> tuple[RecoveryService, RequestContext]:
    service = env.extras[EXTRA_SERVICE]
    who = env.extras.get(EXTRA_REQUEST) or RequestContext()
    if not isinstance(service, RecoveryService) or not isinstance(who, RequestContext):
        raise TypeError("the recovery flow needs extras['recovery'] and extras['request']")
    return service, who


def _keep_open_until(flow: RecoveryFlow, moment: datetime) -> None:
    """Extend the flow's expiry (saved with the step), never shorten it."""
    flow.record.expires_at = max(flow.record.expires_at, moment)


def _sent_now(flow: RecoveryFlow, now: datetime) -> None:
    flow.context.sent_at = now
    flow.context.sends += 1
    # Wrong codes are the only failures this flow counts: those since now are against the new code.
    flow.context.failures_at_send = flow.record.attempts
    # The page works as long as its code: "until 11:50" must not be cut short by the flow's own expiry.
    _keep_open_until(flow, now + RECOVERY_LIFETIME)


def _throttled(field: str, email: str, env: StepEnv) -> Reject | None:
    service, who = _extras(env)
    retry_at = service.throttle(env.tenant, email, who)
    if retry_at is None:
        return None
    minutes = max(1, math.ceil((retry_at - env.now).total_seconds() / 60))
    return Reject({field: "throttled", "retry_minutes": str(minutes)})


def _resend(flow: RecoveryFlow, env: StepEnv) -> StepResult[RecoveryState]:
    """A new link and code (the old ones stop working), after a short cooldown and within the throttles."""
    sent_at = flow.context.sent_at
    if sent_at is not None and env.now < sent_at + RESEND_COOLDOWN:
        wait = math.ceil((sent_at + RESEND_COOLDOWN - env.now).total_seconds())
        return Reject({"resend": "cooldown", "retry_seconds": str(max(1, wait))})
    refused = _throttled("resend", flow.context.email, env)
    if refused is not None:
        return refused
    service, who = _extras(env)
    flow.context.account_id = service.request(env.uow, env.tenant, flow.context.email, who, env.now, resend=True)
    _sent_now(flow, env.now)
    return Advance(RecoveryState.SENT)


def _code_expired(flow: RecoveryFlow, now: datetime) -> bool:
    sent_at = flow.context.sent_at
    return sent_at is None or now >= sent_at + RECOVERY_LIFETIME


def _verify_code(flow: RecoveryFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[RecoveryState]:
    """The 6-digit code. Expiry and the tries left are judged from the flow, not the account, so an
    unknown address is told exactly what a known one would be."""
    code = "".join(data.get("code", "").split())
    if not code:
        return Reject({"code": "required"})
    if len(code) != CODE_DIGITS or not code.isdigit():
        return Reject({"code": "invalid"})  # a typo, not a guess: no try used
    if _code_expired(flow, env.now):
        return Reject({"code": "expired"})
    if flow.record.attempts - flow.context.failures_at_send >= MAX_CODE_ATTEMPTS:
        return Reject({"code": "exhausted"})
    service, who = _extras(env)
    if not service.check_code(env.uow, env.tenant, flow.context.account_id, code, who, env.now):
        return Reject({"code": "wrong"}, counts=True)  # counted: the runner commits the token's used try
    flow.context.verified_by = "code"
    _keep_open_until(flow, env.now + NEW_PASSWORD_WINDOW)  # a code typed at 59 minutes still leaves time
    return Advance(RecoveryState.NEW_PASSWORD)

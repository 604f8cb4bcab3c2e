"""Steps of the email change flow: the new address with the current password, then the code.

The page gives the steps, in ``env.extras``, the logged-in session, the request's context and
the services ``settings`` (the current password check) and ``email_change``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

from sesame.domain.errors import InvalidInput
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.email_change.states import EmailChangeContext, EmailChangeState
from sesame.flows.settings.steps import CURRENT_FIELD, SETTINGS, logged_in, refusal_errors, request_context, service
from sesame.services.accounts import clean_email
from sesame.services.email_change import EmailChange, EmailChangeStatus, same_address
from sesame.services.sessions import LiveSession
from sesame.services.settings import AccountSettings

EMAIL_CHANGE = "email_change"
#: A new email is sent at most this often, and this many times per flow.
RESEND_COOLDOWN = timedelta(seconds=60)
MAX_RESENDS = 5
#: No address is longer (RFC 5321); longer input is refused before any parsing.
EMAIL_MAX = 320


def _address_error(raw: str, live: LiveSession) -> tuple[str, str | None]:
    """(cleaned address, None) or ("", error code) for the typed new address."""
    if not raw:
        return "", "required"
    if len(raw) > EMAIL_MAX:
        return "", "invalid"
    try:
        email = clean_email(raw)
    except InvalidInput:
        return "", "invalid"
    if same_address(live.account.email, email):
        return "", "same"
    return email, None


def enter_email(
    flow: Flow[EmailChangeState, EmailChangeContext], data: Mapping[str, str], env: StepEnv
) -> StepResult[EmailChangeState]:
    """A valid new address and the right current password: the proof goes to the new address."""
    live = logged_in(env, flow.context.account_id)
    settings: AccountSettings = service(env, SETTINGS, AccountSettings)
    changer: EmailChange = service(env, EMAIL_CHANGE, EmailChange)
    context = request_context(env)
    email, error = _address_error(data.get("new_email", "").strip(), live)
    errors = {"new_email": error} if error else {}
    if not data.get(CURRENT_FIELD):
        errors[CURRENT_FIELD] = "required"
    if errors:
        return Reject(errors)
    check = settings.check_current_password(env.tenant, live.account, data[CURRENT_FIELD])
    if not check.ok:
        settings.audit_refused(env.uow, env.tenant, "email_change.refused", live.account.id, check, context)
        return Reject(refusal_errors(check, env), counts=True)
    changer.start(env.uow, env.tenant, live.account, email, context)
    flow.context.new_email, flow.context.sent_at, flow.context.resends = email, env.now, 0
    return Advance(EmailChangeState.ENTER_CODE)


def enter_code(
    flow: Flow[EmailChangeState, EmailChangeContext], data: Mapping[str, str], env: StepEnv
) -> StepResult[EmailChangeState]:
    """The code from the email (or "send it again", or "use another address")."""
    live = logged_in(env, flow.context.account_id)
    action = data.get("action", "confirm")
    if action == "restart":
        return Advance(EmailChangeState.ENTER_EMAIL)
    if action == "resend":
        return _resend(flow, env, live)
    if same_address(live.account.email, flow.context.new_email):
        return Advance(EmailChangeState.DONE)  # the link was opened meanwhile, maybe in another browser
    code = "".join(data.get("code", "").split())
    if not code:
        return Reject({"code": "required"})
    changer: EmailChange = service(env, EMAIL_CHANGE, EmailChange)
    status = changer.confirm_code(env.uow, env.tenant, live.account.id, code[:20], request_context(env))
    if status is EmailChangeStatus.CHANGED:
        return Advance(EmailChangeState.DONE)
    # A wrong code uses an attempt (and one of the code's own tries): 6 digits can be guessed.
    return Reject({"code": "taken" if status is EmailChangeStatus.TAKEN else "wrong"}, counts=True)


def _resend(
    flow: Flow[EmailChangeState, EmailChangeContext], env: StepEnv, live: LiveSession
) -> StepResult[EmailChangeState]:
    if flow.context.resends >= MAX_RESENDS:
        return Reject({"resend": "limit"})
    if flow.context.sent_at is not None and env.now - flow.context.sent_at < RESEND_COOLDOWN:
        wait = RESEND_COOLDOWN - (env.now - flow.context.sent_at)
        return Reject({"resend": "cooldown", "retry_seconds": str(max(1, math.ceil(wait.total_seconds())))})
    changer: EmailChange = service(env, EMAIL_CHANGE, EmailChange)
    changer.resend(env.uow, env.tenant, live.account, flow.context.new_email, request_context(env))
    flow.context.sent_at, flow.context.resends = env.now, flow.context.resends + 1
    return Advance(EmailChangeState.ENTER_CODE)

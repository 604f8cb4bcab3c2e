"""Steps of the settings flow: the password change, with the current password asked again.

The page gives the steps, in ``env.extras``, the logged-in session (``live``), the request's
context (``context``) and the services (``settings``, ``password_change``). Cheap checks come
first and report every problem at once; the current password is then checked (counted like a
login); only then is the new one hashed and stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sesame.domain.errors import FlowNotFound, InvalidInput, PolicyViolation
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.settings.states import SettingsContext, SettingsState
from sesame.services.context import RequestContext
from sesame.services.password_change import PASSWORD_INPUT_MAX, PasswordChangeService
from sesame.services.sessions import LiveSession
from sesame.services.settings import AccountSettings, PasswordCheck

#: Keys of ``StepEnv.extras`` that the account page fills.
LIVE = "live"
CONTEXT = "context"
SETTINGS = "settings"
PASSWORD_CHANGE = "password_change"  # noqa: S105 (a key name, not a secret)

#: The form's fields.
CURRENT_FIELD = "current_password"
NEW_FIELD = "new_password"
CONFIRM_FIELD = "new_password_confirm"
RULES_FIELD = "new_password_rules"
#: The password change service's field names, as this form names them.
_FIELDS = {"password": NEW_FIELD, "password_confirm": CONFIRM_FIELD}


def logged_in(env: StepEnv, account_id: int) -> LiveSession:
    """The logged-in session, if it belongs to the account that started the flow.

    Someone else logged in in this browser since: the flow is not theirs to continue.
    """
    live = env.extras.get(LIVE)
    if not isinstance(live, LiveSession) or live.account.id != account_id or live.account.tenant_id != env.tenant.id:
        raise FlowNotFound("the flow belongs to another account than the logged-in one")
    return live


def request_context(env: StepEnv) -> RequestContext:
    context = env.extras.get(CONTEXT)
    return context if isinstance(context, RequestContext) else RequestContext()


def refusal_errors(check: PasswordCheck, env: StepEnv) -> dict[str, str]:
    """Why the current password was refused, with the minutes to wait when suspended."""
    errors = {CURRENT_FIELD: check.status.value}
    if check.retry_at is not None:
        errors["retry_minutes"] = str(max(1, math.ceil((check.retry_at - env.now).total_seconds() / 60)))
    return errors


def service(env: StepEnv, key: str, kind: type[Any]) -> Any:
    service = env.extras.get(key)
    if not isinstance(service, kind):
        raise TypeError(f"the settings flow needs extras[{key!r}]: {kind.__name__}")
    return service


def _form_errors(settings: AccountSettings, env: StepEnv, live: LiveSession, data: Mapping[str, str]) -> dict[str, str]:
    """Every problem visible without the current password: empty fields, mismatch, the rules."""
    current, new, confirm = (data.get(k, "") for k in (CURRENT_FIELD, NEW_FIELD, CONFIRM_FIELD))
    errors: dict[str, str] = {}
    if not current:
        errors[CURRENT_FIELD] = "required"
    if not new:
        errors[NEW_FIELD] = "required"
    elif len(new) > PASSWORD_INPUT_MAX:
        errors[NEW_FIELD] = "too_long"
    elif new == current:
        errors[NEW_FIELD] = "unchanged"
    else:
        failed = settings.password_problems(env.tenant, live.account, new)
        if failed:
            errors[NEW_FIELD], errors[RULES_FIELD] = "policy", ",".join(failed)
    if not confirm:
        errors[CONFIRM_FIELD] = "required"
    elif new and confirm != new:
        errors[CONFIRM_FIELD] = "mismatch"
    return errors


def change_password(
    flow: Flow[SettingsState, SettingsContext], data: Mapping[str, str], env: StepEnv
) -> StepResult[SettingsState]:
    """Current password, new one twice: the new one stored, the other sessions ended, an email sent."""
    live = logged_in(env, flow.context.account_id)
    settings: AccountSettings = service(env, SETTINGS, AccountSettings)
    changer: PasswordChangeService = service(env, PASSWORD_CHANGE, PasswordChangeService)
    context = request_context(env)
    errors = _form_errors(settings, env, live, data)
    if errors:
        return Reject(errors)
    check = settings.check_current_password(env.tenant, live.account, data[CURRENT_FIELD])
    if not check.ok:
        settings.audit_refused(env.uow, env.tenant, "password.change_refused", live.account.id, check, context)
        return Reject(refusal_errors(check, env), counts=True)
    try:
        new = changer.prepare(env.tenant, live.account.id, data[NEW_FIELD], data[CONFIRM_FIELD])
    except PolicyViolation as error:
        rules = error.details.get("rules")
        named = ",".join(str(rule) for rule in rules) if isinstance(rules, list) else ""
        return Reject({NEW_FIELD: "policy", RULES_FIELD: named})
    except InvalidInput as error:
        field = _FIELDS.get(str(error.details.get("field")), NEW_FIELD)
        return Reject({field: str(error.details.get("reason", "invalid"))})
    changed = changer.apply(env.uow, env.tenant, new, context, reason="account_page", keep_session_id=live.session.id)
    flow.context.sessions_ended = changed.sessions_ended
    return Advance(SettingsState.DONE)

"""Steps of the registration flow: the sign-up form, and the page that waits for the confirmation.

Errors are codes per field (the page words them). Slow work and work with transactions of its
own (rate limits, the password hash, checking a code) comes before the step's unit of work, as
``StepEnv`` asks. Whether the address was new or taken, every answer here is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sesame.domain.errors import InvalidInput, PolicyViolation
from sesame.domain.passwords import failed_rules
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.registration.states import RegistrationContext, RegistrationState
from sesame.services.accounts import AccountService, clean_email, clean_name
from sesame.services.context import RequestContext
from sesame.services.passwords import PasswordRules
from sesame.services.registration import (
    CODE_TRIES,
    MAX_EMAILS_PER_FLOW,
    RESEND_COOLDOWN,
    Applicant,
    RegistrationService,
    registration_offered,
)

RegistrationFlow = Flow[RegistrationState, RegistrationContext]

#: The key of :class:`RegistrationExtras` in ``StepEnv.extras``.
EXTRAS_KEY = "registration"
#: RFC 5321 caps a forward path at 256 octets, so an address at 254 characters.
EMAIL_MAX_LENGTH = 254
CODE_DIGITS = 6
#: Error codes (the page words them); a field's code names what is wrong, never what was typed.
REQUIRED = "required"
MISMATCH = "mismatch"
#: What a checked HTML checkbox sends.
_CHECKED = frozenset({"on", "1", "true", "yes"})


@dataclass(frozen=True, slots=True)
class RegistrationExtras:
    """What the steps need from the outside: the services, who asks, and the page's language."""

    service: RegistrationService
    accounts: AccountService
    rules: PasswordRules
    context: RequestContext
    locale: str = "fr"


def _extras(env: StepEnv) -> RegistrationExtras:
    extras = env.extras.get(EXTRAS_KEY)
    if not isinstance(extras, RegistrationExtras):
        raise TypeError(f"the registration flow needs {EXTRAS_KEY!r} extras")
    return extras


# -- the form ------------------------------------------------------------------------------------


def form(flow: RegistrationFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[RegistrationState]:
    """Names, address, password twice, terms: all checked at once; then the account, or the owner's notice."""
    if not registration_offered(env.tenant):
        return Reject({"form": "unavailable"})
    extras = _extras(env)
    applicant, errors = _read_applicant(data, extras.locale)
    password = data.get("password", "")
    errors.update(_password_errors(extras.rules, env, applicant, password, data.get("password_confirmation", "")))
    # The terms must be accepted; the version accepted is stored with the time.
    if data.get("terms", "").lower() not in _CHECKED:
        errors["terms"] = "required"
    if errors:
        return Reject(errors)
    # Each accepted form costs an argon2 hash: a client cannot make us spend that without limit.
    if not extras.service.allow_registration_from(env.tenant, extras.context.ip):
        return Reject({"form": "throttled"})
    names = (applicant.given_name, applicant.family_name)
    try:
        # Hashed whether or not the address is taken, so both answers take the same time.
        password_hash = extras.accounts.prepare_password(env.tenant, password, email=applicant.email, names=names)
    except PolicyViolation as violation:
        return Reject(_policy_errors(_violated_rules(violation)))
    # Counted for every address alike: nobody floods a mailbox through this form.
    if not extras.service.allow_email_to(env.tenant, applicant.email):
        return Reject({"email": "throttled"})
    registration = extras.service.register(env.uow, env.tenant, applicant, password_hash, extras.context)
    context = flow.context
    context.given_name, context.family_name, context.email = (
        applicant.given_name,
        applicant.family_name,
        applicant.email,
    )
    context.marketing_email, context.marketing_partners = applicant.marketing_email, applicant.marketing_partners
    context.account_id, context.owner_id = registration.account_id, registration.owner_id
    _email_sent(context, env)
    return Advance(RegistrationState.CHECK_EMAIL)


def _read_applicant(data: Mapping[str, str], locale: str) -> tuple[Applicant, dict[str, str]]:
    """The cleaned names and address, and the errors of those fields (codes: required, invalid...)."""
    errors: dict[str, str] = {}
    names: dict[str, str] = {}
    for field in ("given_name", "family_name"):
        try:
            names[field] = clean_name(data.get(field, ""), field)
        except InvalidInput as error:
            errors[field] = str(error.details.get("reason", "invalid"))
            names[field] = ""
    email = _read_email(data.get("email", ""), errors)
    applicant = Applicant(
        email=email,
        given_name=names["given_name"],
        family_name=names["family_name"],
        locale=locale,
        marketing_email=data.get("marketing_email", "").lower() in _CHECKED,
        marketing_partners=data.get("marketing_partners", "").lower() in _CHECKED,
    )
    return applicant, errors


def _read_email(raw: str, errors: dict[str, str]) -> str:
    typed = raw.strip()
    if not typed:
        errors["email"] = "required"
        return ""
    # Checked before parsing: the parser need not see a megabyte of text.
    if len(typed) > EMAIL_MAX_LENGTH:
        errors["email"] = "too_long"
        return ""
    try:
        return clean_email(typed)
    except InvalidInput:
        errors["email"] = "invalid"
        return ""


def _password_errors(
    rules: PasswordRules, env: StepEnv, applicant: Applicant, password: str, confirmation: str
) -> dict[str, str]:
    """The password's errors, every failed rule named, and the confirmation's."""
    errors: dict[str, str] = {}
    if not password:
        errors["password"] = REQUIRED
    else:
        names = (applicant.given_name, applicant.family_name)
        results = rules.check(env.tenant.policy.password, password, email=applicant.email, names=names)
        errors.update(_policy_errors([result.rule.value for result in failed_rules(results)]))
    if not confirmation:
        errors["password_confirmation"] = REQUIRED
    elif password and confirmation != password:
        errors["password_confirmation"] = MISMATCH
    return errors


def _policy_errors(rules: list[str]) -> dict[str, str]:
    """``password: policy`` and the failed rules, comma-separated (the page names each one)."""
    if not rules:
        return {}
    return {"password": "policy", "password_rules": ",".join(rules)}


def _violated_rules(violation: PolicyViolation) -> list[str]:
    rules = violation.details.get("rules", [])
    return [str(rule) for rule in rules] if isinstance(rules, list) else ["policy"]


def _email_sent(context: RegistrationContext, env: StepEnv) -> None:
    context.emails_sent += 1
    context.sent_at = env.now
    context.resend_after = env.now + RESEND_COOLDOWN


# -- waiting for the confirmation -------------------------------------------------------------


def check_email(flow: RegistrationFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[RegistrationState]:
    """Type the code, say "I clicked the link", ask for the email again, or change the address."""
    action = _CHECK_ACTIONS.get(data.get("action", ""))
    if action is None:
        return Reject({"action": "required"})
    return action(flow, data, env, _extras(env))


def _enter_code(
    flow: RegistrationFlow, data: Mapping[str, str], env: StepEnv, extras: RegistrationExtras
) -> StepResult[RegistrationState]:
    """The 6-digit code of the latest email; five wrong tries per code, then ask for a new email."""
    code = "".join(data.get("code", "").split())
    if not code:
        return Reject({"code": "required"})
    if len(code) != CODE_DIGITS or not code.isdigit():
        return Reject({"code": "format"})  # a slip of the keyboard, not a guess: not counted
    serial = flow.context.emails_sent
    # The tries are counted per email sent, for taken addresses too: their codes are all wrong,
    # and must be refused the same number of times.
    if extras.service.code_tries(flow.id, serial) >= CODE_TRIES:
        return Reject({"code": "exhausted"})
    registration = flow.context.registration
    if extras.service.confirm_code(env.tenant, registration, code, extras.context, flow_id=flow.id):
        return Advance(RegistrationState.DONE)
    left = max(0, CODE_TRIES - extras.service.count_wrong_code(flow.id, serial))
    return Reject({"code": "wrong" if left else "exhausted", "code_tries_left": str(left)})


def _link_clicked(
    flow: RegistrationFlow, data: Mapping[str, str], env: StepEnv, extras: RegistrationExtras
) -> StepResult[RegistrationState]:
    """ "I have clicked the link": the link may have been opened in another browser or device."""
    if extras.service.is_confirmed(env.uow, flow.context.registration):
        return Advance(RegistrationState.DONE)
    return Reject({"link": "not_confirmed"})


def _resend(
    flow: RegistrationFlow, data: Mapping[str, str], env: StepEnv, extras: RegistrationExtras
) -> StepResult[RegistrationState]:
    """A new email (a new link and code: the previous ones stop working), after a cooldown."""
    context = flow.context
    if context.resend_after is not None and env.now < context.resend_after:
        return Reject({"resend": "cooldown"})
    if context.emails_sent >= MAX_EMAILS_PER_FLOW:
        return Reject({"resend": "limit"})
    if not extras.service.allow_email_to(env.tenant, context.email):
        return Reject({"resend": "throttled"})
    if not extras.service.resend(env.uow, env.tenant, context.registration, extras.context):
        return Advance(RegistrationState.DONE)  # confirmed meanwhile, by the link
    _email_sent(context, env)
    return Advance(RegistrationState.CHECK_EMAIL)


def _change_address(
    flow: RegistrationFlow, data: Mapping[str, str], env: StepEnv, extras: RegistrationExtras
) -> StepResult[RegistrationState]:
    """Back to the form to fix a mistyped address; the unconfirmed account of this journey is given up."""
    context = flow.context
    if context.account_id is not None and not extras.service.abandon(
        env.uow, env.tenant, context.account_id, extras.context
    ):
        return Advance(RegistrationState.DONE)  # the address was confirmed: it was right after all
    context.account_id = None
    context.owner_id = None
    return Advance(RegistrationState.FORM)


_CheckAction = Callable[
    [RegistrationFlow, Mapping[str, str], StepEnv, RegistrationExtras], StepResult[RegistrationState]
]

_CHECK_ACTIONS: dict[str, _CheckAction] = {
    "code": _enter_code,
    "check": _link_clicked,
    "resend": _resend,
    "change_email": _change_address,
}

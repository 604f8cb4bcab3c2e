"""Steps of the login flow: one function per state that takes input (see states.mmd).

The password is checked by the :class:`~sesame.services.authentication.PasswordAuthenticator`,
which keeps its own transactions (counters, audit): every step calls what has its own
transaction, and hashes, before its first use of ``env.uow``. The session is opened in the
step that reaches DONE, in the flow's own transaction, with a token the page drew beforehand
so it can set the cookie afterwards.

A second factor (an authenticator app's code, a passkey, a recovery code) comes right after a
correct password, before anything else the account owes, when the account has one and the
tenant asks for it (``MfaPolicy.require_when_enrolled``): :func:`_next` checks it first, so no
path reaches the session without it. A passkey may also replace the password altogether
(CREDENTIALS, ``action=passkey``); it must then verify the person (PIN or biometrics), which
makes it two factors by itself. WebAuthn challenges live in the flow's context and are used
once: every passkey attempt, accepted or refused, replaces the challenge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sesame.domain.accounts import Account, TokenPurpose, normalize_email
from sesame.domain.audit import AuditEvent, check_event
from sesame.domain.errors import InvalidInput, PolicyViolation
from sesame.domain.factors import (
    AMR_PASSWORD,
    FactorKind,
    SecondFactor,
    combined_amr,
    login_kinds,
    second_factor_required,
)
from sesame.domain.tenants import CredentialKind, IdentifierKind
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.login.states import LoginContext, LoginState
from sesame.methods.passkey import Challenge
from sesame.services.accounts import clean_name
from sesame.services.authentication import AuthStatus, PasswordAuthenticator
from sesame.services.context import RequestContext
from sesame.services.factors import FactorService
from sesame.services.outbox import queue_email
from sesame.services.password_change import PASSWORD_INPUT_MAX, PasswordChangeService
from sesame.services.registration import CONFIRM_TEMPLATE, CONFIRMATION_LIFETIME, RESEND_COOLDOWN
from sesame.services.sessions import SessionService, end_replaced_session
from sesame.services.throttling import Throttle
from sesame.services.tokens import MAX_CODE_ATTEMPTS, OneTimeTokens

LoginFlow = Flow[LoginState, LoginContext]

#: Where the page puts :class:`LoginServices` in the steps' extras.
EXTRAS_KEY = "login"
#: An email address has at most 254 characters (RFC 5321 path limit).
IDENTIFIER_MAX = 254
#: A 6-digit code, typed with spaces perhaps; anything longer is not one.
CODE_INPUT_MAX = 32
#: A password login is eIDAS "low": one factor, the password (RFC 8176 "pwd"). A second factor
#: adds its method and "mfa" to the session's amr (see sesame.domain.factors); the level stays
#: eidas1 until the account has a verified identity (sesame.oidc.assurance decides the rest).
SESSION_ACR = "eidas1"
SESSION_AMR = (AMR_PASSWORD,)
#: A browser's WebAuthn response is a few hundred bytes (sesame.methods.passkey.RESPONSE_MAX).
PASSKEY_INPUT_MAX = 16_384
#: What the second-factor form's ``action`` names, and the field that carries the answer.
SECOND_FACTOR_ACTIONS = {
    "totp": (FactorKind.TOTP, "code"),
    "recovery_code": (FactorKind.RECOVERY_CODES, "recovery_code"),
    "passkey": (FactorKind.PASSKEY, "credential"),
}
#: One confirmation email per account per minute from the login page.
RESEND_COOLDOWN_SECONDS = int(RESEND_COOLDOWN.total_seconds())


@dataclass(frozen=True, slots=True)
class LoginServices:
    """What the login steps use; the page gives it for each submit as ``extras["login"]``."""

    authenticator: PasswordAuthenticator
    tokens: OneTimeTokens
    passwords: PasswordChangeService
    resend_throttle: Throttle
    factors: FactorService
    request: RequestContext
    base_url: str
    #: The cookie value of the session this submit may open, drawn before the step runs.
    session_token: str
    #: The browser's session cookie for this tenant, if any: that session ends ("replaced") at login.
    previous_session_token: str | None = None


def services_of(env: StepEnv) -> LoginServices:
    services = env.extras.get(EXTRAS_KEY)
    if not isinstance(services, LoginServices):
        raise TypeError(f"the login flow needs LoginServices in extras[{EXTRAS_KEY!r}]")
    return services


# -- CREDENTIALS ----------------------------------------------------------------------------------


def credentials(flow: LoginFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[LoginState]:
    """Identifier and password; refusals never say whether the identifier exists."""
    flow.context.clear_feedback()
    policy = env.tenant.policy
    if policy.identifier is not IdentifierKind.EMAIL or CredentialKind.PASSWORD not in policy.credentials:
        return Reject({"login": "unavailable"})  # this tenant's own login is not a password
    if data.get("action") == "passkey":
        return _passkey_login(flow, data, env)
    identifier = data.get("identifier", "").strip()
    password = data.get("password", "")
    missing = {name: "required" for name, value in (("identifier", identifier), ("password", password)) if not value}
    if missing:
        return Reject(missing)
    if len(identifier) > IDENTIFIER_MAX or not identifier.isprintable():
        return Reject({"identifier": "invalid"})
    if len(password) > PASSWORD_INPUT_MAX:
        return Reject({"password": "too_long"})
    services = services_of(env)
    outcome = services.authenticator.authenticate(env.tenant, identifier, password, services.request)
    if outcome.status is AuthStatus.INVALID:
        flow.context.remaining_attempts = outcome.remaining_attempts
        return Reject({"login": "invalid"})
    if outcome.status in (AuthStatus.SUSPENDED, AuthStatus.THROTTLED):
        flow.context.retry_at = outcome.retry_at
        return Reject({"login": outcome.status.value})
    if outcome.status is AuthStatus.LOCKED or outcome.account is None:
        return Reject({"login": "locked"})
    account = outcome.account
    flow.context.account_id = account.id
    flow.context.identifier = account.email or identifier
    flow.context.amr, flow.context.first_factor = [AMR_PASSWORD], "password"
    return _next(flow, account, env)


def _passkey_login(flow: LoginFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[LoginState]:
    """ "Log in with a passkey": the key names the account, and must verify the person."""
    if FactorKind.PASSKEY.value not in env.tenant.policy.mfa.second_factors:
        return Reject({"passkey": "unavailable"})
    response = data.get("credential", "")
    if not response or len(response) > PASSKEY_INPUT_MAX:
        return Reject({"passkey": "required" if not response else "invalid"})
    services = services_of(env)
    challenge = flow.context.passkey_challenge
    # Counters, audit and the key's counter have their own transactions: before env.uow.
    outcome = services.factors.verify_passwordless(env.tenant, response, challenge, services.request)
    if not outcome.ok or outcome.account is None:
        _set_challenge(flow, services.factors.passwordless_challenge(env.tenant))
        _refused_factor(flow, FactorKind.PASSKEY, outcome.status.value, outcome.retry_at, outcome.remaining_attempts)
        return Advance(LoginState.CREDENTIALS)
    account = outcome.account
    flow.context.account_id = account.id
    flow.context.identifier = account.email or ""
    flow.context.amr, flow.context.first_factor = list(outcome.amr), "passkey"
    flow.context.second_factor_done = True  # the key and the verification that unlocked it
    _set_challenge(flow, None)
    return _next(flow, account, env)


# -- SECOND_FACTOR --------------------------------------------------------------------------------


def second_factor(flow: LoginFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[LoginState]:
    """An app's code, a passkey or a recovery code of the account whose password was right."""
    flow.context.clear_feedback()
    chosen = SECOND_FACTOR_ACTIONS.get(data.get("action", ""))
    if chosen is None or chosen[0].value not in flow.context.factor_kinds:
        return Reject({"action": "required"})
    kind, field = chosen
    answer = data.get(field, "").strip()
    if not answer:
        return Reject({field: "required"})
    if len(answer) > (PASSKEY_INPUT_MAX if kind is FactorKind.PASSKEY else CODE_INPUT_MAX):
        return Reject({field: "invalid"})
    services = services_of(env)
    account_id = _account_id(flow)
    challenge = flow.context.passkey_challenge if kind is FactorKind.PASSKEY else None
    # Counters, the atomic use of the code or key and the audit of a failure have their own
    # transactions: before env.uow. A failure is counted by the tenant's lockout policy.
    outcome = services.factors.verify_second_factor(env.tenant, account_id, kind, answer, challenge, services.request)
    if kind is FactorKind.PASSKEY:  # used once, whatever the outcome
        _set_challenge(flow, services.factors.second_factor_challenge(env.tenant, services.factors.factors(account_id)))
    if not outcome.ok:
        _refused_factor(flow, kind, outcome.status.value, outcome.retry_at, outcome.remaining_attempts)
        return Advance(LoginState.SECOND_FACTOR)
    flow.context.amr = combined_amr([*flow.context.amr, *outcome.amr])
    flow.context.second_factor_done, flow.context.second_factor = True, kind.value
    _set_challenge(flow, None)
    account = _account(flow, env)
    if account is None:
        return Reject({"login": "locked"})
    return _next(flow, account, env)


def _ask_second_factor(flow: LoginFlow, env: StepEnv, factors: Sequence[SecondFactor]) -> StepResult[LoginState]:
    flow.context.factor_kinds = [kind.value for kind in login_kinds(factors)]
    _set_challenge(flow, services_of(env).factors.second_factor_challenge(env.tenant, factors))
    return Advance(LoginState.SECOND_FACTOR)


def _set_challenge(flow: LoginFlow, challenge: Challenge | None) -> None:
    flow.context.passkey_challenge = challenge.value if challenge else None
    flow.context.passkey_options = challenge.options_json if challenge else None


def _refused_factor(
    flow: LoginFlow, kind: FactorKind, status: str, retry_at: datetime | None, remaining: int | None
) -> None:
    flow.context.factor_error, flow.context.factor_error_kind = status, kind.value
    flow.context.retry_at, flow.context.remaining_attempts = retry_at, remaining


# -- CONFIRM_EMAIL --------------------------------------------------------------------------------


def confirm_email(flow: LoginFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[LoginState]:
    """The code of the confirmation email; or "send it again"; or "I used the link, continue"."""
    flow.context.clear_feedback()
    action = data.get("action", "confirm")
    if action == "resend":
        return _resend_confirmation(flow, env)
    account = _account(flow, env)
    if account is None:
        return Reject({"login": "locked"})
    if action == "continue":
        # The link of the email may have been opened meanwhile, in this browser or another one.
        return _next(flow, account, env) if account.email_verified else Reject({"code": "not_confirmed"})
    if action != "confirm":
        return Reject({"action": "required"})
    code = data.get("code", "").strip()
    if not code:
        return Reject({"code": "required"})
    if len(code) > CODE_INPUT_MAX:
        return Reject({"code": "invalid"})
    services = services_of(env)
    token = services.tokens.redeem_code(env.uow, account.id, TokenPurpose.CONFIRM_EMAIL, code, env.now)
    if token is None or not _same_address(token.target, account.email):
        latest = env.uow.accounts.latest_token(account.id, TokenPurpose.CONFIRM_EMAIL)
        usable = latest is not None and latest.usable(env.now, MAX_CODE_ATTEMPTS)
        # Counted: a wrong code is a guess (the token counts its tries too; the runner commits them).
        return Reject({"code": "wrong" if usable else "expired"}, counts=True)
    account.email_verified_at = env.now
    account.updated_at = env.now
    env.uow.accounts.save(account)
    # As the registration's link does: once confirmed, no older link or code stays usable.
    env.uow.accounts.revoke_tokens(account.id, TokenPurpose.CONFIRM_EMAIL, env.now)
    _audit(env, "account.email_confirmed", account.id, {"method": "code", "flow": "login"})
    return _next(flow, account, env)


def _resend_confirmation(flow: LoginFlow, env: StepEnv) -> StepResult[LoginState]:
    services = services_of(env)
    account_id = _account_id(flow)
    # The cooldown's counter has its own transaction: before the first use of env.uow.
    decision = services.resend_throttle.hit(
        f"confirm-email-resend:{env.tenant.id}:{account_id}", 1, RESEND_COOLDOWN_SECONDS
    )
    if not decision.allowed:
        flow.context.retry_at = env.now + timedelta(seconds=decision.retry_after_seconds)
        return Reject({"resend": "cooldown"})
    account = _account(flow, env)
    if account is None or not account.email:
        return Reject({"login": "locked"})
    if account.email_verified:  # confirmed by the link meanwhile: no email needed any more
        return _next(flow, account, env)
    issued = services.tokens.issue(
        env.uow, account.id, TokenPurpose.CONFIRM_EMAIL, env.now, CONFIRMATION_LIFETIME, target=account.email
    )
    queue_email(
        env.uow,
        env.tenant,
        CONFIRM_TEMPLATE,
        account.locale,
        account.email,
        confirmation_email_context(env, services, account, issued.link_token, issued.code),
        now=env.now,
        sensitive=True,
    )
    _audit(env, "account.confirmation_sent", account.id, {"reason": "resend", "flow": "login"})
    flow.context.email_sent_at = env.now
    return Advance(LoginState.CONFIRM_EMAIL)


def confirmation_email_context(
    env: StepEnv, services: LoginServices, account: Account, link_token: str, code: str
) -> dict[str, Any]:
    """The variables of the registration's ``confirm_email`` template: the same email as at sign-up."""
    return {
        "name": account.given_name,
        "confirm_url": f"{services.base_url}/{env.tenant.slug}/confirm-email?token={quote(link_token, safe='')}",
        "code": code,
        "hours": int(CONFIRMATION_LIFETIME.total_seconds() // 3600),
    }


def _same_address(target: str | None, email: str | None) -> bool:
    """A token made for an older address does not confirm the current one."""
    return target is None or (email is not None and normalize_email(target) == normalize_email(email))


# -- CHANGE_PASSWORD ------------------------------------------------------------------------------


def change_password(flow: LoginFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[LoginState]:
    """A new password, twice, by the tenant's rules and unlike the current one (seed 000)."""
    flow.context.clear_feedback()
    services = services_of(env)
    account_id = _account_id(flow)
    try:
        # Reads and hashes in its own read transaction: before the first use of env.uow.
        new = services.passwords.prepare(
            env.tenant, account_id, data.get("password", ""), data.get("password_confirm", "")
        )
    except PolicyViolation as error:
        flow.context.failed_rules = [str(rule) for rule in _rules_of(error)]
        return Reject({"password": "policy"})
    except InvalidInput as error:
        return Reject({str(error.details.get("field", "password")): str(error.details.get("reason", "invalid"))})
    if _account(flow, env) is None:  # locked meanwhile: its password is not ours to change
        return Reject({"login": "locked"})
    changed = services.passwords.apply(
        env.uow, env.tenant, new, _as_account(services, account_id), reason="forced_at_login"
    )
    return _next(flow, changed.account, env)


def _rules_of(error: PolicyViolation) -> list[object]:
    rules = error.details.get("rules", [])
    return list(rules) if isinstance(rules, list | tuple) else []


# -- REVIEW_PROFILE -------------------------------------------------------------------------------


def review_profile(flow: LoginFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[LoginState]:
    """ "This is correct", or corrected names; either way the review is done."""
    flow.context.clear_feedback()
    action = data.get("action", "")
    corrected: dict[str, str] = {}
    if action == "correct":
        errors: dict[str, str] = {}
        for name in ("given_name", "family_name"):
            try:
                corrected[name] = clean_name(data.get(name, ""), name)
            except InvalidInput as error:
                errors[name] = str(error.details.get("reason", "invalid"))
        if errors:
            return Reject(errors)
    elif action != "confirm":
        return Reject({"action": "required"})
    account = _account(flow, env)
    if account is None:
        return Reject({"login": "locked"})
    changed = sorted(name for name, value in corrected.items() if getattr(account, name) != value)
    for name in changed:
        setattr(account, name, corrected[name])
    account.profile_review_required = False
    account.updated_at = env.now
    env.uow.accounts.save(account)
    _audit(env, "account.profile_reviewed", account.id, {"corrected": changed})
    return _next(flow, account, env)


# -- after each step ------------------------------------------------------------------------------


def _next(flow: LoginFlow, account: Account, env: StepEnv) -> StepResult[LoginState]:
    """What the account still owes before its session, in order; the session when nothing.

    The second factor comes first: the states after it change the account (a new password,
    corrected names), which the password alone must not allow. It is checked against the
    account's factors as they are now, in the step's transaction.
    """
    if not flow.context.second_factor_done:
        factors = env.uow.factors.of_account(account.id)
        if second_factor_required(env.tenant.policy.mfa, factors):
            return _ask_second_factor(flow, env, factors)
    if env.tenant.policy.require_confirmed_email and not account.email_verified:
        return Advance(LoginState.CONFIRM_EMAIL)
    if account.password_change_required:
        return Advance(LoginState.CHANGE_PASSWORD)
    if account.profile_review_required:
        flow.context.given_name = account.given_name
        flow.context.family_name = account.family_name
        return Advance(LoginState.REVIEW_PROFILE)
    return _open_session(flow, env)


def _open_session(flow: LoginFlow, env: StepEnv) -> StepResult[LoginState]:
    """Open the session (a new id at every login), ending the browser's previous one."""
    services = services_of(env)
    account = _account(flow, env)
    if account is None:  # locked or closed since the password was checked
        return Reject({"login": "locked"})
    replaced = _end_previous_session(env, services)
    amr = flow.context.amr or list(SESSION_AMR)
    opened = SessionService.open(
        env.uow,
        account,
        env.tenant,
        env.now,
        acr=SESSION_ACR,
        amr=amr,
        ip=services.request.ip,
        user_agent=services.request.user_agent,
        token=services.session_token,
    )
    account.last_login_at = env.now
    env.uow.accounts.save(account)
    flow.context.session_id = opened.session.id
    _audit(
        env,
        "login.succeeded",
        account.id,
        {
            "method": flow.context.first_factor or "password",
            "second_factor": flow.context.second_factor,
            "acr": SESSION_ACR,
            "amr": amr,
            "session_ref": opened.session.id[:16],
            "replaced": replaced,
        },
    )
    return Advance(LoginState.DONE)


def _end_previous_session(env: StepEnv, services: LoginServices) -> bool:
    return end_replaced_session(env.uow, env.tenant.id, services.previous_session_token, env.now)


# -- helpers --------------------------------------------------------------------------------------


def _account_id(flow: LoginFlow) -> int:
    if flow.context.account_id is None:
        raise RuntimeError("a login state after CREDENTIALS without an account")
    return flow.context.account_id


def _account(flow: LoginFlow, env: StepEnv) -> Account | None:
    """The flow's account, if it may still log in (support may have locked it meanwhile)."""
    account = env.uow.accounts.get(_account_id(flow), for_update=True)
    if account is None or account.tenant_id != env.tenant.id or not account.can_log_in:
        return None
    return account


def _as_account(services: LoginServices, account_id: int) -> RequestContext:
    """Once the password was right, the account acts (for the audit log)."""
    return replace(services.request, actor=f"account:{account_id}")


def _audit(env: StepEnv, event_type: str, account_id: int, details: Mapping[str, Any]) -> None:
    services = services_of(env)
    event = AuditEvent(
        tenant_id=env.tenant.id,
        type=event_type,
        occurred_at=env.now,
        actor=f"account:{account_id}",
        subject=f"account:{account_id}",
        ip=services.request.ip,
        correlation_id=services.request.correlation_id,
        details=dict(details),
    )
    check_event(event)
    env.uow.audit.append(event)

"""Steps of the keypad login flow: one function per state that takes input (see states.mmd).

Every validated attempt draws a new keypad layout, whatever its outcome, so a step that fails
still *advances* (to its own state): the runner saves the context, and with it the new layout,
only on an advance. The outcome is said by ``context.error`` on the page that follows.

The code is checked by :class:`~sesame.methods.keypad.login.KeypadAuthenticator`, which keeps
its own transactions (counters, audit); hashing and lockout changes also come first: every step
does them before its first use of ``env.uow``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sesame.domain.accounts import Account
from sesame.domain.audit import AuditEvent, check_event
from sesame.domain.customer_numbers import INPUT_MAX, normalize_customer_number, number_problem
from sesame.domain.keypad import CODE_LENGTH, draw_layout, split_refs
from sesame.flows.base import Advance, Flow, StepEnv, StepResult
from sesame.flows.keypad_login.states import KeypadIntent, KeypadLoginContext, KeypadLoginState
from sesame.methods.keypad.login import KeypadAuthenticator
from sesame.ports import KeyedHasher
from sesame.services.authentication import AuthStatus
from sesame.services.banque import UNCHANGED, BankCustomers
from sesame.services.context import RequestContext
from sesame.services.sessions import SessionService, end_replaced_session

KeypadFlow = Flow[KeypadLoginState, KeypadLoginContext]

#: Where the page puts :class:`KeypadServices` in the steps' extras.
EXTRAS_KEY = "keypad"
#: A keypad login is eIDAS "low": one factor, a memorized secret checked by the server. RFC 8176
#: names that "pwd"; its "pin" is a PIN that unlocks a key held on the device, which this is not.
SESSION_ACR = "eidas1"
SESSION_AMR = ("pwd",)
#: The keyed hash of the new code's first entry, compared with the second one.
NEW_CODE_PURPOSE = "keypad-new-code"


@dataclass(frozen=True, slots=True)
class KeypadServices:
    """What the steps use; the page gives it for each submit as ``extras["keypad"]``."""

    authenticator: KeypadAuthenticator
    customers: BankCustomers
    keyed: KeyedHasher
    request: RequestContext
    #: The cookie value of the session this submit may open, drawn before the step runs.
    session_token: str
    #: The browser's session cookie for this tenant, if any: that session ends ("replaced").
    previous_session_token: str | None = None


def services_of(env: StepEnv) -> KeypadServices:
    services = env.extras.get(EXTRAS_KEY)
    if not isinstance(services, KeypadServices):
        raise TypeError(f"the keypad login flow needs KeypadServices in extras[{EXTRAS_KEY!r}]")
    return services


# -- the keypad's input ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """What a submit of the keypad brings: a key press (no JavaScript), a whole code, or an error."""

    pressed: bool = False
    code: str | None = None
    error: str | None = None


def read_keypad(context: KeypadLoginContext, data: Mapping[str, str]) -> Entry:
    """Decode the keys with this flow's layout (references of another layout decode to nothing).

    Without JavaScript each key is a submit button (``press``), kept in the context until
    "validate"; with JavaScript the page sends the whole sequence at once (``keys``).
    """
    layout = context.layout
    if "press" in data:
        if layout is None or layout.digit_of(data["press"]) is None:
            context.pending = []
            return Entry(error="keypad_changed")
        if len(context.pending) < CODE_LENGTH:
            context.pending.append(data["press"])
        return Entry(pressed=True)
    action = data.get("action", "validate")
    if action == "clear":
        context.pending = []
        return Entry(pressed=True)
    if action == "correct":
        context.pending = context.pending[:-1]
        return Entry(pressed=True)
    refs = split_refs(data.get("keys", ""))
    pending, context.pending = context.pending, []
    if action != "validate" or refs is None:
        return Entry(error="keypad_changed")
    refs = pending + refs
    if not refs:
        return Entry(error="code_required")
    code = layout.decode(refs) if layout is not None else None
    if code is None:
        return Entry(error="keypad_changed")  # a stale page, or keys recorded in another flow
    if len(code) != CODE_LENGTH:
        return Entry(error="code_incomplete")
    return Entry(code=code)


# -- CREDENTIALS -------------------------------------------------------------------------------------


def credentials(flow: KeypadFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[KeypadLoginState]:
    """Customer number and code; a refusal never tells whether the number is anyone's."""
    context = flow.context
    context.clear_feedback()
    typed = data.get("customer_number", "")
    context.customer_number = typed.strip()[:INPUT_MAX]
    entry = read_keypad(context, data)
    here = Advance(KeypadLoginState.CREDENTIALS)
    if entry.pressed:
        return here
    context.layout = draw_layout()  # whatever this attempt gives, the next one has new keys
    problem = number_problem(typed)
    if problem is not None:  # a typo, caught by the check digit before any lookup
        context.error = f"number_{problem.value}"
        return here
    if entry.code is None:
        context.error = entry.error
        return here
    number = normalize_customer_number(typed)
    context.customer_number = number
    services = services_of(env)
    outcome = services.authenticator.authenticate(env.tenant, number, entry.code, services.request)
    if outcome.status is AuthStatus.INVALID:
        context.error, context.remaining_attempts = "invalid", outcome.remaining_attempts
        return here
    if outcome.status in (AuthStatus.SUSPENDED, AuthStatus.THROTTLED):
        context.error, context.retry_at = outcome.status.value, outcome.retry_at
        return here
    if outcome.status is AuthStatus.LOCKED or outcome.account is None:
        context.error = "locked"
        return here
    context.account_id = outcome.account.id
    context.recovery_token_id = outcome.recovery_token_id
    if context.intent is KeypadIntent.SECURE:
        return _secure(flow, env)
    if outcome.must_change_code:
        return Advance(KeypadLoginState.NEW_CODE)
    return _open_session(flow, env, code_changed=False)


def _secure(flow: KeypadFlow, env: StepEnv) -> StepResult[KeypadLoginState]:
    """ "Secure my access" from the login page: the code proved it is the customer asking."""
    services = services_of(env)
    account = env.uow.accounts.get(_account_id(flow), for_update=True)
    if account is None or account.tenant_id != env.tenant.id:
        flow.context.error = "locked"
        return Advance(KeypadLoginState.CREDENTIALS)
    acting = _as_account(services, account.id)
    services.customers.secure_access(env.uow, env.tenant, account, acting, env.now, via="login")
    flow.context.recovery_token_id = None
    return Advance(KeypadLoginState.SECURED)


# -- NEW_CODE and CONFIRM_CODE ----------------------------------------------------------------------------


def new_code(flow: KeypadFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[KeypadLoginState]:
    """The new code, first entry: the rules of a good code, and not the code in use."""
    context = flow.context
    context.clear_feedback()
    entry = read_keypad(context, data)
    here = Advance(KeypadLoginState.NEW_CODE)
    if entry.pressed:
        return here
    context.layout = draw_layout()
    if entry.code is None:
        context.error = entry.error
        return here
    services = services_of(env)
    # Reads in its own transaction and verifies the current code (slow): before env.uow.
    problems = services.customers.code_problems(env.tenant, _account_id(flow), entry.code)
    if problems:
        context.error = UNCHANGED if UNCHANGED in problems else "trivial"
        context.problems = problems
        return here
    context.new_code_digest = services.keyed.digest(NEW_CODE_PURPOSE, f"{flow.id}:{entry.code}")
    return Advance(KeypadLoginState.CONFIRM_CODE)


def confirm_code(flow: KeypadFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[KeypadLoginState]:
    """The new code again: the same code saves it and opens the session; another starts over."""
    context = flow.context
    context.clear_feedback()
    if data.get("action") == "restart":
        context.new_code_digest, context.pending, context.layout = None, [], draw_layout()
        return Advance(KeypadLoginState.NEW_CODE)
    entry = read_keypad(context, data)
    if entry.pressed:
        return Advance(KeypadLoginState.CONFIRM_CODE)
    context.layout = draw_layout()
    if entry.code is None:
        context.error = entry.error
        return Advance(KeypadLoginState.CONFIRM_CODE)
    services = services_of(env)
    digest = context.new_code_digest
    if digest is None or not services.keyed.matches(NEW_CODE_PURPOSE, f"{flow.id}:{entry.code}", digest):
        context.new_code_digest, context.error = None, "mismatch"
        return Advance(KeypadLoginState.NEW_CODE)
    account_id = _account_id(flow)
    reopening = context.recovery_token_id is not None
    # Hashing (slow) and lifting the lockout (counters) come before the step's transaction.
    new = services.customers.prepare_new_code(env.tenant, account_id, entry.code, reopening=reopening)
    acting = _as_account(services, account_id)
    token_id = context.recovery_token_id
    account = services.customers.apply_new_code(env.uow, env.tenant, new, acting, env.now, recovery_token_id=token_id)
    context.new_code_digest, context.recovery_token_id = None, None
    if account is None:  # locked by support meanwhile, or the letter's code used by another attempt
        context.account_id, context.error = None, "locked"
        return Advance(KeypadLoginState.CREDENTIALS)
    return _open_session(flow, env, code_changed=True)


# -- the session ----------------------------------------------------------------------------------------


def _open_session(flow: KeypadFlow, env: StepEnv, *, code_changed: bool) -> StepResult[KeypadLoginState]:
    """Open the session (a new id at every login), ending the browser's previous one."""
    services = services_of(env)
    account = env.uow.accounts.get(_account_id(flow), for_update=True)
    if account is None or account.tenant_id != env.tenant.id or not account.can_log_in:
        flow.context.account_id, flow.context.error = None, "locked"
        return Advance(KeypadLoginState.CREDENTIALS)
    replaced = _end_previous_session(env, services)
    opened = SessionService.open(
        env.uow,
        account,
        env.tenant,
        env.now,
        acr=SESSION_ACR,
        amr=SESSION_AMR,
        ip=services.request.ip,
        user_agent=services.request.user_agent,
        token=services.session_token,
    )
    account.last_login_at = env.now
    env.uow.accounts.save(account)
    flow.context.session_id = opened.session.id
    _audit(
        env,
        account,
        "login.succeeded",
        {
            "method": "keypad",
            "acr": SESSION_ACR,
            "session_ref": opened.session.id[:16],
            "replaced": replaced,
            "code_changed": code_changed,
        },
    )
    return Advance(KeypadLoginState.DONE)


def _end_previous_session(env: StepEnv, services: KeypadServices) -> bool:
    return end_replaced_session(env.uow, env.tenant.id, services.previous_session_token, env.now)


# -- helpers --------------------------------------------------------------------------------------------


def _account_id(flow: KeypadFlow) -> int:
    if flow.context.account_id is None:
        raise RuntimeError("a keypad login state after CREDENTIALS without an account")
    return flow.context.account_id


def _as_account(services: KeypadServices, account_id: int) -> RequestContext:
    """Once the code was right, the account acts (for the audit log)."""
    return replace(services.request, actor=f"account:{account_id}")


def _audit(env: StepEnv, account: Account, event_type: str, details: Mapping[str, Any]) -> None:
    services = services_of(env)
    event = AuditEvent(
        tenant_id=env.tenant.id,
        type=event_type,
        occurred_at=env.now,
        actor=f"account:{account.id}",
        subject=f"account:{account.id}",
        ip=services.request.ip[:64],
        correlation_id=services.request.correlation_id,
        details=dict(details),
    )
    check_event(event)
    env.uow.audit.append(event)

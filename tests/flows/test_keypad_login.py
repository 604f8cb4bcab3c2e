"""The keypad login flow through the flow runner, on the real test database with the frozen clock.

First login with the code of the letter, then "choose your new code" (trivial codes refused);
a new layout every attempt and references that mean nothing to another flow; three failures
suspend for an hour, unknown numbers alike; the lockout cap locks until support or a code by
post; "secure my access"; keys pressed one submit at a time, without JavaScript.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import AccountStatus, TokenPurpose
from sesame.domain.customers import SECURED_BY_CUSTOMER
from sesame.flows.keypad_login.states import KeypadIntent, KeypadLoginState
from sesame.flows.keypad_login.steps import SESSION_ACR, SESSION_AMR
from sesame.services.authentication import lockout_key
from sesame.services.banque import NEW_CODE_LETTER
from sesame.services.sessions import SessionService, session_id_of
from tests.banque_support import (
    BANK_OFFICE,
    GOOD_CODE,
    Customer,
    KeypadFlow,
    bank,
    code_in,
    current,
    customers,
    enrol,
    keys_for,
    letters,
    log_in,
    services,
    start,
    submit,
    type_code,
)

UNKNOWN = "7992739875"  # well formed, nobody's
WRONG = "390517"


@pytest.fixture
def customer(container: Container) -> Customer:
    return enrol(container)


def choose_code(container: Container, flow: KeypadFlow, code: str = GOOD_CODE) -> KeypadFlow:
    flow = type_code(container, flow, code)
    assert flow.state is KeypadLoginState.CONFIRM_CODE, flow.context.error
    return type_code(container, flow, code)


def first_login(container: Container, customer: Customer, code: str = GOOD_CODE) -> KeypadFlow:
    flow = log_in(container, customer.number, customer.code)
    assert flow.state is KeypadLoginState.NEW_CODE, flow.context.error
    return choose_code(container, flow, code)


def audit(container: Container) -> list[tuple[str, str, dict[str, object]]]:
    with container.uow(readonly=True) as uow:
        return [(r.event.type, r.event.subject, r.event.details) for r in uow.audit.chain(bank(container).id)]


def account_status(container: Container, customer: Customer) -> tuple[AccountStatus, str | None]:
    account = customers(container).find(bank(container), customer.number)
    return account.status, account.status_reason


# -- the first login --------------------------------------------------------------------------------------------


def test_first_login_goes_straight_to_choosing_a_new_code(container: Container, customer: Customer) -> None:
    flow = first_login(container, customer)
    assert flow.state is KeypadLoginState.DONE
    (session,) = container.sessions.list(customer.account_id)
    assert (session.acr, session.amr) == (SESSION_ACR, list(SESSION_AMR)) == ("eidas1", ["pwd"])
    assert session.id == flow.context.session_id
    account = customers(container).find(bank(container), customer.number)
    assert not account.password_change_required and account.last_login_at is not None
    types = [event for event, _, _ in audit(container)]
    assert types[-2:] == ["keypad.code_changed", "login.succeeded"]
    # Then the new code opens the session directly, and the letter's code no longer works.
    assert log_in(container, customer.number, GOOD_CODE).state is KeypadLoginState.DONE
    assert log_in(container, customer.number, customer.code).context.error == "invalid"


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("000000", "repeated"),
        ("123456", "sequence"),
        ("654321", "sequence"),
        ("112233", "common"),
        ("070485", "birth_date"),  # 7 April 1985: DDMMYY
        ("850407", "birth_date"),  # YYMMDD
    ],
)
def test_trivial_codes_are_refused(container: Container, customer: Customer, code: str, problem: str) -> None:
    flow = log_in(container, customer.number, customer.code)
    flow = type_code(container, flow, code)
    assert flow.state is KeypadLoginState.NEW_CODE
    assert (flow.context.error, problem in flow.context.problems) == ("trivial", True)


def test_the_letters_code_and_the_customer_number_are_refused(container: Container, customer: Customer) -> None:
    flow = log_in(container, customer.number, customer.code)
    flow = type_code(container, flow, customer.code)
    assert flow.context.error == "unchanged"
    flow = type_code(container, flow, customer.number[:6])
    assert "customer_number" in flow.context.problems


def test_two_different_entries_start_the_choice_again(container: Container, customer: Customer) -> None:
    flow = log_in(container, customer.number, customer.code)
    flow = type_code(container, flow, GOOD_CODE)
    flow = type_code(container, flow, "480916")
    assert (flow.state, flow.context.error) == (KeypadLoginState.NEW_CODE, "mismatch")
    assert choose_code(container, flow).state is KeypadLoginState.DONE
    # The first entry is kept as a keyed hash bound to the flow, never as digits. (Digests are hex
    # noise, where 6 given digits turn up by chance: they are checked for their shape instead.)
    context = dict(current(container, flow).record.context)
    digests = [context.pop(name, None) for name in ("new_code_digest", "session_id")]
    assert all(digest is None or re.fullmatch(r"[0-9a-f]{64}", str(digest)) for digest in digests)
    assert GOOD_CODE not in json.dumps(context)


# -- the keypad: a new layout every attempt, references of one flow only -------------------------------------------


def test_every_attempt_gets_a_new_layout(container: Container, customer: Customer) -> None:
    flow = start(container)
    seen: set[str] = set()
    for _ in range(2):
        refs = {key.ref for key in current(container, flow).context.layout.keys}  # type: ignore[union-attr]
        assert seen.isdisjoint(refs)
        seen |= refs
        type_code(container, flow, WRONG, customer.number)
    assert current(container, flow).context.error == "invalid"


def test_a_recorded_submission_replayed_in_another_flow_fails(container: Container, customer: Customer) -> None:
    recorded_in = start(container)
    recorded = {"customer_number": customer.number, "keys": keys_for(recorded_in.context.layout, customer.code)}
    other = start(container)
    before = audit(container)
    submit(container, other, recorded)
    assert current(container, other).context.error == "keypad_changed"
    assert audit(container) == before  # nothing was checked, nothing counted
    # ... and replayed in its own flow after an attempt, it fails too (the layout changed).
    submit(
        container,
        recorded_in,
        {"customer_number": customer.number, "keys": keys_for(recorded_in.context.layout, WRONG)},
    )
    submit(container, recorded_in, recorded)
    assert current(container, recorded_in).context.error == "keypad_changed"


def test_digits_are_never_accepted_as_keys(container: Container, customer: Customer) -> None:
    flow = start(container)
    submit(container, flow, {"customer_number": customer.number, "keys": customer.code})
    assert current(container, flow).context.error == "keypad_changed"


def test_keys_without_javascript_one_submit_each(container: Container, customer: Customer) -> None:
    flow = start(container)
    layout = flow.context.layout
    assert layout is not None
    ref = {key.digit: key.ref for key in layout.keys}
    for digit in customer.code[:3] + "9":
        submit(container, flow, {"customer_number": customer.number, "press": ref[digit]})
    assert current(container, flow).context.dots == 4
    submit(container, flow, {"customer_number": customer.number, "action": "correct"})
    assert current(container, flow).context.layout == layout  # pressing keys keeps the layout
    for digit in customer.code[3:]:
        submit(container, flow, {"customer_number": customer.number, "press": ref[digit]})
    submit(container, flow, {"customer_number": customer.number, "action": "validate", "keys": ""})
    assert current(container, flow).state is KeypadLoginState.NEW_CODE


def test_clear_and_incomplete_codes(container: Container, customer: Customer) -> None:
    flow = start(container)
    ref = {key.digit: key.ref for key in flow.context.layout.keys}  # type: ignore[union-attr]
    submit(container, flow, {"customer_number": customer.number, "press": ref["1"]})
    submit(container, flow, {"customer_number": customer.number, "action": "clear"})
    assert current(container, flow).context.dots == 0
    flow = type_code(container, flow, customer.code[:5], customer.number)
    assert flow.context.error == "code_incomplete"
    submit(container, flow, {"customer_number": customer.number, "keys": ""})
    assert current(container, flow).context.error == "code_required"


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", "number_required"),
        ("79927a9875", "number_not_digits"),
        ("79927", "number_length"),
        ("7992739876", "number_check_digit"),
    ],
)
def test_a_mistyped_number_is_caught_before_any_lookup(
    container: Container, customer: Customer, typed: str, error: str
) -> None:
    before = audit(container)
    flow = type_code(container, start(container), customer.code, typed)
    assert flow.context.error == error
    assert audit(container) == before  # nothing looked up, nothing counted


# -- suspension after three failures, unknown numbers alike -------------------------------------------------------


def test_three_failures_suspend_for_an_hour(container: Container, customer: Customer, clock: FrozenClock) -> None:
    flow = start(container)
    outcomes = []
    for _ in range(3):
        flow = type_code(container, flow, WRONG, customer.number)
        outcomes.append((flow.context.error, flow.context.remaining_attempts))
    assert outcomes == [("invalid", 2), ("invalid", 1), ("suspended", None)]
    assert flow.context.retry_at == clock.now() + timedelta(hours=1)
    clock.advance(minutes=59)  # a flow lives an hour: the person comes back with a new one
    refused = type_code(container, start(container), customer.code, customer.number)
    assert (refused.context.error, refused.context.retry_at) == ("suspended", clock.now() + timedelta(minutes=1))
    clock.advance(minutes=1)
    assert type_code(container, start(container), customer.code, customer.number).state is KeypadLoginState.NEW_CODE


def test_an_unknown_number_gets_the_same_answers(container: Container, customer: Customer, clock: FrozenClock) -> None:
    def three_wrong(number: str) -> list[tuple[str | None, int | None, object]]:
        flow = start(container)
        seen = []
        for _ in range(4):
            flow = type_code(container, flow, WRONG, number)
            seen.append((flow.context.error, flow.context.remaining_attempts, flow.context.retry_at))
        return seen

    assert three_wrong(customer.number) == three_wrong(UNKNOWN)


def test_failures_count_across_flows_and_entry_points(container: Container, customer: Customer) -> None:
    type_code(container, start(container), WRONG, customer.number)
    type_code(container, start(container, KeypadIntent.SECURE), WRONG, customer.number)
    flow = type_code(container, start(container), WRONG, customer.number)
    assert flow.context.error == "suspended"


def test_the_lockout_cap_locks_until_support_unlocks(
    container: Container, customer: Customer, clock: FrozenClock
) -> None:
    cap = bank(container).policy.lockout.max_suspensions
    flow = start(container)
    for _ in range(cap):
        flow = start(container)  # a flow lives an hour: each round is a new visit
        for _ in range(3):
            flow = type_code(container, flow, WRONG, customer.number)
        clock.advance(hours=1)
    assert flow.context.error == "locked"
    clock.advance(days=30)  # a lock does not wear off
    flow = start(container)
    assert type_code(container, flow, customer.code, customer.number).context.error == "locked"
    customers(container).unlock(bank(container), customer.number, BANK_OFFICE)
    assert type_code(container, flow, customer.code, customer.number).state is KeypadLoginState.NEW_CODE


def test_the_lockout_cap_is_reopened_by_a_code_by_post(
    container: Container, customer: Customer, clock: FrozenClock
) -> None:
    first_login(container, customer)
    flow = start(container)
    for _ in range(bank(container).policy.lockout.max_suspensions):
        flow = start(container)  # a flow lives an hour: each round is a new visit
        for _ in range(3):
            flow = type_code(container, flow, WRONG, customer.number)
        clock.advance(hours=1)
    flow = start(container)
    assert type_code(container, flow, GOOD_CODE, customer.number).context.error == "locked"
    customers(container).request_code_by_post(bank(container), customer.number, BANK_OFFICE)
    code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    flow = type_code(container, flow, code, customer.number)
    assert flow.state is KeypadLoginState.NEW_CODE
    assert choose_code(container, flow, "592048").state is KeypadLoginState.DONE
    # The lockout is lifted: the new code works at once, three failures are allowed again.
    assert log_in(container, customer.number, "592048").state is KeypadLoginState.DONE
    counters = container.counters
    assert counters.get(f"lockout:{lockout_key(bank(container), customer.number)}:locked", clock.now()) == 0


def test_a_locked_accesses_recovery_code_allows_few_tries(
    container: Container, customer: Customer, clock: FrozenClock
) -> None:
    flow = start(container)
    for _ in range(bank(container).policy.lockout.max_suspensions):
        flow = start(container)  # a flow lives an hour: each round is a new visit
        for _ in range(3):
            flow = type_code(container, flow, WRONG, customer.number)
        clock.advance(hours=1)
    flow = start(container)
    customers(container).request_code_by_post(bank(container), customer.number, BANK_OFFICE)
    code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    for _ in range(5):
        assert type_code(container, flow, WRONG, customer.number).context.error == "locked"
    assert type_code(container, flow, code, customer.number).context.error == "locked"  # the letter's tries are used


# -- recovery by post and "secure my access" ------------------------------------------------------------------------


def test_a_code_by_post_leaves_the_current_code_working_until_used(container: Container, customer: Customer) -> None:
    first_login(container, customer)
    customers(container).request_code_by_post(bank(container), customer.number, BANK_OFFICE)
    code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    assert log_in(container, customer.number, GOOD_CODE).state is KeypadLoginState.DONE  # asking is not blocking
    flow = log_in(container, customer.number, code)
    assert flow.state is KeypadLoginState.NEW_CODE
    assert choose_code(container, flow, "592048").state is KeypadLoginState.DONE
    with container.uow(readonly=True) as uow:
        token = uow.accounts.latest_token(customer.account_id, TokenPurpose.RECOVERY)
    assert token is not None and token.used_at is not None
    assert log_in(container, customer.number, code).context.error == "invalid"  # used once only
    assert log_in(container, customer.number, GOOD_CODE).context.error == "invalid"  # the old code is replaced


def test_secure_my_access_from_the_login_page(container: Container, customer: Customer, clock: FrozenClock) -> None:
    first_login(container, customer)
    assert len(container.sessions.list(customer.account_id)) == 1
    flow = type_code(container, start(container, KeypadIntent.SECURE), GOOD_CODE, customer.number)
    assert flow.state is KeypadLoginState.SECURED
    assert account_status(container, customer) == (AccountStatus.LOCKED, SECURED_BY_CUSTOMER)
    assert container.sessions.list(customer.account_id) == []
    events = [event for event, _, _ in audit(container)]
    assert "access.secured" in events
    # The customer's own code no longer opens anything...
    assert log_in(container, customer.number, GOOD_CODE).context.error == "locked"
    # ...the code of the letter does, through a new code.
    code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    flow = log_in(container, customer.number, code)
    assert flow.state is KeypadLoginState.NEW_CODE
    assert choose_code(container, flow, "592048").state is KeypadLoginState.DONE
    assert account_status(container, customer) == (AccountStatus.ACTIVE, None)
    assert ("keypad.code_changed", f"account:{customer.account_id}") in [(e, s) for e, s, _ in audit(container)]


def test_a_support_lock_is_not_reopened_by_a_code_by_post(container: Container, customer: Customer) -> None:
    customers(container).lock(bank(container), customer.number, "fraud", BANK_OFFICE)
    customers(container).send_code_by_post(bank(container), customer.number, BANK_OFFICE)
    code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    assert log_in(container, customer.number, code).context.error == "locked"


def test_a_parallel_use_of_the_letters_code_wins_once(container: Container, customer: Customer) -> None:
    customers(container).send_code_by_post(bank(container), customer.number, BANK_OFFICE)
    code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    first, second = log_in(container, customer.number, code), log_in(container, customer.number, code)
    assert first.state is second.state is KeypadLoginState.NEW_CODE
    assert choose_code(container, first).state is KeypadLoginState.DONE
    assert choose_code(container, second, "592048").context.error == "locked"


# -- the session and the audit -----------------------------------------------------------------------------------------


def test_a_new_login_ends_the_browsers_previous_session(container: Container, customer: Customer) -> None:
    first_login(container, customer)
    before = services(container)
    assert type_code(container, start(container), GOOD_CODE, customer.number, before).state is KeypadLoginState.DONE
    # The same browser logs in again, sending that session's cookie: it ends as "replaced".
    after = services(container, previous=before.session_token)
    assert type_code(container, start(container), GOOD_CODE, customer.number, after).state is KeypadLoginState.DONE
    live = {session.id for session in container.sessions.list(customer.account_id)}
    assert session_id_of(after.session_token) in live and session_id_of(before.session_token) not in live


def test_audit_details_hold_no_code(container: Container, customer: Customer) -> None:
    type_code(container, start(container), WRONG, customer.number)
    first_login(container, customer)
    # Session references aside: 16 hex digits, where 6 given digits turn up now and then.
    dumped = re.sub(r'"session_ref": "[0-9a-f]+"', '"session_ref": ""', json.dumps(audit(container)))
    for secret in (customer.code, GOOD_CODE, WRONG):
        assert secret not in dumped
    types = [event for event, _, _ in audit(container)]
    assert {"login.failed", "keypad.code_changed", "login.succeeded"} <= set(types)


def test_a_session_opened_meanwhile_by_support_lock_gives_none(container: Container, customer: Customer) -> None:
    flow = log_in(container, customer.number, customer.code)
    flow = type_code(container, flow, GOOD_CODE)
    customers(container).lock(bank(container), customer.number, "fraud", BANK_OFFICE)
    flow = type_code(container, flow, GOOD_CODE)
    assert (flow.state, flow.context.error) == (KeypadLoginState.CREDENTIALS, "locked")
    assert SessionService(container.uow, container.clock).list(customer.account_id) == []

"""The recovery flow through the flow machinery: real database, real service, frozen clock."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import FlowStateError, TooManyAttempts
from sesame.domain.tenants import FlowPolicy, PasswordPolicy, Tenant, TenantPolicy
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.recovery.flow import RECOVERY, RECOVERY_FROM_LINK
from sesame.flows.recovery.states import RecoveryContext, RecoveryState
from sesame.flows.recovery.steps import EXTRA_REQUEST, EXTRA_SERVICE
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from sesame.services.recovery import RecoveryService

BROWSER = "browser-cookie-value-recovery"
EMAIL = "jeanne.martin@example.org"
OLD_PASSWORD = "ancienne phrase de passe assez longue"
NEW_PASSWORD = "une nouvelle phrase de passe tres longue"
WHO = RequestContext(ip="192.0.2.44", user_agent="pytest")
CODE_RE = re.compile(r"(?:code|Your code)\s*:\s*(\d{6})")

RecoveryFlow = Flow[RecoveryState, RecoveryContext]


@pytest.fixture
def tenant(container: Container) -> Tenant:
    # The flow outlives the code here (3 h against 1 h), so the code's own expiry can be seen.
    policy = TenantPolicy(password=PasswordPolicy(min_length=15), flows=FlowPolicy(lifetime_seconds=3 * 3600))
    return container.tenants.create("acme", "ACME", policy)


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=EMAIL, given_name="Jeanne", family_name="Martin", verified=True)
    return container.accounts.create(tenant, new, OLD_PASSWORD, RequestContext())


@pytest.fixture
def runner(container: Container) -> FlowRunner:
    return FlowRunner(container.uow, container.clock)


@pytest.fixture
def extras(container: Container) -> dict[str, Any]:
    service = RecoveryService(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        container.password_rules,
        container.settings.base_url,
    )
    return {EXTRA_SERVICE: service, EXTRA_REQUEST: WHO}


class Journey:
    """One browser's recovery flow, step by step."""

    def __init__(self, runner: FlowRunner, tenant: Tenant, extras: dict[str, Any]) -> None:
        self.runner, self.tenant, self.extras = runner, tenant, extras
        self.flow: RecoveryFlow = runner.start(RECOVERY, tenant, BROWSER)

    def submit(self, **data: str) -> SubmitResult[RecoveryState, RecoveryContext]:
        result = self.runner.submit(RECOVERY, self.tenant, self.flow.id, BROWSER, data, extras=self.extras)
        self.flow = result.flow
        return result


@pytest.fixture
def journey(runner: FlowRunner, tenant: Tenant, extras: dict[str, Any]) -> Journey:
    return Journey(runner, tenant, extras)


def latest_code(container: Container) -> str:
    entry = next(e for e in list_messages(container.uow) if e.message.template == "recovery")
    found = CODE_RE.search(entry.message.body_text)
    assert found
    return found.group(1)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_by_code_to_the_end(container: Container, journey: Journey, account: Account, tenant: Tenant) -> None:
    assert journey.flow.state is RecoveryState.REQUEST
    assert journey.submit(email=" Jeanne.Martin@Example.org ").flow.state is RecoveryState.SENT
    assert journey.flow.context.email == "Jeanne.Martin@example.org"  # the domain is normalized, as typed otherwise
    assert journey.submit(code=" ".join(latest_code(container))).flow.state is RecoveryState.NEW_PASSWORD
    result = journey.submit(password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)
    assert result.ok and result.flow.state is RecoveryState.DONE
    assert result.flow.context.verified_by == "code" and not result.flow.context.account_locked
    assert container.authenticator.authenticate(tenant, EMAIL, NEW_PASSWORD, WHO).status is AuthStatus.OK


def test_known_and_unknown_addresses_walk_the_same_states(
    runner: FlowRunner, tenant: Tenant, extras: dict[str, Any], account: Account
) -> None:
    known, unknown = Journey(runner, tenant, extras), Journey(runner, tenant, extras)
    assert known.submit(email=EMAIL).flow.state is unknown.submit(email="nobody@example.org").flow.state
    assert known.flow.state is RecoveryState.SENT
    wrong_known, wrong_unknown = known.submit(code="000000"), unknown.submit(code="000000")
    assert dict(wrong_known.errors) == dict(wrong_unknown.errors) == {"code": "wrong"}
    assert known.flow.record.attempts == unknown.flow.record.attempts == 1
    known_context = known.flow.context.model_dump(exclude={"account_id", "email"})
    assert known_context == unknown.flow.context.model_dump(exclude={"account_id", "email"})


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("", "required"),
        ("   ", "required"),
        ("marie", "invalid"),
        ("a@b", "invalid"),
        ("x" * 400 + "@example.fr", "invalid"),
    ],
)
def test_a_malformed_address_is_refused_without_using_an_attempt(journey: Journey, email: str, error: str) -> None:
    result = journey.submit(email=email)
    assert dict(result.errors) == {"email": error}
    assert result.flow.state is RecoveryState.REQUEST and result.flow.record.attempts == 0


def test_five_wrong_codes_then_only_a_new_email_helps(
    container: Container, journey: Journey, account: Account, clock: FrozenClock
) -> None:
    journey.submit(email=EMAIL)
    code = latest_code(container)
    for _ in range(5):
        assert dict(journey.submit(code=other_code(code)).errors) == {"code": "wrong"}
    assert dict(journey.submit(code=code).errors) == {"code": "exhausted"}  # even the right one
    assert journey.flow.record.attempts == 5
    clock.advance(seconds=61)
    assert journey.submit(action="resend").ok
    assert journey.submit(code=latest_code(container)).flow.state is RecoveryState.NEW_PASSWORD


def test_the_flow_gives_up_after_its_attempts(
    container: Container, journey: Journey, account: Account, clock: FrozenClock
) -> None:
    journey.submit(email=EMAIL)
    for _ in range(5):
        journey.submit(code=other_code(latest_code(container)))
    clock.advance(minutes=2)
    journey.submit(action="resend")  # a fresh code, but the flow keeps counting: 10 attempts in all
    for _ in range(5):
        journey.submit(code=other_code(latest_code(container)))
    with pytest.raises(TooManyAttempts):
        journey.submit(code=latest_code(container))


def test_malformed_codes_use_no_attempt(journey: Journey, account: Account) -> None:
    journey.submit(email=EMAIL)
    assert dict(journey.submit(code="").errors) == {"code": "required"}
    for code in ("12345", "1234567", "abcdef", "12 34 5x"):
        assert dict(journey.submit(code=code).errors) == {"code": "invalid"}
    assert dict(journey.submit(action="dance").errors) == {"action": "required"}
    assert journey.flow.record.attempts == 0


def test_the_code_expires_after_an_hour(
    container: Container, journey: Journey, account: Account, clock: FrozenClock
) -> None:
    journey.submit(email=EMAIL)
    code = latest_code(container)
    clock.advance(hours=1)
    assert dict(journey.submit(code=code).errors) == {"code": "expired"}
    journey.submit(action="resend")
    assert journey.submit(code=latest_code(container)).flow.state is RecoveryState.NEW_PASSWORD


def test_the_page_stays_open_as_long_as_its_code(
    container: Container, runner: FlowRunner, extras: dict[str, Any], clock: FrozenClock
) -> None:
    hourly = container.tenants.create("hourly", "Hourly")  # the default: flows live one hour
    new = NewAccount(email=EMAIL, given_name="Jeanne", family_name="Martin", verified=True)
    container.accounts.create(hourly, new, OLD_PASSWORD, RequestContext())
    journey = Journey(runner, hourly, extras)
    journey.submit(email=EMAIL)
    clock.advance(minutes=50)
    journey.submit(action="resend")
    clock.advance(minutes=59)  # 1 h 49 after the start, 59 min after the new email
    assert journey.submit(code=latest_code(container)).flow.state is RecoveryState.NEW_PASSWORD
    clock.advance(minutes=14)  # past the new email's hour: the accepted code left 15 minutes
    result = journey.submit(password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)
    assert result.flow.state is RecoveryState.DONE


def test_resend_waits_a_minute_and_retires_the_old_code(
    container: Container, journey: Journey, account: Account, clock: FrozenClock
) -> None:
    journey.submit(email=EMAIL)
    first = latest_code(container)
    clock.advance(seconds=20)
    refused = journey.submit(action="resend")
    assert dict(refused.errors) == {"resend": "cooldown", "retry_seconds": "40"}
    clock.advance(seconds=40)
    assert journey.submit(action="resend").ok and journey.flow.context.sends == 2
    second = latest_code(container)
    if first != second:
        assert dict(journey.submit(code=first).errors) == {"code": "wrong"}
    assert journey.submit(code=second).flow.state is RecoveryState.NEW_PASSWORD


def test_resend_is_throttled_per_address(
    container: Container, journey: Journey, account: Account, clock: FrozenClock
) -> None:
    journey.submit(email=EMAIL)
    for _ in range(4):
        clock.advance(seconds=61)
        assert journey.submit(action="resend").ok
    clock.advance(seconds=61)
    refused = journey.submit(action="resend")
    assert refused.errors["resend"] == "throttled"
    assert refused.errors["retry_minutes"] == "55"  # the hour's window started 5 min 5 s ago


def test_another_address(journey: Journey, account: Account) -> None:
    journey.submit(email="typo@example.org")
    result = journey.submit(action="change_email")
    assert result.flow.state is RecoveryState.REQUEST and result.flow.context == RecoveryContext()
    assert journey.submit(email=EMAIL).flow.state is RecoveryState.SENT


def enter_new_password(container: Container, journey: Journey) -> None:
    journey.submit(email=EMAIL)
    journey.submit(code=latest_code(container))
    assert journey.flow.state is RecoveryState.NEW_PASSWORD


@pytest.mark.parametrize(
    ("password", "confirm", "errors"),
    [
        ("", "", {"password": "required"}),
        ("too short", "too short", {"password": "weak", "password_rules": "min_length"}),
        ("password123456789", "password123456789", {"password": "weak", "password_rules": "not_blocklisted"}),
        (EMAIL, EMAIL, {"password": "weak", "password_rules": "not_personal"}),
        ("Jeanne Martin", "Jeanne Martin", {"password": "weak", "password_rules": "min_length not_personal"}),
        (NEW_PASSWORD, NEW_PASSWORD + "!", {"password_confirm": "mismatch"}),
        (NEW_PASSWORD, "", {"password_confirm": "required"}),
        ("short", "other", {"password": "weak", "password_rules": "min_length", "password_confirm": "mismatch"}),
        ("x" * 5000, "x" * 5000, {"password": "weak", "password_rules": "max_length"}),
        (OLD_PASSWORD, OLD_PASSWORD, {"password": "unchanged"}),
    ],
)
def test_a_refused_new_password_is_explained_and_changes_nothing(
    container: Container,
    journey: Journey,
    account: Account,
    tenant: Tenant,
    password: str,
    confirm: str,
    errors: dict[str, str],
) -> None:
    enter_new_password(container, journey)
    result = journey.submit(password=password, password_confirm=confirm)
    assert dict(result.errors) == errors
    assert result.flow.state is RecoveryState.NEW_PASSWORD and result.flow.record.attempts == 0
    assert container.authenticator.authenticate(tenant, EMAIL, OLD_PASSWORD, WHO).status is AuthStatus.OK


def test_the_link_starts_a_flow_at_the_new_password(
    runner: FlowRunner, tenant: Tenant, extras: dict[str, Any], account: Account
) -> None:
    context = RecoveryContext(email=EMAIL, account_id=account.id, verified_by="link")
    flow = runner.start(RECOVERY_FROM_LINK, tenant, BROWSER, context=context)
    assert flow.state is RecoveryState.NEW_PASSWORD
    loaded = runner.load(RECOVERY, tenant, flow.id)  # one kind: the ordinary definition runs it
    assert loaded.state is RecoveryState.NEW_PASSWORD
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    result = runner.submit(RECOVERY, tenant, flow.id, BROWSER, data, extras=extras)
    assert result.flow.state is RecoveryState.DONE


def test_double_submit_changes_the_password_once(
    container: Container, journey: Journey, account: Account, tenant: Tenant
) -> None:
    enter_new_password(container, journey)
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    runner, flow_id = journey.runner, journey.flow.id
    for _ in range(2):
        result = runner.submit(
            RECOVERY, tenant, flow_id, BROWSER, data, expected_state="new_password", extras=journey.extras
        )
        assert result.flow.state is RecoveryState.DONE
    notified = [e for e in list_messages(container.uow) if e.message.template == "password_changed"]
    assert len(notified) == 1
    with container.uow(readonly=True) as uow:
        assert len(uow.audit.recent(10, type="password.reset")) == 1


def test_concurrent_double_submit_changes_the_password_once(
    container: Container, journey: Journey, account: Account, tenant: Tenant
) -> None:
    enter_new_password(container, journey)
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def submit() -> None:
        barrier.wait()
        try:
            result = journey.runner.submit(
                RECOVERY, tenant, journey.flow.id, BROWSER, data, expected_state="new_password", extras=journey.extras
            )
            outcomes.append(result.flow.state.value if result.ok else "refused")
        except FlowStateError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 3 and "done" in outcomes
    notified = [e for e in list_messages(container.uow) if e.message.template == "password_changed"]
    assert len(notified) == 1
    assert journey.runner.load(RECOVERY, tenant, journey.flow.id).state is RecoveryState.DONE


def test_a_step_without_the_service_is_a_programming_error(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(RECOVERY, tenant, BROWSER)
    with pytest.raises(KeyError):
        runner.submit(RECOVERY, tenant, flow.id, BROWSER, {"email": EMAIL})
    with pytest.raises(TypeError):
        runner.submit(RECOVERY, tenant, flow.id, BROWSER, {"email": EMAIL}, extras={EXTRA_SERVICE: object()})

"""The login flow through the flow runner, on the real test database with a frozen clock.

Covers the outcomes of CREDENTIALS (one generic error, lockout, throttling, locked accounts),
the states an account may owe (confirmed email, forced password change, review), the session
opened at the end, and exact counting under 100 parallel wrong passwords.
"""

from __future__ import annotations

import re
import secrets
import statistics
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.adapters.hashing import Argon2PasswordHasher
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.accounts import Account, TokenPurpose
from sesame.domain.tenants import LockoutPolicy, Tenant, TenantPolicy
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.login.flow import LOGIN
from sesame.flows.login.states import LoginContext, LoginState
from sesame.flows.login.steps import EXTRAS_KEY, SESSION_ACR, LoginServices
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus, lockout_key
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import list_messages
from sesame.services.password_change import PasswordChangeService
from sesame.services.sessions import SessionService, session_id_of
from sesame.services.throttling import Throttle

BROWSER = "browser-cookie-value-1"
PASSWORD = "Sesame-Login-2026!"
NEW_PASSWORD = "Another-Secret-77"
EMAIL = "jeanne.martin@example.fr"


class CountingHasher(Argon2PasswordHasher):
    """The real argon2 hasher, counting its verifications (a dummy verify is one too)."""

    def __init__(self, **params: int) -> None:
        super().__init__(**params)
        self.verifications = 0
        self._lock = threading.Lock()

    def verify(self, secret_hash: str, secret: str) -> bool:
        with self._lock:
            self.verifications += 1
        return super().verify(secret_hash, secret)


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def runner(container: Container) -> FlowRunner:
    return FlowRunner(container.uow, container.clock)


def make_account(container: Container, tenant: Tenant, email: str = EMAIL, *, verified: bool = True) -> Account:
    new = NewAccount(email=email, given_name="Jeanne", family_name="Martin", verified=verified)
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def services(container: Container, *, ip: str = "192.0.2.10", previous: str | None = None) -> LoginServices:
    return LoginServices(
        authenticator=container.authenticator,
        tokens=container.tokens,
        passwords=PasswordChangeService(
            container.uow, container.clock, container.hasher, container.password_rules, base_url="https://testserver"
        ),
        resend_throttle=Throttle(container.counters, container.clock),
        factors=container.factors,
        request=RequestContext(ip=ip, user_agent="pytest", correlation_id="test"),
        base_url="https://testserver",
        session_token=secrets.token_urlsafe(32),
        previous_session_token=previous,
    )


def submit(
    container: Container,
    runner: FlowRunner,
    tenant: Tenant,
    flow: Flow[LoginState, LoginContext],
    data: Mapping[str, str],
    login: LoginServices | None = None,
) -> SubmitResult[LoginState, LoginContext]:
    extras: dict[str, Any] = {EXTRAS_KEY: login or services(container)}
    return runner.submit(LOGIN, tenant, flow.id, BROWSER, data, extras=extras)


def log_in(
    container: Container, runner: FlowRunner, tenant: Tenant, identifier: str = EMAIL, password: str = PASSWORD
) -> SubmitResult[LoginState, LoginContext]:
    flow = runner.start(LOGIN, tenant, BROWSER)
    return submit(container, runner, tenant, flow, {"identifier": identifier, "password": password})


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [record.event.type for record in uow.audit.chain(tenant.id)]


def account_of(container: Container, account_id: int) -> Account:
    with container.uow(readonly=True) as uow:
        account = uow.accounts.get(account_id)
    assert account is not None
    return account


# -- success ---------------------------------------------------------------------------------------


def test_right_password_opens_a_session(container: Container, runner: FlowRunner, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    login = services(container)
    flow = runner.start(LOGIN, tenant, BROWSER)
    result = submit(
        container, runner, tenant, flow, {"identifier": "  JEANNE.Martin@example.fr ", "password": PASSWORD}, login
    )
    assert result.ok and result.flow.state is LoginState.DONE
    assert result.flow.context.session_id == session_id_of(login.session_token)
    live = container.sessions.resolve(tenant, login.session_token)
    assert live is not None and live.account.id == account.id
    assert live.session.acr == SESSION_ACR and live.session.amr == ["pwd"]
    assert live.session.ip == "192.0.2.10" and live.session.user_agent == "pytest"
    assert account_of(container, account.id).last_login_at == container.clock.now()
    assert audit_types(container, tenant)[-1] == "login.succeeded"


def test_each_login_gets_a_new_session_and_ends_the_browser_previous_one(
    container: Container, runner: FlowRunner, tenant: Tenant
) -> None:
    account = make_account(container, tenant)
    first = services(container)
    submit(
        container,
        runner,
        tenant,
        runner.start(LOGIN, tenant, BROWSER),
        {"identifier": EMAIL, "password": PASSWORD},
        first,
    )
    second = services(container, previous=first.session_token)
    result = submit(
        container,
        runner,
        tenant,
        runner.start(LOGIN, tenant, BROWSER),
        {"identifier": EMAIL, "password": PASSWORD},
        second,
    )
    assert result.flow.state is LoginState.DONE
    assert second.session_token != first.session_token
    assert container.sessions.resolve(tenant, first.session_token) is None
    assert container.sessions.resolve(tenant, second.session_token) is not None
    with container.uow(readonly=True) as uow:
        old = uow.accounts.get_session(session_id_of(first.session_token))
        assert old is not None and old.end_reason == "replaced"
        assert len(uow.accounts.sessions_of(account.id, container.clock.now())) == 1


# -- refusals ---------------------------------------------------------------------------------------


def test_unknown_and_wrong_get_the_same_answer_and_the_same_hashing(
    container: Container, runner: FlowRunner, tenant: Tenant
) -> None:
    make_account(container, tenant)
    spy = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    container.hasher = spy
    answers = []
    for identifier in (EMAIL, "nobody@example.fr"):
        before = spy.verifications
        result = log_in(container, runner, tenant, identifier, "Wrong-password-1")
        answers.append((dict(result.errors), result.flow.state, result.flow.context.remaining_attempts))
        assert spy.verifications - before == 1, "one argon2 verification, known account or not"
    assert answers[0] == answers[1] == ({"login": "invalid"}, LoginState.CREDENTIALS, 4)


def test_unknown_and_known_take_the_same_time(container: Container, tenant: Tenant) -> None:
    """Measured on the hasher path with a costlier argon2, over several tries (medians)."""
    tenant = container.tenants.get("poste-ch")  # 10 failures allowed: every try stays a plain failure
    make_account(container, tenant)
    container.hasher = CountingHasher(time_cost=3, memory_cost=16384, parallelism=1)
    # The account's hash is remade with these parameters, so both paths verify the same work.
    with container.uow() as uow:
        account = uow.accounts.by_email(tenant.id, EMAIL)
        assert account is not None
        uow.accounts.set_credential(account.id, "password", container.hasher.hash(PASSWORD), container.clock.now())
        uow.commit()
    authenticator = container.authenticator
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for attempt in range(5):
        for kind, identifier in (("known", EMAIL), ("unknown", f"ghost{attempt}@example.fr")):
            context = RequestContext(ip=f"198.51.100.{attempt}")
            started = time.perf_counter()
            outcome = authenticator.authenticate(tenant, identifier, "Wrong-password-1", context)
            timings[kind].append(time.perf_counter() - started)
            assert outcome.status is AuthStatus.INVALID
    known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert 0.5 < known / unknown < 2.0, f"known {known * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms"


def test_lockout_after_the_policy_failures_then_the_clock_ends_it(
    container: Container, runner: FlowRunner, tenant: Tenant, clock: FrozenClock
) -> None:
    make_account(container, tenant)
    max_failures = tenant.policy.lockout.max_failures  # 5 at laposte
    for _ in range(max_failures - 1):
        assert log_in(container, runner, tenant, password="Wrong-password-1").errors == {"login": "invalid"}
    result = log_in(container, runner, tenant, password="Wrong-password-1")
    assert result.errors == {"login": "suspended"}
    until = clock.now() + timedelta(seconds=tenant.policy.lockout.suspension_seconds)
    assert result.flow.context.retry_at == until
    # Suspended: even the right password is refused, with the same "until".
    result = log_in(container, runner, tenant)
    assert result.errors == {"login": "suspended"} and result.flow.context.retry_at == until
    clock.set(until)
    assert log_in(container, runner, tenant).flow.state is LoginState.DONE


def test_unknown_identifiers_are_suspended_alike(container: Container, runner: FlowRunner, tenant: Tenant) -> None:
    for _ in range(tenant.policy.lockout.max_failures):
        result = log_in(container, runner, tenant, "nobody@example.fr", "Wrong-password-1")
    assert result.errors == {"login": "suspended"} and result.flow.context.retry_at is not None


def test_throttling_per_ip(container: Container, runner: FlowRunner, tenant: Tenant, clock: FrozenClock) -> None:
    container.tenants.update_policy("laposte", {"lockout": {"ip_requests_per_minute": 3}})
    tenant = container.tenants.get("laposte")
    for attempt in range(3):
        assert log_in(container, runner, tenant, f"user{attempt}@example.fr", "x").errors == {"login": "invalid"}
    result = log_in(container, runner, tenant, "user9@example.fr", "x")
    assert result.errors == {"login": "throttled"}
    assert result.flow.context.retry_at is not None and result.flow.context.retry_at > clock.now()
    # Another address is not throttled.
    flow = runner.start(LOGIN, tenant, BROWSER)
    other = submit(
        container,
        runner,
        tenant,
        flow,
        {"identifier": "user9@example.fr", "password": "x"},
        services(container, ip="203.0.113.9"),
    )
    assert other.errors == {"login": "invalid"}


def test_locked_account_is_told_only_after_the_right_password(
    container: Container, runner: FlowRunner, tenant: Tenant
) -> None:
    make_account(container, tenant)
    container.accounts.lock(tenant, EMAIL, "support", RequestContext(actor="test"))
    assert log_in(container, runner, tenant, password="Wrong-password-1").errors == {"login": "invalid"}
    result = log_in(container, runner, tenant)
    assert result.errors == {"login": "locked"} and result.flow.state is LoginState.CREDENTIALS


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"identifier": "required", "password": "required"}),
        ({"identifier": EMAIL}, {"password": "required"}),
        ({"identifier": "a" * 300 + "@example.fr", "password": PASSWORD}, {"identifier": "invalid"}),
        ({"identifier": EMAIL, "password": "p" * 1025}, {"password": "too_long"}),
        ({"identifier": "jeanne\x00@example.fr", "password": PASSWORD}, {"identifier": "invalid"}),
    ],
)
def test_bad_input_is_refused_without_checking_anything(
    container: Container, runner: FlowRunner, tenant: Tenant, data: dict[str, str], errors: dict[str, str]
) -> None:
    make_account(container, tenant)
    before = audit_types(container, tenant)
    flow = runner.start(LOGIN, tenant, BROWSER)
    result = submit(container, runner, tenant, flow, data)
    assert dict(result.errors) == errors
    assert audit_types(container, tenant) == before  # no login attempt was made nor counted
    assert runner.load(LOGIN, tenant, flow.id).record.attempts == 0


def test_a_tenant_without_password_login(container: Container, runner: FlowRunner, tenant: Tenant) -> None:
    banque = container.tenants.get("banque")
    result = log_in(container, runner, banque, "1234567890", "123456")
    assert result.errors == {"login": "unavailable"}


# -- 100 parallel wrong passwords -------------------------------------------------------------------


def _parallel_wrong_passwords(container: Container, email: str) -> None:
    """100 wrong passwords in parallel, each through its own flow: counted exactly once each."""
    runner = FlowRunner(container.uow, container.clock)
    policy = TenantPolicy(lockout=LockoutPolicy(max_failures=40, ip_requests_per_minute=1000))
    tenant = container.tenants.create("acme", "ACME", policy)
    make_account(container, tenant, email)
    flows = [runner.start(LOGIN, tenant, BROWSER) for _ in range(100)]
    barrier = threading.Barrier(20)

    def attempt(flow: Flow[LoginState, LoginContext]) -> str:
        barrier.wait(timeout=60)  # in waves of 20: as parallel as the pool allows (generous on a loaded CI)
        result = submit(container, runner, tenant, flow, {"identifier": email, "password": "Wrong-password-1"})
        return result.errors["login"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, flows))
    # Exactly max_failures - 1 plain failures; the max_failures-th suspends, and every later
    # one (in flight or not) is told so: the decision is exact, never one more or one less.
    assert outcomes.count("invalid") == 39
    assert outcomes.count("suspended") == 61
    types = audit_types(container, tenant)
    assert types.count("login.failed") + types.count("login.refused") == 100
    keys = f"lockout:{lockout_key(tenant, email)}"
    assert container.counters.get(f"{keys}:suspensions", container.clock.now()) == 1  # one punishment


def test_parallel_wrong_passwords_are_counted_exactly_once_each(container: Container) -> None:
    _parallel_wrong_passwords(container, EMAIL)


def test_parallel_wrong_passwords_with_redis_counters(settings: Settings, clock: FrozenClock, redis_url: str) -> None:
    built = build_container(settings.model_copy(update={"redis_url": redis_url}), clock=clock)
    try:
        # The Redis server outlives the test database: an address of this run only, fresh keys.
        _parallel_wrong_passwords(built, f"parallel-{secrets.token_hex(6)}@example.fr")
    finally:
        built.close()


# -- what an account may owe before its session -----------------------------------------------------


def test_unconfirmed_email_must_be_confirmed_first(
    container: Container, runner: FlowRunner, tenant: Tenant, clock: FrozenClock
) -> None:
    account = make_account(container, tenant, verified=False)
    result = log_in(container, runner, tenant)
    assert result.flow.state is LoginState.CONFIRM_EMAIL
    flow = result.flow
    assert container.sessions.list(account.id) == []
    # No code yet: asking for one sends the registration's email, with a link and a code.
    result = submit(container, runner, tenant, flow, {"action": "resend"})
    assert result.ok and result.flow.context.email_sent_at == clock.now()
    message = list_messages(container.uow, tenant_slug="laposte")[0]
    assert message.message.template == "confirm_email" and message.message.recipient == EMAIL
    assert message.message.sensitive
    code = message.message.metadata.get("code") or _code_in(message.message.body_text)
    # Asking again at once: the cooldown says when.
    again = submit(container, runner, tenant, flow, {"action": "resend"})
    assert again.errors == {"resend": "cooldown"} and again.flow.context.retry_at is not None
    wrong = "000000" if code != "000000" else "111111"
    result = submit(container, runner, tenant, flow, {"action": "confirm", "code": wrong})
    assert result.errors == {"code": "wrong"}
    assert runner.load(LOGIN, tenant, flow.id).record.attempts == 1
    assert submit(container, runner, tenant, flow, {"action": "confirm", "code": ""}).errors == {"code": "required"}
    assert submit(container, runner, tenant, flow, {"action": "continue"}).errors == {"code": "not_confirmed"}
    result = submit(container, runner, tenant, flow, {"action": "confirm", "code": f" {code[:3]} {code[3:]} "})
    assert result.ok and result.flow.state is LoginState.DONE
    assert account_of(container, account.id).email_verified
    assert "account.email_confirmed" in audit_types(container, tenant)


@pytest.mark.parametrize("action", ["continue", "resend"])
def test_email_confirmed_by_the_link_meanwhile(
    container: Container, runner: FlowRunner, tenant: Tenant, action: str
) -> None:
    account = make_account(container, tenant, verified=False)
    flow = log_in(container, runner, tenant).flow
    with container.uow() as uow:
        issued = container.tokens.issue(
            uow, account.id, TokenPurpose.CONFIRM_EMAIL, container.clock.now(), timedelta(hours=1), target=EMAIL
        )
        uow.commit()
    with container.uow() as uow:  # as the registration's link page does, in another browser
        assert container.tokens.redeem_link(uow, issued.link_token, TokenPurpose.CONFIRM_EMAIL, container.clock.now())
        confirmed = uow.accounts.get(account.id)
        assert confirmed is not None
        confirmed.email_verified_at = container.clock.now()
        uow.accounts.save(confirmed)
        uow.commit()
    result = submit(container, runner, tenant, flow, {"action": action})
    assert result.flow.state is LoginState.DONE
    assert [m.message.template for m in list_messages(container.uow)] == []  # nothing more to send


def test_tenant_that_does_not_require_confirmation(container: Container, runner: FlowRunner, tenant: Tenant) -> None:
    container.tenants.update_policy("laposte", {"require_confirmed_email": False})
    tenant = container.tenants.get("laposte")
    make_account(container, tenant, verified=False)
    assert log_in(container, runner, tenant).flow.state is LoginState.DONE


def test_forced_change_then_review_then_session(container: Container, runner: FlowRunner, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    container.accounts.flag_password_change(tenant, EMAIL, "fraud", RequestContext(actor="test"))
    # A session opened elsewhere since the flag (the change must end it too).
    with container.uow() as uow:
        elsewhere = SessionService.open(
            uow,
            account_of(container, account.id),
            tenant,
            container.clock.now(),
            acr="eidas1",
            amr=["pwd"],
            ip="",
            user_agent="",
        )
        uow.commit()
    result = log_in(container, runner, tenant)
    assert result.flow.state is LoginState.CHANGE_PASSWORD
    flow = result.flow
    checks: list[tuple[dict[str, str], dict[str, str]]] = [
        ({}, {"password": "required"}),
        ({"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"}, {"password_confirm": "mismatch"}),
        ({"password": "short", "password_confirm": "short"}, {"password": "policy"}),
        ({"password": PASSWORD, "password_confirm": PASSWORD}, {"password": "unchanged"}),
    ]
    for data, errors in checks:
        result = submit(container, runner, tenant, flow, data)
        assert dict(result.errors) == errors
    result = submit(container, runner, tenant, flow, {"password": "jeanne", "password_confirm": "jeanne"})
    assert {"min_length", "upper", "digit"} <= set(result.flow.context.failed_rules)
    result = submit(container, runner, tenant, flow, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert result.ok and result.flow.state is LoginState.REVIEW_PROFILE
    assert result.flow.context.given_name == "Jeanne" and result.flow.context.family_name == "Martin"
    changed = account_of(container, account.id)
    assert not changed.password_change_required and changed.profile_review_required
    assert container.sessions.resolve(tenant, elsewhere.token) is None
    notice = list_messages(container.uow, tenant_slug="laposte")[0].message
    assert notice.template == "password_changed" and notice.recipient == EMAIL
    assert NEW_PASSWORD not in notice.body_text and "/laposte/recovery" in notice.body_text
    # The review: names corrected, or confirmed as they are; then the session.
    assert submit(
        container, runner, tenant, flow, {"action": "correct", "given_name": "", "family_name": "x" * 200}
    ).errors == {
        "given_name": "required",
        "family_name": "invalid",
    }
    assert submit(container, runner, tenant, flow, {}).errors == {"action": "required"}
    login = services(container)
    result = submit(
        container,
        runner,
        tenant,
        flow,
        {"action": "correct", "given_name": "Jeanne-Marie", "family_name": "Martin"},
        login,
    )
    assert result.ok and result.flow.state is LoginState.DONE
    reviewed = account_of(container, account.id)
    assert reviewed.given_name == "Jeanne-Marie" and not reviewed.profile_review_required
    assert container.sessions.resolve(tenant, login.session_token) is not None
    types = audit_types(container, tenant)
    assert types[-3:] == ["password.changed", "account.profile_reviewed", "login.succeeded"]
    # The old password no longer works, the new one does.
    assert log_in(container, runner, tenant).errors == {"login": "invalid"}
    assert log_in(container, runner, tenant, password=NEW_PASSWORD).flow.state is LoginState.DONE


def test_account_locked_during_the_flow_gets_no_session(
    container: Container, runner: FlowRunner, tenant: Tenant
) -> None:
    account = make_account(container, tenant)
    container.accounts.flag_password_change(tenant, EMAIL, "fraud", RequestContext(actor="test"))
    flow = log_in(container, runner, tenant).flow
    container.accounts.lock(tenant, EMAIL, "support", RequestContext(actor="test"))
    result = submit(container, runner, tenant, flow, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert result.errors == {"login": "locked"} and result.flow.state is LoginState.CHANGE_PASSWORD
    assert container.sessions.list(account.id) == []
    assert account_of(container, account.id).password_change_required  # nothing was changed


def test_audit_details_hold_no_secret(container: Container, runner: FlowRunner, tenant: Tenant) -> None:
    make_account(container, tenant)
    container.accounts.flag_password_change(tenant, EMAIL, "fraud", RequestContext(actor="test"))
    log_in(container, runner, tenant, password="Wrong-password-1")
    flow = log_in(container, runner, tenant).flow
    submit(container, runner, tenant, flow, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    submit(container, runner, tenant, flow, {"action": "confirm"})
    with container.uow(readonly=True) as uow:
        records = list(uow.audit.chain(tenant.id))
    text = repr([(r.event.type, r.event.details) for r in records])
    for secret in (PASSWORD, NEW_PASSWORD, "Wrong-password-1"):
        assert secret not in text


def _code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, "the confirmation email carries a 6-digit code"
    return match.group(1)

"""PasswordAuthenticator: outcomes, constant work for unknown users, lockout, throttling, upgrades.

The hasher is the real argon2 one, subclassed to count verifications; the counters are the real
adapters (SQLite, PostgreSQL, Redis) and the clock is frozen.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.adapters.hashing import Argon2PasswordHasher
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.tenants import LockoutPolicy, PasswordPolicy, Tenant, TenantPolicy
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthOutcome, AuthStatus, lockout_key
from sesame.services.context import RequestContext
from sesame.services.throttling import LockoutGuard
from tests.services.accounts_support import STRONG_PASSWORD, SUPPORT, audit_events, create_account

EMAIL = "camille.martin@example.fr"
WRONG = "Wrong-Password-2026"
LOCKOUT = LockoutPolicy(max_failures=3, failure_window_seconds=900, suspension_seconds=600, max_suspensions=5)


class CountingHasher(Argon2PasswordHasher):
    """The real argon2id hasher, counting its verifications (a dummy one counts as both)."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        super().__init__(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self.verifications = 0
        self.dummies = 0
        self._lock = threading.Lock()

    def verify(self, secret_hash: str, secret: str) -> bool:
        with self._lock:
            self.verifications += 1
        return super().verify(secret_hash, secret)

    def dummy_verify(self, secret: str) -> None:
        with self._lock:
            self.dummies += 1
        super().dummy_verify(secret)


def counting_hasher(settings: Settings) -> CountingHasher:
    return CountingHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )


def context(ip: str = "198.51.100.7") -> RequestContext:
    return RequestContext(ip=ip, user_agent="pytest", correlation_id="corr-login", actor="anonymous")


def make_tenant(container: Container, lockout: LockoutPolicy = LOCKOUT, slug: str = "acme") -> Tenant:
    policy = TenantPolicy(password=PasswordPolicy(min_length=8), lockout=lockout)
    return container.tenants.create(slug, "ACME", policy)


@pytest.fixture
def hasher(container: Container) -> CountingHasher:
    counting = counting_hasher(container.settings)
    container.hasher = counting
    return counting


@pytest.fixture
def tenant(container: Container, hasher: CountingHasher) -> Tenant:
    tenant = make_tenant(container)
    create_account(container, tenant, EMAIL)
    return tenant


def login(
    container: Container, tenant: Tenant, password: str, identifier: str = EMAIL, ip: str = "198.51.100.7"
) -> AuthOutcome:
    return container.authenticator.authenticate(tenant, identifier, password, context(ip))


# -- outcomes ----------------------------------------------------------------------------------


def test_the_right_password_logs_in(container: Container, tenant: Tenant, hasher: CountingHasher) -> None:
    outcome = login(container, tenant, STRONG_PASSWORD)
    assert outcome.ok and outcome.status is AuthStatus.OK
    assert outcome.account is not None and outcome.account.email == EMAIL
    assert (hasher.verifications, hasher.dummies) == (1, 0)
    with container.uow(readonly=True) as uow:
        (credential,) = uow.accounts.credentials(outcome.account.id, "password")
    assert credential.last_used_at == container.clock.now()


def test_the_identifier_is_not_case_sensitive(container: Container, tenant: Tenant) -> None:
    assert login(container, tenant, STRONG_PASSWORD, identifier="  Camille.MARTIN@example.FR ").ok


def test_a_wrong_password_is_invalid(container: Container, tenant: Tenant, hasher: CountingHasher) -> None:
    outcome = login(container, tenant, WRONG)
    assert (outcome.status, outcome.account, outcome.remaining_attempts) == (AuthStatus.INVALID, None, 2)
    assert (hasher.verifications, hasher.dummies) == (1, 0)
    assert login(container, tenant, STRONG_PASSWORD.lower()).status is AuthStatus.INVALID


def test_an_unknown_identifier_costs_the_same_verification(
    container: Container, tenant: Tenant, hasher: CountingHasher
) -> None:
    outcome = login(container, tenant, STRONG_PASSWORD, identifier="nobody@example.fr")
    # The same answer as a wrong password, after one argon2 verification (against a dummy hash).
    assert (outcome.status, outcome.account, outcome.remaining_attempts) == (AuthStatus.INVALID, None, 2)
    assert (hasher.verifications, hasher.dummies) == (1, 1)


@pytest.mark.parametrize("identifier", ["", "   ", "x" * 300 + "@example.fr", "not an email", "a@b"])
def test_odd_identifiers_are_invalid_not_errors(
    container: Container, tenant: Tenant, hasher: CountingHasher, identifier: str
) -> None:
    outcome = login(container, tenant, STRONG_PASSWORD, identifier=identifier)
    assert outcome.status is AuthStatus.INVALID
    assert hasher.dummies == 1


def test_an_account_without_password_costs_a_dummy_verification(container: Container, hasher: CountingHasher) -> None:
    tenant = make_tenant(container)
    with container.uow() as uow:
        new = NewAccount(email="nopassword@example.fr", given_name="No", family_name="Password", verified=True)
        container.accounts.add(uow, tenant, new, password_hash=None)
        uow.commit()
    assert login(container, tenant, STRONG_PASSWORD, identifier="nopassword@example.fr").status is AuthStatus.INVALID
    assert (hasher.verifications, hasher.dummies) == (1, 1)


def test_an_absurdly_long_address_or_password_is_no_error(container: Container, tenant: Tenant) -> None:
    assert login(container, tenant, "p" * 10_000).status is AuthStatus.INVALID
    assert login(container, tenant, WRONG, ip="f" * 500).status is AuthStatus.INVALID


# -- lockout -----------------------------------------------------------------------------------


def test_max_failures_suspend_with_retry_at_from_the_policy(
    container: Container, clock: FrozenClock, tenant: Tenant, hasher: CountingHasher
) -> None:
    assert [login(container, tenant, WRONG).remaining_attempts for _ in range(2)] == [2, 1]
    suspended = login(container, tenant, WRONG)
    assert suspended.status is AuthStatus.SUSPENDED
    assert suspended.retry_at == clock.now() + timedelta(seconds=LOCKOUT.suspension_seconds)
    clock.advance(seconds=LOCKOUT.suspension_seconds - 1)
    during = login(container, tenant, STRONG_PASSWORD)  # even the right password waits
    assert (during.status, during.account) == (AuthStatus.SUSPENDED, None)
    assert during.retry_at == suspended.retry_at
    assert hasher.dummies == 1  # no real check while suspended, but the same cost


def test_the_suspension_ends_with_time(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    for _ in range(LOCKOUT.max_failures):
        login(container, tenant, WRONG)
    clock.advance(seconds=LOCKOUT.suspension_seconds)
    assert login(container, tenant, STRONG_PASSWORD).ok
    assert login(container, tenant, WRONG).remaining_attempts == 2  # a success forgot the failures


def test_unknown_identifiers_are_suspended_the_same_way(
    container: Container, clock: FrozenClock, tenant: Tenant
) -> None:
    outcomes = [login(container, tenant, WRONG, identifier="ghost@example.fr") for _ in range(4)]
    assert [o.status for o in outcomes] == [AuthStatus.INVALID] * 2 + [AuthStatus.SUSPENDED] * 2
    assert outcomes[2].retry_at == clock.now() + timedelta(seconds=LOCKOUT.suspension_seconds)


def test_the_locked_status_is_revealed_only_by_the_right_password(container: Container, tenant: Tenant) -> None:
    container.accounts.lock(tenant, EMAIL, "fraud", SUPPORT)
    wrong = login(container, tenant, WRONG)
    assert (wrong.status, wrong.account) == (AuthStatus.INVALID, None)
    right = login(container, tenant, STRONG_PASSWORD)
    assert right.status is AuthStatus.LOCKED
    assert right.account is not None and right.account.status_reason == "fraud"
    container.accounts.unlock(tenant, EMAIL, SUPPORT)
    assert login(container, tenant, STRONG_PASSWORD).ok


def test_the_last_suspension_locks(container: Container, clock: FrozenClock) -> None:
    policy = LockoutPolicy(max_failures=1, failure_window_seconds=900, suspension_seconds=60, max_suspensions=2)
    tenant = make_tenant(container, policy)
    create_account(container, tenant, EMAIL)
    assert login(container, tenant, WRONG).status is AuthStatus.SUSPENDED
    clock.advance(seconds=60)
    assert login(container, tenant, WRONG).status is AuthStatus.LOCKED
    clock.advance(days=30)
    assert login(container, tenant, STRONG_PASSWORD).status is AuthStatus.LOCKED
    container.accounts.unlock(tenant, EMAIL, SUPPORT)
    assert login(container, tenant, STRONG_PASSWORD).ok


# -- throttling ----------------------------------------------------------------------------------


def test_requests_are_throttled_per_address(container: Container, clock: FrozenClock) -> None:
    tenant = make_tenant(container, LockoutPolicy(max_failures=50, ip_requests_per_minute=3))
    create_account(container, tenant, EMAIL)
    assert [login(container, tenant, WRONG).status for _ in range(3)] == [AuthStatus.INVALID] * 3
    throttled = login(container, tenant, STRONG_PASSWORD)
    assert (throttled.status, throttled.account) == (AuthStatus.THROTTLED, None)
    assert throttled.retry_at == clock.now() + timedelta(seconds=60)
    assert login(container, tenant, STRONG_PASSWORD, ip="203.0.113.9").ok  # another address
    clock.advance(seconds=60)
    assert login(container, tenant, STRONG_PASSWORD).ok


# -- hash upgrades ------------------------------------------------------------------------------


def test_an_old_hash_is_upgraded_at_the_next_login(settings: Settings, clock: FrozenClock) -> None:
    old = build_container(settings.model_copy(update={"argon2_time_cost": 1}), clock=clock)
    new = build_container(settings.model_copy(update={"argon2_time_cost": 2}), clock=clock)
    try:
        tenant = make_tenant(old)
        account = create_account(old, tenant, EMAIL)
        with old.uow(readonly=True) as uow:
            (before,) = uow.accounts.credentials(account.id, "password")
        assert "t=1," in before.secret_hash and new.hasher.needs_rehash(before.secret_hash)
        assert new.authenticator.authenticate(tenant, EMAIL, WRONG, context()).status is AuthStatus.INVALID
        with new.uow(readonly=True) as uow:
            assert uow.accounts.credentials(account.id, "password")[0].secret_hash == before.secret_hash
        assert new.authenticator.authenticate(tenant, EMAIL, STRONG_PASSWORD, context()).ok
        with new.uow(readonly=True) as uow:
            (after,) = uow.accounts.credentials(account.id, "password")
        assert after.secret_hash != before.secret_hash and "t=2," in after.secret_hash
        assert not new.hasher.needs_rehash(after.secret_hash)
        assert new.hasher.verify(after.secret_hash, STRONG_PASSWORD)
        assert new.authenticator.authenticate(tenant, EMAIL, STRONG_PASSWORD, context()).ok
    finally:
        old.close()
        new.close()


# -- audit ---------------------------------------------------------------------------------------


def test_every_refusal_is_audited_without_the_password(container: Container, clock: FrozenClock) -> None:
    # One request a minute per address: each request below comes from its own address but the last.
    tenant = make_tenant(container, LockoutPolicy(max_failures=2, ip_requests_per_minute=1))
    create_account(container, tenant, EMAIL)
    login(container, tenant, WRONG, identifier="ghost@example.fr", ip="192.0.2.1")  # unknown
    login(container, tenant, WRONG, ip="192.0.2.2")  # invalid
    login(container, tenant, WRONG, ip="192.0.2.3")  # invalid, suspends
    login(container, tenant, STRONG_PASSWORD, ip="192.0.2.4")  # refused: suspended
    container.accounts.lock(tenant, EMAIL, "support", SUPPORT)
    clock.advance(minutes=15)
    login(container, tenant, STRONG_PASSWORD, ip="192.0.2.5")  # refused: the account is locked
    login(container, tenant, STRONG_PASSWORD, ip="192.0.2.5")  # throttled: a second request this minute
    events = [r.event for r in audit_events(container, tenant, "login.")]
    assert [(e.type, e.details) for e in events] == [
        ("login.failed", {"method": "password", "lockout": "allowed"}),
        ("login.failed", {"method": "password", "lockout": "allowed"}),
        ("login.failed", {"method": "password", "lockout": "suspended"}),
        ("login.refused", {"method": "password", "lockout": "suspended"}),
        ("login.refused", {"method": "password", "status": "locked"}),
        ("login.throttled", {"method": "password"}),
    ]
    with container.uow(readonly=True) as uow:
        account = uow.accounts.by_email(tenant.id, EMAIL)
    assert account is not None
    assert [e.subject for e in events[:3]] == ["account:unknown", f"account:{account.id}", f"account:{account.id}"]
    assert [e.ip for e in events] == [f"192.0.2.{n}" for n in (1, 2, 3, 4, 5, 5)]
    assert all((e.correlation_id, e.actor) == ("corr-login", "anonymous") for e in events)
    dumped = json.dumps([[e.type, e.subject, e.details] for e in events])
    assert WRONG not in dumped and STRONG_PASSWORD not in dumped and EMAIL not in dumped


def test_a_success_adds_no_refusal_event(container: Container, tenant: Tenant) -> None:
    before = len(audit_events(container, tenant, "login."))
    assert login(container, tenant, STRONG_PASSWORD).ok
    assert len(audit_events(container, tenant, "login.")) == before  # login.succeeded is the caller's


# -- 100 parallel wrong passwords, on every counters backend ---------------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def backend_container(request: pytest.FixtureRequest, settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    """A container whose database and counters are SQLite, PostgreSQL, or SQLite with Redis counters."""
    if request.param == "postgresql":
        update = {"database_url": request.getfixturevalue("postgres_url")}
    elif request.param == "redis":
        update = {
            "database_url": request.getfixturevalue("sqlite_url"),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    else:
        update = {"database_url": request.getfixturevalue("sqlite_url")}
    built = build_container(settings.model_copy(update=update), clock=clock)
    built.hasher = counting_hasher(built.settings)
    yield built
    built.close()


@pytest.mark.slow
def test_100_parallel_wrong_passwords_are_counted_exactly(backend_container: Container) -> None:
    container = backend_container
    # Redis outlives the test's database: an address of this test only keeps its counters apart.
    email = f"parallel-{uuid.uuid4().hex[:12]}@example.fr"
    tenant = make_tenant(container)
    create_account(container, tenant, email)
    attempts = 100
    start = threading.Barrier(attempts)

    def attempt(number: int) -> AuthStatus:
        start.wait()  # every thread at once: the race is real
        # From 100 addresses, as a botnet would: the per-account lockout must hold on its own.
        return login(container, tenant, WRONG, identifier=email, ip=f"10.0.{number // 250}.{number % 250}").status

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = Counter(pool.map(attempt, range(attempts)))

    # Failures 1 and 2 are told "wrong password"; the 3rd suspends; every other one is refused.
    assert statuses == {AuthStatus.INVALID: 2, AuthStatus.SUSPENDED: 98}
    state = LockoutGuard(container.counters, container.clock, LOCKOUT).check(lockout_key(tenant, email))
    assert (state.suspensions, state.failures) == (1, 0)  # exactly one suspension, a new round
    failed = [r.event.details["lockout"] for r in audit_events(container, tenant, "login.failed")]
    refused = audit_events(container, tenant, "login.refused")
    assert len(failed) + len(refused) == attempts  # every attempt audited once
    assert failed.count("allowed") == 2
    assert login(container, tenant, STRONG_PASSWORD, identifier=email).status is AuthStatus.SUSPENDED

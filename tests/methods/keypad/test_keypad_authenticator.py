"""The keypad authenticator: the same work and answers for unknown numbers, and exact lockout under
100 parallel attempts, where no more codes are compared than the policy allows failures."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.adapters.hashing import Argon2PasswordHasher
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.tenants import CredentialKind
from sesame.methods.keypad.codes import KeypadCodeHasher
from sesame.services.authentication import AuthStatus, lockout_key
from sesame.services.context import RequestContext
from sesame.web.pages.banque import keypad_authenticator
from tests.banque_support import bank, current, enrol, keys_for, services, start, submit

WRONG = "390517"
UNKNOWN = "7992739875"


class CountingHasher(Argon2PasswordHasher):
    """The real argon2 hasher, counting verifications per hash (a dummy verification is one too)."""

    def __init__(self, **params: int) -> None:
        super().__init__(**params)
        self.by_hash: dict[str, int] = {}
        self._lock = threading.Lock()

    def verify(self, secret_hash: str, secret: str) -> bool:
        with self._lock:
            self.by_hash[secret_hash] = self.by_hash.get(secret_hash, 0) + 1
        return super().verify(secret_hash, secret)

    @property
    def total(self) -> int:
        return sum(self.by_hash.values())


def context(ip: str = "192.0.2.1") -> RequestContext:
    return RequestContext(ip=ip, correlation_id="test")


def credential_hash(container: Container, account_id: int) -> str:
    with container.uow(readonly=True) as uow:
        (credential,) = uow.accounts.credentials(account_id, CredentialKind.KEYPAD_CODE.value)
    return credential.secret_hash


def test_unknown_and_known_numbers_cost_one_verification_and_get_the_same_answer(container: Container) -> None:
    customer = enrol(container)
    spy = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    container.hasher = spy
    authenticator = keypad_authenticator(container)
    known = authenticator.authenticate(bank(container), customer.number, WRONG, context())
    assert spy.total == 1 and spy.by_hash.get(credential_hash(container, customer.account_id)) == 1
    unknown = authenticator.authenticate(bank(container), UNKNOWN, WRONG, context())
    assert spy.total == 2
    assert (known.status, known.remaining_attempts) == (unknown.status, unknown.remaining_attempts)
    assert known.account is None and unknown.account is None


def test_the_right_code(container: Container) -> None:
    customer = enrol(container)
    outcome = keypad_authenticator(container).authenticate(bank(container), customer.number, customer.code, context())
    assert outcome.ok and outcome.account is not None and outcome.account.id == customer.account_id
    assert outcome.must_change_code and outcome.recovery_token_id is None


def test_throttled_per_address(container: Container, clock: FrozenClock) -> None:
    customer = enrol(container)
    authenticator = keypad_authenticator(container)
    limit = bank(container).policy.lockout.ip_requests_per_minute
    for _ in range(limit):
        authenticator.authenticate(bank(container), UNKNOWN, WRONG, context("203.0.113.9"))
    throttled = authenticator.authenticate(bank(container), customer.number, customer.code, context("203.0.113.9"))
    assert throttled.status is AuthStatus.THROTTLED and throttled.retry_at is not None
    assert authenticator.authenticate(bank(container), customer.number, customer.code, context("203.0.113.10")).ok


def test_a_pepper_is_needed(container: Container) -> None:
    """The stored hash is argon2 over a keyed hash: without the server's key, the code does not verify."""
    customer = enrol(container)
    stored = credential_hash(container, customer.account_id)
    assert not container.hasher.verify(stored, customer.code)
    assert KeypadCodeHasher(container.hasher, container.keyed).verify(stored, customer.code)


# -- 100 parallel attempts -----------------------------------------------------------------------------------


def _hundred_parallel_wrong_codes(container: Container) -> None:
    """100 wrong codes at once, each in its own flow from its own address (a distributed attack)."""
    customer = enrol(container)
    spy = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    container.hasher = spy
    stored = credential_hash(container, customer.account_id)
    flows = [start(container) for _ in range(100)]
    barrier = threading.Barrier(20)

    def attempt(index: int) -> str | None:
        flow = flows[index]
        data = {"customer_number": customer.number, "keys": keys_for(flow.context.layout, WRONG)}
        barrier.wait(timeout=30)  # in waves of 20: as parallel as the pool allows
        submit(container, flow, data, services(container, ip=f"198.51.100.{index + 1}"))
        return current(container, flow).context.error

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(100)))
    policy = bank(container).policy.lockout
    # Exactly max_failures codes were compared; the others were refused before any comparison.
    assert spy.by_hash.get(stored) == policy.max_failures == 3
    assert outcomes.count("invalid") == policy.max_failures - 1
    assert outcomes.count("suspended") == 100 - (policy.max_failures - 1)
    with container.uow(readonly=True) as uow:
        types = [r.event.type for r in uow.audit.chain(bank(container).id)]
    assert types.count("login.failed") == 3 and types.count("login.refused") == 97
    keys = f"lockout:{lockout_key(bank(container), customer.number)}"
    now = container.clock.now()
    assert container.counters.get(f"{keys}:suspensions", now) == 1  # one punishment, not one per thread
    # The suspension holds for the right code too, for the hour.
    flow = start(container)
    submit(container, flow, {"customer_number": customer.number, "keys": keys_for(flow.context.layout, customer.code)})
    assert current(container, flow).context.error == "suspended"


def test_hundred_parallel_wrong_codes_are_exact(container: Container) -> None:
    _hundred_parallel_wrong_codes(container)


@pytest.mark.redis
def test_hundred_parallel_wrong_codes_with_redis_counters(
    settings: Settings, clock: FrozenClock, redis_url: str
) -> None:
    built = build_container(settings.model_copy(update={"redis_url": redis_url}), clock=clock)
    try:
        # The Redis server outlives the test database; the customer number, drawn at random, keys
        # this run's lockout counters apart from earlier runs'.
        _hundred_parallel_wrong_codes(built)
    finally:
        built.close()

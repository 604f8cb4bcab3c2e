"""Throttle and LockoutGuard on every counters adapter (SQLite, PostgreSQL, Redis), frozen clock."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.domain.tenants import LockoutPolicy
from sesame.domain.throttling import LockoutKeys, LockoutStatus
from sesame.ports import Counters
from sesame.services.throttling import LockoutGuard, Throttle
from tests.adapters.counters_backends import BACKENDS, backend_url, open_counters

POLICY = LockoutPolicy(max_failures=3, failure_window_seconds=900, suspension_seconds=3600, max_suspensions=3)
SHORT_SUSPENSION = LockoutPolicy(max_failures=3, failure_window_seconds=900, suspension_seconds=60, max_suspensions=3)


@pytest.fixture(params=BACKENDS)
def counters(request: pytest.FixtureRequest) -> Iterator[Counters]:
    with open_counters(request.param, backend_url(request.param, request)) as opened:
        yield opened


@pytest.fixture
def account() -> str:
    """An account key of this test only (Redis is shared by every test of the run)."""
    return f"test-{uuid.uuid4().hex}:user:42"


@pytest.fixture
def guard(counters: Counters, clock: FrozenClock) -> LockoutGuard:
    return LockoutGuard(counters, clock, POLICY)


def fail_times(guard: LockoutGuard, account: str, times: int) -> list[LockoutStatus]:
    return [guard.register_failure(account).status for _ in range(times)]


# -- Throttle ---------------------------------------------------------------------------------------


def test_throttle_allows_the_limit_then_says_when_to_retry(
    counters: Counters, clock: FrozenClock, account: str
) -> None:
    throttle = Throttle(counters, clock)
    key = f"ip:{account}"
    assert [throttle.hit(key, 3, 60).remaining for _ in range(3)] == [2, 1, 0]
    clock.advance(seconds=20)
    refused = throttle.hit(key, 3, 60)
    assert (refused.allowed, refused.remaining, refused.retry_after_seconds) == (False, 0, 40)
    assert throttle.hit(f"other:{account}", 3, 60).allowed  # keys are independent
    clock.advance(seconds=40)
    assert throttle.hit(key, 3, 60).allowed  # a new window


# -- LockoutGuard -----------------------------------------------------------------------------------


def test_failures_count_down_then_suspend(guard: LockoutGuard, clock: FrozenClock, account: str) -> None:
    assert guard.check(account).remaining_attempts == 3
    first, second = guard.register_failure(account), guard.register_failure(account)
    assert (first.status, first.remaining_attempts, second.remaining_attempts) == (LockoutStatus.ALLOWED, 2, 1)
    third = guard.register_failure(account)
    assert third.status is LockoutStatus.SUSPENDED
    assert third.suspended_until == clock.now() + timedelta(hours=1)
    assert (third.suspensions, third.retry_after_seconds(clock.now())) == (1, 3600)
    clock.advance(minutes=59)
    assert guard.check(account).status is LockoutStatus.SUSPENDED
    assert guard.check(account).retry_after_seconds(clock.now()) == 60


def test_failures_during_a_suspension_are_not_counted(guard: LockoutGuard, clock: FrozenClock, account: str) -> None:
    fail_times(guard, account, 3)
    assert fail_times(guard, account, 5) == [LockoutStatus.SUSPENDED] * 5
    clock.advance(hours=1)
    after = guard.check(account)
    assert (after.status, after.failures, after.remaining_attempts, after.suspensions) == (
        LockoutStatus.ALLOWED,
        0,
        3,
        1,
    )
    assert fail_times(guard, account, 3) == [LockoutStatus.ALLOWED, LockoutStatus.ALLOWED, LockoutStatus.SUSPENDED]


def test_failures_outside_the_window_are_forgotten(guard: LockoutGuard, clock: FrozenClock, account: str) -> None:
    fail_times(guard, account, 2)
    clock.advance(seconds=900)
    assert guard.check(account).failures == 0
    assert fail_times(guard, account, 2) == [LockoutStatus.ALLOWED] * 2


def test_the_last_suspension_locks_until_unlocked(guard: LockoutGuard, clock: FrozenClock, account: str) -> None:
    for _ in range(2):
        assert fail_times(guard, account, 3)[-1] is LockoutStatus.SUSPENDED
        clock.advance(hours=1)
    locked = guard.register_failure(account)
    locked = guard.register_failure(account) if locked.allowed else locked
    locked = guard.register_failure(account) if locked.allowed else locked
    assert (locked.status, locked.suspensions, locked.suspended_until) == (LockoutStatus.LOCKED, 3, None)
    clock.advance(days=400)
    assert guard.check(account).status is LockoutStatus.LOCKED
    guard.register_success(account)  # a success does not lift a lock
    assert guard.check(account).status is LockoutStatus.LOCKED
    guard.unlock(account)
    reopened = guard.check(account)
    assert (reopened.status, reopened.failures, reopened.suspensions) == (LockoutStatus.ALLOWED, 0, 0)


def test_a_success_forgets_failures_and_suspensions(guard: LockoutGuard, clock: FrozenClock, account: str) -> None:
    fail_times(guard, account, 3)
    clock.advance(hours=1)
    fail_times(guard, account, 2)
    guard.register_success(account)
    state = guard.check(account)
    assert (state.failures, state.suspensions) == (0, 0)
    for _ in range(2):  # two more suspensions before a lock, as if the first had not happened
        assert fail_times(guard, account, 3)[-1] is LockoutStatus.SUSPENDED
        clock.advance(hours=1)


def test_unlock_lifts_a_suspension(guard: LockoutGuard, account: str) -> None:
    fail_times(guard, account, 3)
    guard.unlock(account)
    assert guard.check(account).allowed


def test_accounts_are_independent(guard: LockoutGuard, account: str) -> None:
    fail_times(guard, account, 3)
    assert guard.check(account + "-other").allowed


def test_a_policy_that_locks_at_once(counters: Counters, clock: FrozenClock, account: str) -> None:
    strict = LockoutGuard(counters, clock, LockoutPolicy(max_failures=3, max_suspensions=1))
    assert fail_times(strict, account, 3) == [LockoutStatus.ALLOWED, LockoutStatus.ALLOWED, LockoutStatus.LOCKED]


def test_a_suspension_shorter_than_the_window_gives_fresh_attempts(
    counters: Counters, clock: FrozenClock, account: str
) -> None:
    # The failures that caused a suspension are still inside their window when it ends: each
    # suspension starts a new round of counting, so they do not count twice.
    guard = LockoutGuard(counters, clock, SHORT_SUSPENSION)
    assert fail_times(guard, account, 3)[-1] is LockoutStatus.SUSPENDED
    clock.advance(seconds=60)
    assert guard.check(account).remaining_attempts == 3
    assert fail_times(guard, account, 3) == [LockoutStatus.ALLOWED, LockoutStatus.ALLOWED, LockoutStatus.SUSPENDED]
    assert guard.check(account).suspensions == 2


@pytest.mark.slow
def test_a_hundred_parallel_failures_suspend_exactly_once(counters: Counters, clock: FrozenClock, account: str) -> None:
    guard = LockoutGuard(counters, clock, SHORT_SUSPENSION)
    start = threading.Barrier(100)

    def attempt(_: int) -> LockoutStatus:
        start.wait(30)
        return guard.register_failure(account).status

    with ThreadPoolExecutor(max_workers=100) as pool:
        statuses = Counter(pool.map(attempt, range(100)))
    keys = LockoutKeys(account)
    assert counters.get(keys.suspensions, clock.now()) == 1
    assert counters.get(keys.round, clock.now()) == 1
    assert statuses == {LockoutStatus.ALLOWED: 2, LockoutStatus.SUSPENDED: 98}
    assert guard.check(account).status is LockoutStatus.SUSPENDED
    clock.advance(seconds=60)  # the suspension is over, the failures' window is not
    assert guard.check(account).remaining_attempts == 3  # the racing failures did not carry over

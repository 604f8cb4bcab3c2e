"""Rate-limit and lockout decisions computed from counter values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sesame.domain.tenants import LockoutPolicy
from sesame.domain.throttling import (
    FailureOutcome,
    LockoutDecision,
    LockoutKeys,
    LockoutStatus,
    check_counter_key,
    failure_outcome,
    lockout_state,
    locks,
    rate_decision,
    seconds_until,
)

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_failures=3, suspension_seconds=3600, max_suspensions=2)


def test_counter_keys_and_windows_are_checked() -> None:
    check_counter_key("k" * 250, 1)
    with pytest.raises(ValueError, match="key"):
        check_counter_key("")
    with pytest.raises(ValueError, match="key"):
        check_counter_key("k" * 251)
    with pytest.raises(ValueError, match="window"):
        check_counter_key("k", 0)


@pytest.mark.parametrize(
    ("moment", "seconds"),
    [(NOW + timedelta(seconds=10), 10), (NOW + timedelta(seconds=9, milliseconds=1), 10), (NOW, 1), (None, 1)],
)
def test_seconds_until_rounds_up_and_never_says_zero(moment: datetime | None, seconds: int) -> None:
    assert seconds_until(moment, NOW) == seconds


def test_rate_decisions() -> None:
    assert [rate_decision(n, 3, None, NOW).remaining for n in (1, 2, 3)] == [2, 1, 0]
    assert all(rate_decision(n, 3, None, NOW).allowed for n in (1, 2, 3))
    refused = rate_decision(4, 3, NOW + timedelta(seconds=42), NOW)
    assert (refused.allowed, refused.remaining, refused.retry_after_seconds) == (False, 0, 42)
    assert rate_decision(1, 0, NOW + timedelta(seconds=5), NOW).allowed is False


def test_failure_outcomes_name_exactly_one_threshold() -> None:
    outcomes = [failure_outcome(POLICY, n) for n in range(1, 7)]
    assert outcomes == [
        FailureOutcome.COUNTED,
        FailureOutcome.COUNTED,
        FailureOutcome.THRESHOLD,
        FailureOutcome.PAST_THRESHOLD,
        FailureOutcome.PAST_THRESHOLD,
        FailureOutcome.PAST_THRESHOLD,
    ]


def test_the_suspension_that_reaches_max_suspensions_locks() -> None:
    assert [locks(POLICY, n) for n in (1, 2, 3)] == [False, True, True]
    assert locks(LockoutPolicy(max_suspensions=1), 1)


def test_lockout_states() -> None:
    allowed = lockout_state(POLICY, locked=False, suspended_until=None, failures=1, suspensions=0)
    assert (allowed.status, allowed.allowed, allowed.remaining_attempts) == (LockoutStatus.ALLOWED, True, 2)
    until = NOW + timedelta(minutes=30)
    suspended = lockout_state(POLICY, locked=False, suspended_until=until, failures=3, suspensions=1)
    assert (suspended.status, suspended.allowed, suspended.remaining_attempts) == (LockoutStatus.SUSPENDED, False, 0)
    assert suspended.retry_after_seconds(NOW) == 1800
    locked = lockout_state(POLICY, locked=True, suspended_until=until, failures=0, suspensions=2)
    assert locked.status is LockoutStatus.LOCKED  # a lock outranks a suspension
    assert locked.retry_after_seconds(NOW) is None
    assert LockoutDecision(LockoutStatus.ALLOWED).retry_after_seconds(NOW) is None


def test_lockout_keys_are_per_account_and_per_round() -> None:
    keys = LockoutKeys("3:user:42")
    names = {keys.locked, keys.suspended, keys.suspensions, keys.round, keys.failures(0), keys.failures(1)}
    assert len(names) == 6
    assert all("3:user:42" in name for name in names)
    assert LockoutKeys("3:user:4").failures(0) != keys.failures(0)

"""Rate limits and lockouts: the rules, computed from counter values (pure, no storage, no clock).

The services (``sesame.services.throttling``) bump and read shared counters; this module turns
those numbers and a tenant's :class:`~sesame.domain.tenants.LockoutPolicy` into decisions.

Lockout, per account: ``max_failures`` failures within ``failure_window_seconds`` suspend the
account for ``suspension_seconds``; the suspension that brings the count of suspensions to
``max_suspensions`` does not end: the account stays locked until support or recovery reopens it.
A successful login clears the failures and the count of suspensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sesame.domain.tenants import LockoutPolicy

#: Longest counter key (the ``counters.key`` column); the Redis adapter keeps the same limit.
MAX_COUNTER_KEY_LENGTH = 250
#: How long suspensions are remembered: counted within a year of the first one.
SUSPENSION_MEMORY_SECONDS = 365 * 24 * 3600
#: A lock has no end of its own; counters need one, so it is a century.
LOCK_SECONDS = 100 * 365 * 24 * 3600


def check_counter_key(key: str, window_seconds: int = 1) -> None:
    """Refuse what the adapters would store differently (an empty or too long key, no window)."""
    if not key or len(key) > MAX_COUNTER_KEY_LENGTH:
        raise ValueError(f"a counter key has 1 to {MAX_COUNTER_KEY_LENGTH} characters")
    if window_seconds < 1:
        raise ValueError("a counter window is at least one second")


def seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds to wait until ``moment`` (at least 1: "retry now" would be retried too soon)."""
    if moment is None:
        return 1
    return max(1, math.ceil((moment - now).total_seconds()))


# -- fixed-window rate limits --------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RateDecision:
    allowed: bool
    #: Requests still allowed in this window.
    remaining: int
    #: When refused, how long until the window ends (an HTTP ``Retry-After``); 0 when allowed.
    retry_after_seconds: int


def rate_decision(count: int, limit: int, window_ends: datetime | None, now: datetime) -> RateDecision:
    """The decision for the ``count``-th request of a window that allows ``limit``."""
    if count <= limit:
        return RateDecision(allowed=True, remaining=limit - count, retry_after_seconds=0)
    return RateDecision(allowed=False, remaining=0, retry_after_seconds=seconds_until(window_ends, now))


# -- lockout -------------------------------------------------------------------------------------


class LockoutStatus(StrEnum):
    ALLOWED = "allowed"
    SUSPENDED = "suspended"
    LOCKED = "locked"


@dataclass(slots=True, frozen=True)
class LockoutDecision:
    status: LockoutStatus
    #: Failures counted since the last suspension or success.
    failures: int = 0
    #: Failures left before the next suspension (0 unless allowed).
    remaining_attempts: int = 0
    suspended_until: datetime | None = None
    #: Suspensions so far (reaching the policy's max_suspensions locks).
    suspensions: int = 0

    @property
    def allowed(self) -> bool:
        return self.status is LockoutStatus.ALLOWED

    def retry_after_seconds(self, now: datetime) -> int | None:
        """Seconds until a suspension ends; None when allowed or locked (no end)."""
        if self.status is not LockoutStatus.SUSPENDED:
            return None
        return seconds_until(self.suspended_until, now)


def lockout_state(
    policy: LockoutPolicy, *, locked: bool, suspended_until: datetime | None, failures: int, suspensions: int
) -> LockoutDecision:
    """An account's state from its counters: a lock outranks a suspension."""
    if locked:
        return LockoutDecision(LockoutStatus.LOCKED, failures=failures, suspensions=suspensions)
    if suspended_until is not None:
        return LockoutDecision(
            LockoutStatus.SUSPENDED, failures=failures, suspended_until=suspended_until, suspensions=suspensions
        )
    return LockoutDecision(
        LockoutStatus.ALLOWED,
        failures=failures,
        remaining_attempts=max(0, policy.max_failures - failures),
        suspensions=suspensions,
    )


class FailureOutcome(StrEnum):
    #: Below the threshold: the failure is counted, nothing else.
    COUNTED = "counted"
    #: This very failure reached the threshold: its caller, and only it, punishes the account.
    THRESHOLD = "threshold"
    #: Past the threshold: another failure, at the same moment, reached it and punishes.
    PAST_THRESHOLD = "past_threshold"


def failure_outcome(policy: LockoutPolicy, failures: int) -> FailureOutcome:
    """What the ``failures``-th failure of a round does; counts are atomic, so one caller sees each."""
    if failures < policy.max_failures:
        return FailureOutcome.COUNTED
    if failures == policy.max_failures:
        return FailureOutcome.THRESHOLD
    return FailureOutcome.PAST_THRESHOLD


def locks(policy: LockoutPolicy, suspensions: int) -> bool:
    """Whether the ``suspensions``-th suspension is a lock rather than a pause."""
    return suspensions >= policy.max_suspensions


@dataclass(slots=True, frozen=True)
class LockoutKeys:
    """The counter keys of one account's lockout state.

    Failures are counted per *round*: each suspension starts a new round, so the failures of
    the round that was punished (including those that raced with the punishing one) never
    count toward the next suspension.
    """

    account: str

    @property
    def locked(self) -> str:
        return f"lockout:{self.account}:locked"

    @property
    def suspended(self) -> str:
        return f"lockout:{self.account}:suspended"

    @property
    def suspensions(self) -> str:
        return f"lockout:{self.account}:suspensions"

    @property
    def round(self) -> str:
        return f"lockout:{self.account}:round"

    def failures(self, round_number: int) -> str:
        return f"lockout:{self.account}:failures:{round_number}"

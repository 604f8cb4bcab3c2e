"""Rate limits and login lockouts on shared counters, exact across workers and nodes.

``Throttle`` answers "may this key make one more request in this window?" (per IP, per phone
number, SMS resends); ``LockoutGuard`` applies a tenant's lockout policy to one account. Both
keep their state in the ``Counters`` port (database or Redis), never in process memory.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sesame.domain.tenants import LockoutPolicy
from sesame.domain.throttling import (
    LOCK_SECONDS,
    SUSPENSION_MEMORY_SECONDS,
    FailureOutcome,
    LockoutDecision,
    LockoutKeys,
    LockoutStatus,
    RateDecision,
    failure_outcome,
    lockout_state,
    locks,
    rate_decision,
)
from sesame.ports import Clock, Counters


class Throttle:
    """Fixed-window rate limits: at most ``limit`` hits per key per window."""

    def __init__(self, counters: Counters, clock: Clock) -> None:
        self._counters = counters
        self._clock = clock

    def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Count one request for ``key`` and say whether it is within the limit.

        Refused requests are counted too: hammering a limit does not open it any sooner, and
        the window still ends ``window_seconds`` after its first request.
        """
        now = self._clock.now()
        counter = f"rate:{key}"
        count = self._counters.increment(counter, window_seconds, now)
        window_ends = self._counters.expires_at(counter, now) if count > limit else None
        return rate_decision(count, limit, window_ends, now)


class LockoutGuard:
    """One tenant's lockout policy applied to accounts (``account_key``: e.g. "3:user:42").

    Exact under concurrency: counters are incremented atomically, so among parallel wrong
    attempts exactly one sees the ``max_failures``-th failure and suspends the account.
    """

    def __init__(self, counters: Counters, clock: Clock, policy: LockoutPolicy) -> None:
        self._counters = counters
        self._clock = clock
        self._policy = policy

    def check(self, account_key: str) -> LockoutDecision:
        """Whether the account may try to log in now (call before checking a credential)."""
        keys = LockoutKeys(account_key)
        now = self._clock.now()
        return self._state(keys, self._counters.get(keys.round, now), now)

    def register_failure(self, account_key: str) -> LockoutDecision:
        """Count a wrong credential; the failure that reaches the threshold suspends or locks."""
        keys = LockoutKeys(account_key)
        now = self._clock.now()
        # The round is read before the state: a failure that saw the round a suspension
        # starts necessarily sees that suspension too, so it cannot count toward the next one.
        round_number = self._counters.get(keys.round, now)
        state = self._state(keys, round_number, now)
        if not state.allowed:
            return state  # no credential is checked while suspended or locked: nothing to count
        failures = self._counters.increment(keys.failures(round_number), self._policy.failure_window_seconds, now)
        outcome = failure_outcome(self._policy, failures)
        if outcome is FailureOutcome.THRESHOLD:
            return self._punish(keys, failures, now)
        if outcome is FailureOutcome.PAST_THRESHOLD:
            return self._after_race(keys, failures, now)
        return lockout_state(
            self._policy, locked=False, suspended_until=None, failures=failures, suspensions=state.suspensions
        )

    def register_success(self, account_key: str) -> None:
        """A correct credential: forget the failures and the suspensions (a lock stays)."""
        keys = LockoutKeys(account_key)
        now = self._clock.now()
        self._counters.reset(keys.failures(self._counters.get(keys.round, now)))
        self._counters.reset(keys.suspensions)

    def unlock(self, account_key: str) -> None:
        """Reopen an account (support, or a completed recovery): no lock, suspension or failure left."""
        keys = LockoutKeys(account_key)
        now = self._clock.now()
        self._counters.reset(keys.locked)
        self._counters.reset(keys.suspended)
        self._counters.reset(keys.suspensions)
        self._counters.reset(keys.failures(self._counters.get(keys.round, now)))

    # -- internals ---------------------------------------------------------------------------

    def _state(self, keys: LockoutKeys, round_number: int, now: datetime) -> LockoutDecision:
        return lockout_state(
            self._policy,
            locked=self._counters.get(keys.locked, now) > 0,
            suspended_until=self._counters.expires_at(keys.suspended, now),
            failures=self._counters.get(keys.failures(round_number), now),
            suspensions=self._counters.get(keys.suspensions, now),
        )

    def _punish(self, keys: LockoutKeys, failures: int, now: datetime) -> LockoutDecision:
        suspensions = self._counters.increment(keys.suspensions, SUSPENSION_MEMORY_SECONDS, now)
        if locks(self._policy, suspensions):
            self._counters.set_until(keys.locked, 1, now + timedelta(seconds=LOCK_SECONDS), now)
            decision = LockoutDecision(LockoutStatus.LOCKED, failures=failures, suspensions=suspensions)
        else:
            until = now + timedelta(seconds=self._policy.suspension_seconds)
            self._counters.set_until(keys.suspended, 1, until, now)
            decision = LockoutDecision(
                LockoutStatus.SUSPENDED, failures=failures, suspended_until=until, suspensions=suspensions
            )
        # Only now a new round starts: whoever reads it will also see the suspension or lock.
        self._counters.increment(keys.round, SUSPENSION_MEMORY_SECONDS, now)
        return decision

    def _after_race(self, keys: LockoutKeys, failures: int, now: datetime) -> LockoutDecision:
        """A parallel failure reached the threshold first: report its punishment, not a new one."""
        state = self._state(keys, self._counters.get(keys.round, now), now)
        if not state.allowed:
            return state
        # The winner has not written its suspension yet (or it already ended): refuse all the same.
        return LockoutDecision(
            LockoutStatus.SUSPENDED,
            failures=failures,
            suspended_until=now + timedelta(seconds=self._policy.suspension_seconds),
            suspensions=state.suspensions,
        )

"""Checking a customer number and keypad code for the login flow: throttles, lockout, audit.

Seed 002: three wrong codes suspend the access for an hour (the tenant's ``LockoutPolicy``);
after ``max_suspensions`` of them the access stays locked until support or a recovery code by
post reopens it. Failures are counted per customer number across every entry point (login,
"secure my access"), under :func:`~sesame.services.authentication.lockout_key`, whether or not
the number is anyone's: an unknown number gets the same counters, the same argon2 work and the
same answers, so neither a refusal nor a suspension tells that a number exists.

A try is reserved before the code is compared: among parallel attempts, no more than the
policy's failures are ever compared in one round (the lockout counts exactly, and guesses are
bounded, not merely counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.customers import reopened_by_recovery
from sesame.domain.tenants import CredentialKind, Tenant
from sesame.domain.throttling import LockoutDecision, LockoutKeys, LockoutStatus
from sesame.methods.keypad.codes import KeypadCodeHasher
from sesame.methods.keypad.recovery_codes import RecoveryCodes
from sesame.ports import Clock, Counters, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX, AuthStatus, ip_throttle_key, lockout_key, record_credential_use
from sesame.services.context import RequestContext
from sesame.services.throttling import LockoutGuard, Throttle

METHOD = "keypad"


@dataclass(frozen=True, slots=True)
class KeypadOutcome:
    status: AuthStatus
    account: Account | None = None
    retry_at: datetime | None = None
    remaining_attempts: int | None = None
    #: Set when the code typed was a one-time code sent by post: it is used up when the new
    #: code is saved (:meth:`RecoveryCodes.use`).
    recovery_token_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is AuthStatus.OK

    @property
    def must_change_code(self) -> bool:
        """The first code of a new customer, or a recovery code: a new code before anything else."""
        return self.recovery_token_id is not None or (
            self.account is not None and self.account.password_change_required
        )


def tries_key(account_key: str, round_number: int) -> str:
    """The counter of tries reserved in one lockout round (see the module's docstring)."""
    return f"keypad-tries:{account_key}:{round_number}"


class KeypadAuthenticator:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        counters: Counters,
        codes: KeypadCodeHasher,
        recovery: RecoveryCodes,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._counters = counters
        self._codes = codes
        self._recovery = recovery

    def authenticate(self, tenant: Tenant, number: str, code: str, context: RequestContext) -> KeypadOutcome:
        """Check a well-formed customer number and a six-digit code; every refusal is audited here.

        Opens its own transactions (counters, audit): call it before a step's unit of work.
        The success is audited by the caller, which knows what the login became.
        """
        policy = tenant.policy.lockout
        throttle = Throttle(self._counters, self._clock).hit(
            ip_throttle_key(tenant, context.ip), policy.ip_requests_per_minute, 60
        )
        if not throttle.allowed:
            self._audit(tenant, "login.throttled", context, None, {})
            return KeypadOutcome(
                AuthStatus.THROTTLED, retry_at=self._clock.now() + timedelta(seconds=throttle.retry_after_seconds)
            )
        key = lockout_key(tenant, number)
        guard = LockoutGuard(self._counters, self._clock, policy)
        # The round is read BEFORE the state: a suspension that lands in between is either seen by
        # check() or, if later, finds this try reserved in the old (already full) round. Read after,
        # a try could open the next round's count and be compared while the suspension is written.
        round_number = self._round(key)
        state = guard.check(key)
        if state.status is LockoutStatus.LOCKED:
            return self._while_locked(tenant, number, code, context)
        if state.status is LockoutStatus.SUSPENDED or not self._reserve_try(
            key, round_number, policy.max_failures, tenant
        ):
            self._codes.dummy_verify(code)  # the same time as a real check
            self._audit(tenant, "login.refused", context, None, {"lockout": LockoutStatus.SUSPENDED.value})
            return KeypadOutcome(AuthStatus.SUSPENDED, retry_at=self._suspended_until(guard, key, state, tenant))
        return self._check(tenant, number, code, context, guard, key)

    # -- the code --------------------------------------------------------------------------------

    def _check(
        self, tenant: Tenant, number: str, code: str, context: RequestContext, guard: LockoutGuard, key: str
    ) -> KeypadOutcome:
        account, credential_id, secret_hash = self._lookup(tenant, number)
        if secret_hash is None:
            self._codes.dummy_verify(code)
            valid = False
        else:
            valid = self._codes.verify(secret_hash, code)
        token_id = None
        if not valid:
            token_id = self._recovery_token(account, code, count_try=False)
        if not valid and token_id is None:
            decision = guard.register_failure(key)
            self._audit(tenant, "login.failed", context, account, {"lockout": decision.status.value})
            return _failure(decision)
        assert account is not None
        guard.register_success(key)
        self._counters.reset(tries_key(key, self._round(key)))
        if token_id is not None:
            return self._accept_recovery(tenant, account, token_id, context)
        if account.status is not AccountStatus.ACTIVE:
            self._audit(tenant, "login.refused", context, account, {"status": account.status.value})
            return KeypadOutcome(AuthStatus.LOCKED, account=account)
        assert credential_id is not None and secret_hash is not None
        self._after_success(credential_id, secret_hash, code)
        return KeypadOutcome(AuthStatus.OK, account=account)

    def _while_locked(self, tenant: Tenant, number: str, code: str, context: RequestContext) -> KeypadOutcome:
        """The lockout cap was reached: only a recovery code by post opens the way now.

        Its own cap on tries (the lockout counts nothing any more) bounds the guesses; an
        unknown number costs the same and gets the same answer.
        """
        account, _, _ = self._lookup(tenant, number)
        token_id = self._recovery_token(account, code, count_try=True)
        if account is None or token_id is None:
            self._audit(tenant, "login.refused", context, account, {"lockout": LockoutStatus.LOCKED.value})
            return KeypadOutcome(AuthStatus.LOCKED)
        return self._accept_recovery(tenant, account, token_id, context)

    def _accept_recovery(
        self, tenant: Tenant, account: Account, token_id: int, context: RequestContext
    ) -> KeypadOutcome:
        # A support lock stays (recovery proves the letter, not that the reason for the lock is
        # gone); the customer's own "secure my access" is what a recovery code reopens.
        if account.status is not AccountStatus.ACTIVE and not reopened_by_recovery(account):
            self._audit(tenant, "login.refused", context, account, {"status": account.status.value, "via": "post"})
            return KeypadOutcome(AuthStatus.LOCKED, account=account)
        self._audit(tenant, "recovery.verified", context, account, {"channel": "post"})
        return KeypadOutcome(AuthStatus.OK, account=account, recovery_token_id=token_id)

    def _recovery_token(self, account: Account | None, code: str, *, count_try: bool) -> int | None:
        if account is None:
            self._recovery.same_work(code)
            return None
        with self._uow(readonly=not count_try) as uow:
            token = self._recovery.match(uow, account.id, code, self._clock.now(), count_try=count_try)
            if count_try:
                uow.commit()  # a counted try stays counted, whatever the answer
        return token.id if token is not None else None

    # -- the lockout's round and reserved tries ------------------------------------------------------

    def _round(self, key: str) -> int:
        return self._counters.get(LockoutKeys(key).round, self._clock.now())

    def _reserve_try(self, key: str, round_number: int, max_failures: int, tenant: Tenant) -> bool:
        """Count a try in this round before comparing; past the policy's failures, compare nothing."""
        window = tenant.policy.lockout.failure_window_seconds
        tries = self._counters.increment(tries_key(key, round_number), window, self._clock.now())
        return tries <= max_failures

    def _suspended_until(self, guard: LockoutGuard, key: str, state: LockoutDecision, tenant: Tenant) -> datetime:
        if state.suspended_until is not None:
            return state.suspended_until
        # Tries ran out in a burst of parallel attempts: the suspension they earn may still be
        # being written; announce the one they will get.
        current = guard.check(key)
        if current.suspended_until is not None:
            return current.suspended_until
        return self._clock.now() + timedelta(seconds=tenant.policy.lockout.suspension_seconds)

    # -- storage --------------------------------------------------------------------------------------

    def _lookup(self, tenant: Tenant, number: str) -> tuple[Account | None, int | None, str | None]:
        with self._uow(readonly=True) as uow:
            account = uow.accounts.by_customer_number(tenant.id, number)
            if account is None:
                return None, None, None
            credentials = uow.accounts.credentials(account.id, CredentialKind.KEYPAD_CODE.value)
        if not credentials:
            return account, None, None
        return account, credentials[0].id, credentials[0].secret_hash

    def _after_success(self, credential_id: int, secret_hash: str, code: str) -> None:
        record_credential_use(self._uow, self._clock, self._codes, credential_id, secret_hash, code)

    def _audit(
        self, tenant: Tenant, event: str, context: RequestContext, account: Account | None, details: dict[str, str]
    ) -> None:
        with self._uow() as uow:
            audit_event(
                uow,
                self._clock,
                tenant.id,
                event,
                actor=context.actor,
                subject=f"account:{account.id}" if account else "account:unknown",
                ip=context.ip[:IP_MAX],
                correlation_id=context.correlation_id,
                details={"method": METHOD, **details},
            )
            uow.commit()


def _failure(decision: LockoutDecision) -> KeypadOutcome:
    if decision.status is LockoutStatus.LOCKED:
        return KeypadOutcome(AuthStatus.LOCKED)
    if decision.status is LockoutStatus.SUSPENDED:
        return KeypadOutcome(AuthStatus.SUSPENDED, retry_at=decision.suspended_until)
    return KeypadOutcome(AuthStatus.INVALID, remaining_attempts=decision.remaining_attempts)

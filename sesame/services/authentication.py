"""Checking a password login: throttles, lockout, constant-time answers, audit.

The answer never tells whether the identifier exists: an unknown identifier costs the same
argon2 verification as a known one, counts failures under the same key shape, and gets the
same suspension. Only a correct password reveals the account's own state (locked, closed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sesame.domain.accounts import Account, AccountStatus, normalize_email
from sesame.domain.tenants import CredentialKind, Tenant
from sesame.domain.throttling import LockoutStatus
from sesame.ports import Clock, Counters, PasswordHasher, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext
from sesame.services.throttling import LockoutGuard, Throttle

#: Longest client address kept (an IPv6 address with a zone fits; so does the audit log's column).
IP_MAX = 64


class AuthStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # wrong identifier or password: the generic error
    SUSPENDED = "suspended"  # too many failures: wait until ``retry_at``
    LOCKED = "locked"  # the access is locked (lockout cap, support): support or recovery reopens it
    THROTTLED = "throttled"  # too many requests from this address


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    status: AuthStatus
    account: Account | None = None
    retry_at: datetime | None = None
    remaining_attempts: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is AuthStatus.OK


def record_credential_use(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    hasher: PasswordHasher,
    credential_id: int,
    secret_hash: str,
    secret: str,
) -> None:
    """After a successful check: store a hash with the current parameters if the old ones are
    weaker (argon2 settings raised), else just note the use."""
    now = clock.now()
    # Hashing again is slow: do it before the write transaction takes the lock.
    upgraded = hasher.hash(secret) if hasher.needs_rehash(secret_hash) else None
    with uow_factory() as uow:
        if upgraded is not None:
            uow.accounts.rehash_credential(credential_id, upgraded, now)
        else:
            uow.accounts.touch_credential(credential_id, now)
        uow.commit()


def lockout_key(tenant: Tenant, identifier: str) -> str:
    """The lockout counter's key: per tenant and typed identifier, whether or not it exists.

    The identifier is hashed: keys keep a fixed length whatever was typed (counter keys are
    limited), and the counters (a Redis server, say) hold no email address.
    """
    digest = hashlib.sha256(normalize_email(identifier).encode()).hexdigest()[:32]
    return f"login:{tenant.id}:{digest}"


def ip_throttle_key(tenant: Tenant, ip: str) -> str:
    """The per-address throttle's key (an address is at most 45 characters; anything longer is cut)."""
    return f"login-ip:{tenant.id}:{ip[:IP_MAX]}"


class PasswordAuthenticator:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, counters: Counters, hasher: PasswordHasher) -> None:
        self._uow = uow
        self._clock = clock
        self._counters = counters
        self._hasher = hasher

    def authenticate(self, tenant: Tenant, identifier: str, password: str, context: RequestContext) -> AuthOutcome:
        """Check ``identifier`` and ``password``; every refusal is audited here.

        A success is audited by the caller (``login.succeeded``), which knows what the login
        became (a session, a forced password change, a second factor still to come).
        """
        lockout = tenant.policy.lockout
        throttle = Throttle(self._counters, self._clock).hit(
            ip_throttle_key(tenant, context.ip), lockout.ip_requests_per_minute, 60
        )
        if not throttle.allowed:
            self._audit(tenant, "login.throttled", context, None, {})
            retry_at = self._clock.now() + timedelta(seconds=throttle.retry_after_seconds)
            return AuthOutcome(AuthStatus.THROTTLED, retry_at=retry_at)
        guard = LockoutGuard(self._counters, self._clock, lockout)
        key = lockout_key(tenant, identifier)
        state = guard.check(key)
        if not state.allowed:
            self._hasher.dummy_verify(password)  # the same time as a real check
            self._audit(tenant, "login.refused", context, None, {"lockout": state.status.value})
            return _lockout_outcome(state.status, state.suspended_until)
        account, secret_hash, credential_id = self._lookup(tenant, identifier)
        if secret_hash is None:
            self._hasher.dummy_verify(password)
            valid = False
        else:
            valid = self._hasher.verify(secret_hash, password)
        if not valid:
            decision = guard.register_failure(key)
            self._audit(tenant, "login.failed", context, account, {"lockout": decision.status.value})
            if not decision.allowed:
                return _lockout_outcome(decision.status, decision.suspended_until)
            return AuthOutcome(AuthStatus.INVALID, remaining_attempts=decision.remaining_attempts)
        assert account is not None and credential_id is not None and secret_hash is not None
        guard.register_success(key)
        if account.status is not AccountStatus.ACTIVE:
            self._audit(tenant, "login.refused", context, account, {"status": account.status.value})
            return AuthOutcome(AuthStatus.LOCKED, account=account)
        self._after_success(account, credential_id, secret_hash, password)
        return AuthOutcome(AuthStatus.OK, account=account)

    # -- internals ---------------------------------------------------------------------------------

    def _lookup(self, tenant: Tenant, identifier: str) -> tuple[Account | None, str | None, int | None]:
        with self._uow(readonly=True) as uow:
            account = uow.accounts.by_email(tenant.id, identifier) if identifier.strip() else None
            if account is None:
                return None, None, None
            credentials = uow.accounts.credentials(account.id, CredentialKind.PASSWORD.value)
        if not credentials:
            return account, None, None
        return account, credentials[0].secret_hash, credentials[0].id

    def _after_success(self, account: Account, credential_id: int, secret_hash: str, password: str) -> None:
        record_credential_use(self._uow, self._clock, self._hasher, credential_id, secret_hash, password)

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
                details={"method": "password", **details},
            )
            uow.commit()


def _lockout_outcome(status: LockoutStatus, until: datetime | None) -> AuthOutcome:
    if status is LockoutStatus.LOCKED:
        return AuthOutcome(AuthStatus.LOCKED)
    return AuthOutcome(AuthStatus.SUSPENDED, retry_at=until)

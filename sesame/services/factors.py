"""Second factors: enrolment and removal from the account page, and their use at login.

Login (:meth:`FactorService.verify_second_factor`, :meth:`FactorService.verify_passwordless`)
opens its own transactions (the lockout counters, the atomic "use" of a code or key, the audit
of a failure): call it before a flow step's unit of work. Failures are counted with the
tenant's :class:`~sesame.domain.tenants.LockoutPolicy` under a key per account of their own
(:func:`second_factor_key`): a correct password clears the password's failures, and must not
clear the second factor's, or knowing the password would give endless guesses at the code.

Enrolment and removal write in the caller's unit of work (a flow step's): the factor, the
"a factor was added/removed" email through the outbox, and the audit event commit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.factors import (
    FactorKind,
    PasskeyDeviceType,
    SecondFactor,
    clean_label,
    factor_amr,
    login_kinds,
    passwordless_amr,
    second_factor_required,
)
from sesame.domain.tenants import Tenant
from sesame.domain.throttling import LockoutDecision, LockoutStatus
from sesame.messages.render import normalize_locale
from sesame.methods import passkey, recovery_codes, totp
from sesame.oidc.keys import KeyEncryption
from sesame.ports import Clock, Counters, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX, ip_throttle_key
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email
from sesame.services.password_change import DISPLAY_TIMEZONE
from sesame.services.throttling import LockoutGuard, Throttle

log = structlog.get_logger(__name__)

ADDED_TEMPLATE = "second_factor_added"
REMOVED_TEMPLATE = "second_factor_removed"


def second_factor_key(tenant: Tenant, account_id: int) -> str:
    """The lockout counter of an account's second factors (distinct from the password's)."""
    return f"login-2fa:{tenant.id}:{account_id}"


class FactorStatus(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # a wrong, expired or replayed code, or a key that did not verify
    SUSPENDED = "suspended"  # too many failures: wait until ``retry_at``
    LOCKED = "locked"  # too many suspensions, or the account is locked
    THROTTLED = "throttled"  # too many requests from this address


@dataclass(frozen=True, slots=True)
class FactorOutcome:
    status: FactorStatus
    #: The account the factor belongs to (a passwordless login learns it from the key).
    account: Account | None = None
    #: RFC 8176 values this use adds ("otp", "hwk", "swk"; the passwordless login's whole amr).
    amr: list[str] = field(default_factory=list)
    kind: FactorKind | None = None
    factor_id: int | None = None
    retry_at: datetime | None = None
    remaining_attempts: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is FactorStatus.OK


class FactorService:
    """Built per use (``Container.factors``); holds no state but its ports."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        keyed: KeyedHasher,
        counters: Counters,
        secret_key: str,
        base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._counters = counters
        self._seeds = totp.SeedBox(KeyEncryption(secret_key))
        self._base_url = base_url.rstrip("/")

    # -- reading -------------------------------------------------------------------------------------

    def relying_party(self, tenant: Tenant) -> passkey.RelyingParty:
        return passkey.RelyingParty.of(self._base_url, tenant.policy.branding.display_name or tenant.name)

    def factors(self, account_id: int) -> Sequence[SecondFactor]:
        with self._uow(readonly=True) as uow:
            return uow.factors.of_account(account_id)

    def login_kinds(self, account_id: int) -> list[FactorKind]:
        """The kinds this account can finish a login with (none: no second factor to ask)."""
        return login_kinds(self.factors(account_id))

    def second_factor_required(self, tenant: Tenant, account_id: int) -> bool:
        return second_factor_required(tenant.policy.mfa, self.factors(account_id))

    # -- challenges (stored by the caller in its flow, used once) --------------------------------------

    def passwordless_challenge(self, tenant: Tenant) -> passkey.Challenge:
        """For the login page: any discoverable passkey of this site, the person verified by it."""
        return passkey.authentication_challenge(self.relying_party(tenant), require_user_verification=True)

    def second_factor_challenge(self, tenant: Tenant, factors: Sequence[SecondFactor]) -> passkey.Challenge | None:
        """For the second-factor page: one of the account's passkeys (None: it has none)."""
        keys = [f for f in factors if f.kind is FactorKind.PASSKEY]
        return passkey.authentication_challenge(self.relying_party(tenant), keys) if keys else None

    def registration_challenge(self, tenant: Tenant, account: Account) -> passkey.Challenge:
        existing = [f for f in self.factors(account.id) if f.kind is FactorKind.PASSKEY]
        handle = passkey.user_handle(self._keyed, tenant.id, account.id)
        name = account.email or account.customer_number or f"account-{account.id}"
        return passkey.registration_challenge(self.relying_party(tenant), handle, name, account.display_name, existing)

    # -- login --------------------------------------------------------------------------------------------

    def verify_second_factor(
        self,
        tenant: Tenant,
        account_id: int,
        kind: FactorKind,
        answer: str,
        challenge: str | None,
        context: RequestContext,
    ) -> FactorOutcome:
        """Check a code or a key of the account after its password; every refusal is audited here.

        ``answer`` is the typed code (TOTP, recovery code) or the browser's WebAuthn response;
        ``challenge`` the one the flow stored for a passkey. Opens its own transactions.
        """
        refused = self._throttled(tenant, context) or self._barred(tenant, account_id)
        if refused is not None:
            self._audit_refusal(tenant, account_id, kind, context, refused)
            return refused
        factors = [f for f in self.factors(account_id) if f.kind is kind and f.tenant_id == tenant.id]
        used = self._use(tenant, kind, factors, answer, challenge)
        if used is None:
            return self._failure(tenant, account_id, kind, context)
        LockoutGuard(self._counters, self._clock, tenant.policy.lockout).register_success(
            second_factor_key(tenant, account_id)
        )
        factor, device_type = used
        return FactorOutcome(FactorStatus.OK, amr=[factor_amr(kind, device_type)], kind=kind, factor_id=factor.id)

    def verify_passwordless(
        self, tenant: Tenant, response_json: str, challenge: str | None, context: RequestContext
    ) -> FactorOutcome:
        """A passkey login without a password: the key names the account; it must verify the person."""
        throttled = self._throttled(tenant, context)
        if throttled is not None:
            self._audit_refusal(tenant, None, FactorKind.PASSKEY, context, throttled)
            return throttled
        factor, account = self._passkey_owner(tenant, response_json)
        if factor is None or account is None or challenge is None:
            self._audit(tenant, "login.failed", None, context, {"method": "passkey", "reason": "unknown_key"})
            return FactorOutcome(FactorStatus.WRONG)
        barred = self._barred(tenant, account.id)
        if barred is not None:
            self._audit_refusal(tenant, account.id, FactorKind.PASSKEY, context, barred)
            return barred
        rp = self.relying_party(tenant)
        try:
            verified = passkey.verify_assertion(rp, response_json, challenge, factor, require_user_verification=True)
        except passkey.PasskeyRejected:
            return self._failure(tenant, account.id, FactorKind.PASSKEY, context)
        if not self._record_passkey_use(factor, verified.sign_count):
            return self._failure(tenant, account.id, FactorKind.PASSKEY, context, reason="counter")
        if account.status is not AccountStatus.ACTIVE:
            self._audit(tenant, "login.refused", account.id, context, {"method": "passkey", "status": account.status})
            return FactorOutcome(FactorStatus.LOCKED, account=account)
        LockoutGuard(self._counters, self._clock, tenant.policy.lockout).register_success(
            second_factor_key(tenant, account.id)
        )
        amr = passwordless_amr(verified.device_type, verified.user_verified)
        return FactorOutcome(FactorStatus.OK, account=account, amr=amr, kind=FactorKind.PASSKEY, factor_id=factor.id)

    def unlock(self, tenant: Tenant, account_id: int) -> None:
        """Forget the second factors' failures, suspensions and lock (support, a completed recovery)."""
        LockoutGuard(self._counters, self._clock, tenant.policy.lockout).unlock(second_factor_key(tenant, account_id))

    # -- enrolment and removal (in the caller's unit of work) ----------------------------------------------

    def new_totp_seed(self) -> str:
        """A new seed, sealed (encrypted) for the enrolment flow's context."""
        return self._seeds.seal(totp.new_secret())

    def totp_enrolment(self, tenant: Tenant, account: Account, sealed: str) -> totp.Enrolment:
        """The QR code and the text of a sealed seed, for the enrolment page."""
        issuer = tenant.policy.branding.display_name or tenant.name
        return totp.enrolment(self._seeds.open(sealed), account.email or account.display_name, issuer)

    def add_totp(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, sealed: str, code: str, label: str, ctx: RequestContext
    ) -> SecondFactor | None:
        """Store the app once its first code is right (None: wrong code, nothing stored)."""
        now = self._clock.now()
        step = totp.matching_step(self._seeds.open(sealed), code, now, None)
        if step is None:
            self._audit_in(uow, tenant, "factor.enrolment_refused", account.id, ctx, {"kind": "totp"})
            return None
        factor = SecondFactor(
            id=0,
            account_id=account.id,
            tenant_id=tenant.id,
            kind=FactorKind.TOTP,
            label=clean_label(label),
            created_at=now,
            last_used_at=now,
            secret_encrypted=sealed,
            last_step=step,  # the enrolment's code cannot log in afterwards
        )
        return self._added(uow, tenant, account, uow.factors.add(factor), ctx)

    def add_passkey(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account: Account,
        response_json: str,
        challenge: str,
        label: str,
        ctx: RequestContext,
    ) -> SecondFactor:
        """Store a passkey whose registration verifies; raises ``PasskeyRejected`` or ``AlreadyExists``."""
        now = self._clock.now()
        try:
            registered = passkey.verify_registration(self.relying_party(tenant), response_json, challenge)
        except passkey.PasskeyRejected:
            self._audit_in(uow, tenant, "factor.enrolment_refused", account.id, ctx, {"kind": "passkey"})
            raise
        factor = SecondFactor(
            id=0,
            account_id=account.id,
            tenant_id=tenant.id,
            kind=FactorKind.PASSKEY,
            label=clean_label(label),
            created_at=now,
            credential_id=registered.credential_id,
            public_key=registered.public_key,
            sign_count=registered.sign_count,
            device_type=registered.device_type,
            backed_up=registered.backed_up,
            transports=registered.transports,
            aaguid=registered.aaguid,
        )
        return self._added(uow, tenant, account, uow.factors.add(factor), ctx)

    def regenerate_recovery_codes(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, ctx: RequestContext
    ) -> list[str]:
        """A new set of codes (returned once, to show); the previous set stops working now."""
        now = self._clock.now()
        codes = recovery_codes.generate()
        hashes = [recovery_codes.digest(self._keyed, code) for code in codes]
        for old in uow.factors.of_account(account.id):
            if old.kind is FactorKind.RECOVERY_CODES:
                uow.factors.remove(old.id)
        factor = SecondFactor(
            id=0,
            account_id=account.id,
            tenant_id=tenant.id,
            kind=FactorKind.RECOVERY_CODES,
            label="",
            created_at=now,
            codes_left=len(codes),
        )
        uow.factors.add(factor)
        uow.factors.add_recovery_codes(factor.id, [h for h in hashes if h is not None])
        self._added(uow, tenant, account, factor, ctx)
        return codes

    def remove(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, factor_id: int, ctx: RequestContext
    ) -> SecondFactor | None:
        """Remove one of the account's factors (None: not one of its factors, nothing done)."""
        factor = uow.factors.get(factor_id)
        if factor is None or factor.account_id != account.id or factor.tenant_id != tenant.id:
            return None
        if not uow.factors.remove(factor.id):
            return None
        self._notify(uow, tenant, account, REMOVED_TEMPLATE, factor)
        self._audit_in(uow, tenant, "factor.removed", account.id, ctx, {"kind": factor.kind, "factor_id": factor.id})
        return factor

    # -- internals: login ------------------------------------------------------------------------------------

    def _use(
        self, tenant: Tenant, kind: FactorKind, factors: Sequence[SecondFactor], answer: str, challenge: str | None
    ) -> tuple[SecondFactor, PasskeyDeviceType | None] | None:
        """The factor that ``answer`` proves, used up (its step, code or counter recorded); None otherwise."""
        if kind is FactorKind.TOTP:
            return next(((f, None) for f in factors if self._use_totp(f, answer)), None)
        if kind is FactorKind.RECOVERY_CODES:
            digest = recovery_codes.digest(self._keyed, answer)
            if digest is None:
                return None
            return next(((f, None) for f in factors if self._use_recovery_code(f, digest)), None)
        return self._use_passkey(tenant, factors, answer, challenge)

    def _use_totp(self, factor: SecondFactor, code: str) -> bool:
        now = self._clock.now()
        try:
            seed = self._seed(factor)
        except totp.SeedUnreadable:
            # Sealed under another server secret: this app cannot be checked (support re-enrols it).
            log.warning("factor.seed_unreadable", factor_id=factor.id, account_id=factor.account_id)
            return False
        step = totp.matching_step(seed, code, now, factor.last_step)
        if step is None:
            return False
        with self._uow() as uow:
            used = uow.factors.use_totp_step(factor.id, step, now)  # a parallel login may have won
            uow.commit()
        return used

    def _use_recovery_code(self, factor: SecondFactor, digest: str) -> bool:
        with self._uow() as uow:
            used = uow.factors.use_recovery_code(factor.id, digest, self._clock.now())
            uow.commit()
        return used

    def _use_passkey(
        self, tenant: Tenant, factors: Sequence[SecondFactor], answer: str, challenge: str | None
    ) -> tuple[SecondFactor, PasskeyDeviceType | None] | None:
        if challenge is None:
            return None
        try:
            claimed = passkey.read_assertion(answer)
            factor = next((f for f in factors if f.credential_id == claimed.credential_id), None)
            if factor is None:
                return None
            verified = passkey.verify_assertion(self.relying_party(tenant), answer, challenge, factor)
        except passkey.PasskeyRejected:
            return None
        if not self._record_passkey_use(factor, verified.sign_count):
            return None
        return factor, verified.device_type

    def _seed(self, factor: SecondFactor) -> str:
        if factor.secret_encrypted is None:
            raise totp.SeedUnreadable(f"TOTP factor {factor.id} has no seed")
        return self._seeds.open(factor.secret_encrypted)

    def _record_passkey_use(self, factor: SecondFactor, sign_count: int) -> bool:
        with self._uow() as uow:
            used = uow.factors.use_passkey(factor.id, sign_count, self._clock.now())
            uow.commit()
        return used

    def _passkey_owner(self, tenant: Tenant, response_json: str) -> tuple[SecondFactor | None, Account | None]:
        """The passkey a passwordless response names, and its account, if both are this tenant's."""
        try:
            claimed = passkey.read_assertion(response_json)
        except passkey.PasskeyRejected:
            return None, None
        with self._uow(readonly=True) as uow:
            factor = uow.factors.by_credential_id(claimed.credential_id)
            if factor is None or factor.tenant_id != tenant.id or factor.kind is not FactorKind.PASSKEY:
                return None, None
            account = uow.accounts.get(factor.account_id)
        # WebAuthn §7.2 step 6: the user handle, when given, is the key's owner's.
        expected = passkey.user_handle(self._keyed, tenant.id, factor.account_id)
        if account is None or (claimed.user_handle is not None and claimed.user_handle != expected):
            return None, None
        return factor, account

    def _throttled(self, tenant: Tenant, context: RequestContext) -> FactorOutcome | None:
        decision = Throttle(self._counters, self._clock).hit(
            ip_throttle_key(tenant, context.ip), tenant.policy.lockout.ip_requests_per_minute, 60
        )
        if decision.allowed:
            return None
        retry_at = self._clock.now() + timedelta(seconds=decision.retry_after_seconds)
        return FactorOutcome(FactorStatus.THROTTLED, retry_at=retry_at)

    def _barred(self, tenant: Tenant, account_id: int) -> FactorOutcome | None:
        state = LockoutGuard(self._counters, self._clock, tenant.policy.lockout).check(
            second_factor_key(tenant, account_id)
        )
        return None if state.allowed else _lockout_outcome(state)

    def _failure(
        self, tenant: Tenant, account_id: int, kind: FactorKind, context: RequestContext, reason: str = "wrong"
    ) -> FactorOutcome:
        decision = LockoutGuard(self._counters, self._clock, tenant.policy.lockout).register_failure(
            second_factor_key(tenant, account_id)
        )
        details = {"method": kind.value, "reason": reason, "lockout": decision.status.value}
        self._audit(tenant, "login.second_factor_failed", account_id, context, details)
        if not decision.allowed:
            return _lockout_outcome(decision)
        return FactorOutcome(FactorStatus.WRONG, remaining_attempts=decision.remaining_attempts)

    def _audit_refusal(
        self, tenant: Tenant, account_id: int | None, kind: FactorKind, context: RequestContext, outcome: FactorOutcome
    ) -> None:
        event = "login.throttled" if outcome.status is FactorStatus.THROTTLED else "login.refused"
        self._audit(tenant, event, account_id, context, {"method": kind.value, "lockout": outcome.status.value})

    # -- internals: records and messages ---------------------------------------------------------------------

    def _added(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, factor: SecondFactor, ctx: RequestContext
    ) -> SecondFactor:
        self._notify(uow, tenant, account, ADDED_TEMPLATE, factor)
        self._audit_in(uow, tenant, "factor.added", account.id, ctx, {"kind": factor.kind, "factor_id": factor.id})
        return factor

    def _notify(self, uow: UnitOfWork, tenant: Tenant, account: Account, template: str, factor: SecondFactor) -> None:
        if not account.email:
            return
        now = self._clock.now()
        locale = _babel_locale(account.locale)
        local = now.astimezone(DISPLAY_TIMEZONE)
        context = {
            "name": account.given_name,
            "kind": factor.kind.value,
            "label": factor.label,
            "changed_date": format_date(local.date(), format="long", locale=locale),
            "changed_time": format_time(local.time(), format="short", locale=locale),
            "account_url": f"{self._base_url}/{tenant.slug}/account#factors",
            "recovery_url": f"{self._base_url}/{tenant.slug}/recovery",
            "support_url": tenant.policy.branding.support_url,
        }
        queue_email(uow, tenant, template, account.locale, account.email, context, now=now)

    def _audit(
        self, tenant: Tenant, event: str, account_id: int | None, context: RequestContext, details: Mapping[str, Any]
    ) -> None:
        with self._uow() as uow:
            self._audit_in(uow, tenant, event, account_id, context, details)
            uow.commit()

    def _audit_in(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        account_id: int | None,
        context: RequestContext,
        details: Mapping[str, Any],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=f"account:{account_id}" if account_id is not None else "account:unknown",
            ip=context.ip[:IP_MAX],
            correlation_id=context.correlation_id,
            details={key: str(value) if isinstance(value, StrEnum) else value for key, value in details.items()},
        )


def _lockout_outcome(decision: LockoutDecision) -> FactorOutcome:
    if decision.status is LockoutStatus.LOCKED:
        return FactorOutcome(FactorStatus.LOCKED)
    return FactorOutcome(FactorStatus.SUSPENDED, retry_at=decision.suspended_until)


def _babel_locale(locale: str) -> str:
    """The account's language for dates, French when babel does not know it."""
    candidate = normalize_locale(locale)
    try:
        Locale.parse(candidate)
    except (ValueError, UnknownLocaleError):
        return "fr"
    return candidate

"""Activating the phone app, and recognising an activated app when it calls.

Activation (seed 001's last step, ADR 0008): the person logs in with the tenant's own login
(email and password, through :class:`~sesame.services.authentication.PasswordAuthenticator`,
with its throttles and lockout), which must belong to an account holding a verified identity;
a 6-digit code goes by SMS to the identity's verified mobile (possession of the number); the
app then registers its public key (ECDSA P-256, made non-extractable by WebCrypto) with the
4-digit code the person chose. The code is kept as a keyed hash bound to the device id. The
identity's ``app_activated_at`` is set: from then on it is usable at ``eidas2``.

An activated app proves itself by signatures only: no bearer secret is stored on the phone.
To list its pending requests it signs the time (:func:`authenticate_device`); to answer one it
signs the request (``sesame.services.approvals``).

A device disabled by wrong codes never comes back: a new activation (password, SMS to the
verified mobile) makes a new device. When an account has no active device left, its identity's
``app_activated_at`` is cleared until then.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from sesame.domain.accounts import Account
from sesame.domain.devices import (
    PIN_KEYED_PURPOSE,
    AppPolicy,
    Device,
    DeviceActivation,
    DeviceStatus,
    InvalidPublicKey,
    PinRejected,
    app_policy,
    check_pin_choice,
    clean_device_label,
    listing_signing_input,
    parse_public_jwk,
    pin_message,
    verify_signature,
)
from sesame.domain.errors import DomainError
from sesame.domain.identity import SUBSTANTIAL, VerifiedIdentity
from sesame.domain.phones import mask_mobile
from sesame.domain.tenants import CredentialKind, Tenant
from sesame.messages.render import normalize_locale
from sesame.ports import Clock, Counters, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX, AuthStatus, PasswordAuthenticator
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email, queue_sms
from sesame.services.password_change import DISPLAY_TIMEZONE
from sesame.services.throttling import Throttle

ACTIVATION_CODE_DIGITS = 6
ACTIVATION_KEYED_PURPOSE = "device-activation"
ACTIVATION_SMS_TEMPLATE = "device_activation_code"
ACTIVATED_EMAIL_TEMPLATE = "device_activated"
DISABLED_EMAIL_TEMPLATE = "device_disabled"
#: Disabled because too many wrong codes were typed on it.
REASON_PIN_FAILURES = "pin_failures"
REASON_REMOVED = "removed"
DEFAULT_LABEL = "Sésame"
#: Longest id or token accepted from a client (ours are shorter): anything longer is not ours.
ID_MAX = 64


def offers_app(tenant: Tenant) -> bool:
    """Whether the tenant's people may log in with the phone app (seed 000: La Poste)."""
    return CredentialKind.APP in tenant.policy.credentials


def _token_hash(token: str) -> str:
    return hashlib.sha256(f"sesame-device-activation:{token}".encode()).hexdigest()


def _code_message(activation_id: str, code: str) -> str:
    return f"{activation_id}:{code}"


def _new_code() -> str:
    return f"{secrets.randbelow(10**ACTIVATION_CODE_DIGITS):0{ACTIVATION_CODE_DIGITS}d}"


class DeviceError(DomainError):
    """A refusal of the device API; ``code`` is stable (the API and the pages map it to words).

    Codes: ``app_unavailable``, ``invalid_credentials``, ``suspended``, ``locked``, ``throttled``,
    ``no_identity``, ``too_many_sms``, ``resend_too_soon``, ``activation_invalid``,
    ``activation_expired``, ``code_wrong``, ``code_expired``, ``code_locked``,
    ``code_not_verified``, ``activation_used``, ``invalid_public_key``, ``pin_rejected``,
    ``too_many_devices``, ``unknown_device``, ``device_disabled``, ``stale_signature``,
    ``bad_signature``, ``replayed_signature``.
    """

    def __init__(
        self,
        code: str,
        *,
        retry_at: datetime | None = None,
        remaining: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.retry_at = retry_at
        self.remaining = remaining
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ActivationStarted:
    activation_id: str
    #: The activation's bearer token, given once: the client sends it with the next steps.
    token: str
    mobile_masked: str
    code_expires_at: datetime
    expires_at: datetime


def _babel_locale(locale: str) -> str:
    try:
        return str(Locale.parse(normalize_locale(locale)))
    except (UnknownLocaleError, ValueError):
        return "fr"


def notify_device_change(
    uow: UnitOfWork, tenant: Tenant, account: Account, template: str, device: Device, now: datetime, base_url: str
) -> None:
    """The "your app was activated / disabled" email, in the caller's transaction."""
    if not account.email:
        return
    locale = _babel_locale(account.locale)
    local = now.astimezone(DISPLAY_TIMEZONE)
    context = {
        "name": account.given_name,
        "label": device.label,
        "changed_date": format_date(local.date(), format="long", locale=locale),
        "changed_time": format_time(local.time(), format="short", locale=locale),
        "app_url": f"{base_url}/app/{tenant.slug}/",
        "recovery_url": f"{base_url}/{tenant.slug}/recovery",
        "support_url": tenant.policy.branding.support_url,
    }
    queue_email(uow, tenant, template, account.locale, account.email, context, now=now)


def device_disabled(
    uow: UnitOfWork,
    clock: Clock,
    tenant: Tenant,
    device: Device,
    reason: str,
    context: RequestContext,
    base_url: str,
) -> None:
    """What follows a device's disabling, in the caller's transaction (which disabled it): the
    identity loses ``app_activated_at`` when no active device is left, the person is told, and
    the audit log says so."""
    now = clock.now()
    identity = uow.identities.of_account(device.account_id)
    cleared = False
    if (
        identity is not None
        and identity.app_activated_at is not None
        and uow.devices.count_active(device.account_id) == 0
    ):
        identity.app_activated_at = None
        uow.identities.save(identity)
        cleared = True
    account = uow.accounts.get(device.account_id)
    if account is not None:
        notify_device_change(uow, tenant, account, DISABLED_EMAIL_TEMPLATE, device, now, base_url)
    audit_event(
        uow,
        clock,
        tenant.id,
        "device.disabled",
        actor=context.actor,
        subject=f"account:{device.account_id}",
        ip=context.ip[:IP_MAX],
        correlation_id=context.correlation_id,
        details={"device_id": device.id, "reason": reason, "identity_app_cleared": cleared},
    )


class DeviceService:
    """Built per use (``Container.devices``); holds no state but its ports."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        keyed: KeyedHasher,
        counters: Counters,
        authenticator: PasswordAuthenticator,
        base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._counters = counters
        self._authenticator = authenticator
        self._base_url = base_url.rstrip("/")

    # -- reading -------------------------------------------------------------------------------------

    def devices_of(self, account_id: int) -> Sequence[Device]:
        with self._uow(readonly=True) as uow:
            return uow.devices.of_account(account_id)

    def get(self, tenant: Tenant, device_id: str) -> Device | None:
        if not device_id or len(device_id) > ID_MAX:
            return None
        with self._uow(readonly=True) as uow:
            device = uow.devices.get(device_id)
        return device if device is not None and device.tenant_id == tenant.id else None

    # -- activation ----------------------------------------------------------------------------------

    def start_activation(self, tenant: Tenant, email: str, password: str, context: RequestContext) -> ActivationStarted:
        """Check the tenant's login, then send the activation code to the verified mobile."""
        if not offers_app(tenant):
            raise DeviceError("app_unavailable")
        policy = app_policy(tenant.policy)
        # The password's own throttles, lockout, constant time and audit of refusals.
        outcome = self._authenticator.authenticate(tenant, email, password, context)
        if outcome.status is AuthStatus.INVALID:
            raise DeviceError("invalid_credentials", remaining=outcome.remaining_attempts)
        if not outcome.ok or outcome.account is None:
            raise DeviceError(outcome.status.value, retry_at=outcome.retry_at)
        account = outcome.account
        context = replace_actor(context, account.id)
        with self._uow(readonly=True) as uow:
            identity = uow.identities.of_account(account.id)
            active = uow.devices.count_active(account.id)
        if not _usable_identity(identity, tenant):
            self._audit_alone(tenant, "device.activation_refused", account.id, context, {"reason": "no_identity"})
            raise DeviceError("no_identity")
        assert identity is not None
        if active >= policy.max_active_devices:  # before any SMS: it could not end in a device
            raise DeviceError("too_many_devices")
        self._sms_allowed(tenant, account.id, policy)
        now = self._clock.now()
        activation_id, token, code = f"da_{secrets.token_urlsafe(18)}", secrets.token_urlsafe(32), _new_code()
        activation = DeviceActivation(
            id=activation_id,
            tenant_id=tenant.id,
            account_id=account.id,
            token_hash=_token_hash(token),
            code_digest=self._keyed.digest(ACTIVATION_KEYED_PURPOSE, _code_message(activation_id, code)),
            code_sent_at=now,
            code_expires_at=now + timedelta(seconds=policy.activation_code_ttl_seconds),
            created_at=now,
            expires_at=now + timedelta(seconds=policy.activation_ttl_seconds),
        )
        with self._uow() as uow:
            uow.devices.add_activation(activation)
            self._send_code(uow, tenant, account, identity, code, now)
            self._audit(uow, tenant, "device.activation_started", account.id, context, {"activation_id": activation_id})
            uow.commit()
        return ActivationStarted(
            activation_id=activation_id,
            token=token,
            mobile_masked=mask_mobile(identity.mobile),
            code_expires_at=activation.code_expires_at,
            expires_at=activation.expires_at,
        )

    def resend_code(self, tenant: Tenant, activation_id: str, token: str, context: RequestContext) -> datetime:
        """A new SMS code (after the policy's wait); the tries made so far stay. Returns its expiry."""
        policy = app_policy(tenant.policy)
        activation = self._activation(tenant, activation_id, token)
        now = self._clock.now()
        if activation.code_verified_at is not None:
            raise DeviceError("code_locked")
        wait = activation.resend_wait(now, policy)
        if wait:
            raise DeviceError("resend_too_soon", retry_at=now + timedelta(seconds=wait))
        self._sms_allowed(tenant, activation.account_id, policy)
        code = _new_code()
        expires = now + timedelta(seconds=policy.activation_code_ttl_seconds)
        with self._uow() as uow:
            account = uow.accounts.get(activation.account_id)
            identity = uow.identities.of_account(activation.account_id)
            if account is None or not _usable_identity(identity, tenant):
                raise DeviceError("no_identity")
            assert identity is not None
            digest = self._keyed.digest(ACTIVATION_KEYED_PURPOSE, _code_message(activation.id, code))
            uow.devices.renew_activation_code(activation.id, digest, now, expires)
            self._send_code(uow, tenant, account, identity, code, now)
            self._audit(
                uow, tenant, "device.activation_code_resent", account.id, context, {"activation_id": activation.id}
            )
            uow.commit()
        return expires

    def verify_code(self, tenant: Tenant, activation_id: str, token: str, code: str, context: RequestContext) -> None:
        """Check the SMS code (one try counted, atomically, whatever the result)."""
        policy = app_policy(tenant.policy)
        activation = self._activation(tenant, activation_id, token)
        now = self._clock.now()
        if activation.code_verified_at is not None:
            return  # said twice (a double submit): the code was right
        candidate = "".join(code.split())[:32]
        with self._uow() as uow:
            if not uow.devices.count_activation_try(activation.id, policy.activation_code_max_tries):
                raise DeviceError("code_locked")
            if now >= activation.code_expires_at:
                uow.commit()
                raise DeviceError("code_expired")
            right = (
                candidate.isdigit()
                and len(candidate) == ACTIVATION_CODE_DIGITS
                and self._keyed.matches(
                    ACTIVATION_KEYED_PURPOSE, _code_message(activation.id, candidate), activation.code_digest
                )
            )
            if not right:
                tries = activation.code_tries + 1
                self._audit(
                    uow, tenant, "device.activation_code_failed", activation.account_id, context, {"tries": tries}
                )
                uow.commit()
                remaining = max(0, policy.activation_code_max_tries - tries)
                raise DeviceError("code_wrong" if remaining else "code_locked", remaining=remaining)
            uow.devices.verify_activation_code(activation.id, now)
            self._audit(uow, tenant, "device.activation_code_verified", activation.account_id, context, {})
            uow.commit()

    def register(
        self,
        tenant: Tenant,
        activation_id: str,
        token: str,
        public_key: Any,
        pin: str,
        label: str,
        context: RequestContext,
    ) -> Device:
        """Register the app's public key and its 4-digit code; the identity becomes usable at eidas2."""
        policy = app_policy(tenant.policy)
        activation = self._activation(tenant, activation_id, token)
        if activation.code_verified_at is None:
            raise DeviceError("code_not_verified")
        try:
            jwk = parse_public_jwk(public_key)
        except InvalidPublicKey as error:
            raise DeviceError("invalid_public_key") from error
        with self._uow(readonly=True) as uow:
            identity = uow.identities.of_account(activation.account_id)
            active = uow.devices.count_active(activation.account_id)
        if not _usable_identity(identity, tenant):
            raise DeviceError("no_identity")
        assert identity is not None
        try:
            check_pin_choice(pin, identity.data.birth_date)
        except PinRejected as error:
            raise DeviceError("pin_rejected", reason=error.reason.value) from error
        if active >= policy.max_active_devices:
            raise DeviceError("too_many_devices")
        now = self._clock.now()
        device_id = f"dv_{secrets.token_urlsafe(18)}"
        device = Device(
            id=device_id,
            tenant_id=tenant.id,
            account_id=activation.account_id,
            label=clean_device_label(label, DEFAULT_LABEL),
            public_key=jwk,
            pin_digest=self._keyed.digest(PIN_KEYED_PURPOSE, pin_message(device_id, pin)),
            created_at=now,
        )
        with self._uow() as uow:
            if not uow.devices.use_activation(activation.id, now):
                raise DeviceError("activation_used")
            account = uow.accounts.get(activation.account_id)
            identity = uow.identities.of_account(activation.account_id)
            if account is None or not account.can_log_in:
                raise DeviceError("locked")
            if not _usable_identity(identity, tenant):
                raise DeviceError("no_identity")
            assert identity is not None
            uow.devices.add(device)
            if identity.app_activated_at is None:
                identity.app_activated_at = now
                uow.identities.save(identity)
            notify_device_change(uow, tenant, account, ACTIVATED_EMAIL_TEMPLATE, device, now, self._base_url)
            self._audit(
                uow,
                tenant,
                "device.registered",
                account.id,
                replace_actor(context, account.id),
                {"device_id": device.id, "label": device.label, "devices_active": active + 1},
            )
            uow.commit()
        return device

    # -- an activated device calls -----------------------------------------------------------------

    def authenticate_device(self, tenant: Tenant, device_id: str, timestamp: int, signature: str) -> Device:
        """The device whose signature over :func:`listing_signing_input` this is: signed within the
        policy's skew of our clock, and never seen before (a captured call cannot be replayed)."""
        policy = app_policy(tenant.policy)
        device = self.get(tenant, device_id)
        if device is None:
            raise DeviceError("unknown_device")
        if device.status is not DeviceStatus.ACTIVE:
            raise DeviceError("device_disabled")
        now = self._clock.now()
        if abs(now.timestamp() - timestamp) > policy.signature_skew_seconds:
            raise DeviceError("stale_signature")
        if not verify_signature(device.public_key, listing_signing_input(tenant.slug, device.id, timestamp), signature):
            raise DeviceError("bad_signature")
        seen = hashlib.sha256(signature.encode()).hexdigest()[:40]
        if self._counters.increment(f"device-sig:{seen}", 2 * policy.signature_skew_seconds, now) > 1:
            raise DeviceError("replayed_signature")
        return device

    def remove(self, tenant: Tenant, account_id: int, device_id: str, context: RequestContext) -> bool:
        """The person removes one of their devices: disabled for good (:meth:`remove_in`, committed)."""
        with self._uow() as uow:
            removed = self.remove_in(uow, tenant, account_id, device_id, context)
            if removed:
                uow.commit()
        return removed

    def remove_in(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, device_id: str, context: RequestContext
    ) -> bool:
        """:meth:`remove` in the caller's transaction (the account page's factors flow, whose
        step has checked the fresh authentication): the device is disabled, the person told by
        email, the identity's ``app_activated_at`` cleared with the last active device, audited.
        False, with nothing written, for a device that is not this account's or not active."""
        if not device_id or len(device_id) > ID_MAX:
            return False
        device = uow.devices.get(device_id)
        if device is None or device.account_id != account_id or device.tenant_id != tenant.id:
            return False
        if not uow.devices.disable(device.id, self._clock.now(), REASON_REMOVED):
            return False
        device_disabled(uow, self._clock, tenant, device, REASON_REMOVED, context, self._base_url)
        return True

    # -- internals -----------------------------------------------------------------------------------

    def _activation(self, tenant: Tenant, activation_id: str, token: str) -> DeviceActivation:
        if not activation_id or not token or len(activation_id) > ID_MAX or len(token) > ID_MAX:
            raise DeviceError("activation_invalid")
        with self._uow(readonly=True) as uow:
            activation = uow.devices.get_activation(activation_id)
        if (
            activation is None
            or activation.tenant_id != tenant.id
            or not hmac.compare_digest(activation.token_hash, _token_hash(token))
        ):
            raise DeviceError("activation_invalid")
        if activation.used_at is not None:
            raise DeviceError("activation_used")
        if not activation.open(self._clock.now()):
            raise DeviceError("activation_expired")
        return activation

    def _sms_allowed(self, tenant: Tenant, account_id: int, policy: AppPolicy) -> None:
        decision = Throttle(self._counters, self._clock).hit(
            f"device-activation-sms:{tenant.id}:{account_id}", policy.activation_sms_per_hour, 3600
        )
        if not decision.allowed:
            raise DeviceError(
                "too_many_sms", retry_at=self._clock.now() + timedelta(seconds=decision.retry_after_seconds)
            )

    def _send_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, identity: VerifiedIdentity, code: str, now: datetime
    ) -> None:
        queue_sms(
            uow,
            tenant,
            ACTIVATION_SMS_TEMPLATE,
            account.locale,
            identity.mobile,
            {"code": code, "minutes": app_policy(tenant.policy).activation_code_ttl_seconds // 60},
            now=now,
            sensitive=True,
        )

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        account_id: int,
        context: RequestContext,
        details: Mapping[str, Any],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=f"account:{account_id}",
            ip=context.ip[:IP_MAX],
            correlation_id=context.correlation_id,
            details=dict(details),
        )

    def _audit_alone(
        self, tenant: Tenant, event: str, account_id: int, context: RequestContext, details: Mapping[str, Any]
    ) -> None:
        with self._uow() as uow:
            self._audit(uow, tenant, event, account_id, context, details)
            uow.commit()


def replace_actor(context: RequestContext, account_id: int) -> RequestContext:
    """Once the password was right, the account acts (for the audit log)."""
    return RequestContext(
        ip=context.ip,
        user_agent=context.user_agent,
        correlation_id=context.correlation_id,
        actor=f"account:{account_id}",
    )


def _usable_identity(identity: VerifiedIdentity | None, tenant: Tenant) -> bool:
    """A verified identity the app can be activated for: active, substantial, of this tenant."""
    return (
        identity is not None and identity.active and identity.level == SUBSTANTIAL and identity.tenant_id == tenant.id
    )

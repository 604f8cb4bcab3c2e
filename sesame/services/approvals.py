"""Approval requests: "is this you?" sent to an account's phone app, answered with the device's key
and the 4-digit code. The website's decoupled login (seed 000, "Utiliser l'Identité Numérique"),
OpenID CIBA and step-up are all built on this service.

- :meth:`ApprovalService.create_request` makes a request for a mobile number (or an account),
  with a binding code to show on the requester's screen. A number nobody uses, or whose account
  cannot log in (locked, suspended, no active app), gets a request all the same, which nobody
  can answer and which simply expires: from outside, every number looks alike. Requests per
  number are limited (no push bombing).
- The requester polls with its handle (:meth:`poll`, :meth:`poll_by_handle`): a website passes
  the browser's own token, CIBA the ``auth_req_id``; only SHA-256 of the handle is stored.
- The device lists its requests (:meth:`pending_for_device`) and answers one (:meth:`decide`)
  with its signature over the request, the binding code the person typed (number matching:
  a wrong number denies the request), and, to approve, its 4-digit code. Ten wrong codes
  (policy) disable the device. A request is decided once: a replayed approval changes nothing.
- The requester then uses an approval once (:meth:`consume`): the account's status and the
  lockout are checked again, as the password login checks them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.devices import (
    APP_AMR,
    BINDING_DIGITS,
    BINDING_MESSAGE_MAX,
    PIN_KEYED_PURPOSE,
    SERVICE_NAME_MAX,
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    BindingMode,
    Decision,
    Device,
    DeviceStatus,
    app_policy,
    normalise_binding,
    pin_message,
    pin_well_formed,
    verify_signature,
)
from sesame.domain.errors import DomainError
from sesame.domain.identity import VerifiedIdentity
from sesame.domain.phones import parse_french_mobile
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.ports import Clock, Counters, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX, ip_throttle_key, lockout_key
from sesame.services.context import RequestContext
from sesame.services.devices import REASON_PIN_FAILURES, device_disabled, offers_app
from sesame.services.throttling import LockoutGuard, Throttle

T = TypeVar("T")

#: The level an approval reaches with a verified identity whose app is activated, and without.
ACR_WITH_IDENTITY = "eidas2"
ACR_WITHOUT_IDENTITY = "eidas1"
#: How long after its expiry an approved request may still be used by its requester (a CIBA
#: client polls every few seconds; a browser may be slow to come back).
CONSUME_GRACE = timedelta(minutes=5)
#: Longest handle, request id or signature accepted from outside.
HANDLE_MAX = 512
ID_MAX = 64
SCOPE_MAX = 500
CLIENT_ID_MAX = 100


def handle_hash(handle: str) -> str:
    """What is stored of a requester's handle (high-entropy: a plain hash will do)."""
    return hashlib.sha256(f"sesame-approval-handle:{handle}".encode()).hexdigest()


def number_key(tenant: Tenant, e164: str) -> str:
    """The per-number rate limit's counter (hashed: the counters hold no phone number)."""
    return f"approval-number:{tenant.id}:{hashlib.sha256(e164.encode()).hexdigest()[:32]}"


class ApprovalRateLimited(DomainError):
    """Too many requests for this number (or account) lately: wait until ``retry_at``."""

    code = "approval_rate_limited"

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"too many approval requests, retry at {retry_at.isoformat()}")
        self.retry_at = retry_at


class ApprovalUnavailable(DomainError):
    """The tenant does not offer the phone app."""

    code = "approval_unavailable"


@dataclass(frozen=True, slots=True)
class NewApproval:
    """What a requester asks: the kind, the service named on the device, its handle to poll with."""

    kind: ApprovalKind
    service_name: str
    #: The requester's secret to poll with (a browser's token, a CIBA auth_req_id); hashed.
    handle: str
    client_id: str | None = None
    #: CIBA's ``binding_message``: shown on the device to compare (no number to type then).
    binding_message: str | None = None
    acr: str | None = None
    scope: str = ""


@dataclass(frozen=True, slots=True)
class CreatedApproval:
    #: The request: its ``id``, the ``binding_code`` to show on the requester's screen, ``expires_at``.
    request: ApprovalRequest
    #: Whether a device can answer (server side only: a website must never reveal it).
    account_known: bool


class DecisionStatus(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    UNKNOWN_DEVICE = "unknown_device"
    DEVICE_DISABLED = "device_disabled"
    NOT_FOUND = "not_found"  # no such request for this device's account
    NOT_PENDING = "not_pending"  # decided already (a replay), or expired
    BAD_SIGNATURE = "bad_signature"
    BINDING_MISMATCH = "binding_mismatch"  # the number typed is not the one shown: request denied
    PIN_REQUIRED = "pin_required"
    WRONG_PIN = "wrong_pin"
    ACCOUNT_BARRED = "account_barred"  # locked, closed or suspended: request denied


@dataclass(frozen=True, slots=True)
class DeviceAnswer:
    """A device's answer to a request, as the device API receives it."""

    device_id: str
    request_id: str
    decision: Decision
    binding_code: str
    signature: str
    pin: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    status: DecisionStatus
    #: The request's status afterwards, when the device may know it.
    request_status: ApprovalStatus | None = None
    #: Wrong codes still allowed before the device is disabled (after a wrong code).
    pins_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in (DecisionStatus.APPROVED, DecisionStatus.DENIED)


class ConsumeStatus(StrEnum):
    CONSUMED = "consumed"  # this call used the approval: log the person in, issue the tokens
    PENDING = "pending"
    DENIED = "denied"
    EXPIRED = "expired"
    USED = "used"  # used already (a double submit, a replay)
    REFUSED = "refused"  # approved, but the account may not log in now (locked, suspended, closed)
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Consumption:
    status: ConsumeStatus
    request: ApprovalRequest | None = None
    account: Account | None = None
    identity: VerifiedIdentity | None = None
    #: The level and methods the approval proves (for the session or the ID token).
    acr: str | None = None
    amr: tuple[str, ...] = ()
    #: What ``on_consumed`` returned, in the consuming transaction.
    result: Any = None


def approval_acr(identity: VerifiedIdentity | None) -> str:
    """An app approval is two factors; with a verified identity whose app is activated: eidas2."""
    return ACR_WITH_IDENTITY if identity is not None and identity.usable_for_eidas2 else ACR_WITHOUT_IDENTITY


def purge_expired(uow: UnitOfWork, before: datetime) -> tuple[int, int]:
    """Delete, in the caller's transaction, the approval requests and the device activations that
    expired before ``before`` (``sesame maintenance purge``: they are of no use once over);
    returns how many of each."""
    return uow.approvals.delete_before(before), uow.devices.delete_expired_activations(before)


class ApprovalService:
    """Built per use (``Container.approvals``); holds no state but its ports."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        keyed: KeyedHasher,
        counters: Counters,
        base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._counters = counters
        self._base_url = base_url.rstrip("/")

    # -- requesting -----------------------------------------------------------------------------------

    def create_request(
        self,
        tenant: Tenant,
        new: NewApproval,
        context: RequestContext,
        *,
        mobile: str | None = None,
        account_id: int | None = None,
    ) -> CreatedApproval:
        """A request for the account using ``mobile`` (typed or E.164: ``PhoneNumberRejected`` if it
        is no French mobile), or for ``account_id`` (step-up: the session names the account).

        Raises :class:`ApprovalRateLimited` past the policy's requests per number (or account)
        and per address, the same for every number; :class:`ApprovalUnavailable` when the
        tenant has no app. Whether a device can answer is in ``account_known``, for the server.
        """
        if (mobile is None) == (account_id is None):
            raise ValueError("a request is for a mobile number or for an account")
        if not offers_app(tenant):
            raise ApprovalUnavailable("this tenant has no phone app")
        policy = app_policy(tenant.policy)
        self._check_new(new)
        if context.ip:
            self._throttle(ip_throttle_key(tenant, context.ip), tenant.policy.lockout.ip_requests_per_minute, 60)
        if mobile is not None:
            e164 = parse_french_mobile(mobile).e164
            self._throttle(number_key(tenant, e164), policy.requests_per_number, policy.requests_window_seconds)
            target = self._account_for_mobile(tenant, e164)
        else:
            assert account_id is not None
            key = f"approval-account:{tenant.id}:{account_id}"
            self._throttle(key, policy.requests_per_number, policy.requests_window_seconds)
            target = self._answerable(tenant, account_id)
        now = self._clock.now()
        compare = new.binding_message is not None
        request = ApprovalRequest(
            id=f"ar_{secrets.token_urlsafe(18)}",
            tenant_id=tenant.id,
            account_id=target.id if target else None,
            kind=new.kind,
            service_name=new.service_name.strip(),
            binding_code=(
                normalise_binding(new.binding_message or "")
                if compare
                else f"{secrets.randbelow(10**BINDING_DIGITS):0{BINDING_DIGITS}d}"
            ),
            binding_mode=BindingMode.COMPARE if compare else BindingMode.ENTER,
            nonce=secrets.token_urlsafe(24),
            poll_handle_hash=handle_hash(new.handle),
            created_at=now,
            expires_at=now + timedelta(seconds=policy.approval_ttl_seconds),
            acr_requested=new.acr,
            scope=new.scope,
            client_id=new.client_id,
        )
        with self._uow() as uow:
            uow.approvals.add(request)
            self._audit(
                uow,
                tenant,
                "approval.requested",
                context,
                f"account:{target.id}" if target else "account:unknown",
                {"request_id": request.id, "kind": request.kind.value, "client_id": request.client_id},
            )
            uow.commit()
        return CreatedApproval(request=request, account_known=target is not None)

    def poll(self, tenant: Tenant, request_id: str, handle: str) -> ApprovalRequest | None:
        """The request, if ``handle`` is its requester's (None otherwise: unknown to this caller).
        Its :meth:`~ApprovalRequest.status_at` says where it stands."""
        if not request_id or len(request_id) > ID_MAX or not handle or len(handle) > HANDLE_MAX:
            return None
        with self._uow(readonly=True) as uow:
            request = uow.approvals.get(request_id)
        if request is None or request.tenant_id != tenant.id:
            return None
        if not hmac.compare_digest(request.poll_handle_hash, handle_hash(handle)):
            return None
        return request

    def poll_by_handle(self, tenant: Tenant, handle: str) -> ApprovalRequest | None:
        """The request whose handle this is (CIBA polls with its ``auth_req_id`` alone)."""
        if not handle or len(handle) > HANDLE_MAX:
            return None
        with self._uow(readonly=True) as uow:
            request = uow.approvals.by_poll_handle(handle_hash(handle))
        return request if request is not None and request.tenant_id == tenant.id else None

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- the device's side ------------------------------------------------------------------------------

    def pending_for_device(self, tenant: Tenant, device: Device) -> Sequence[ApprovalRequest]:
        """The pending requests a (signature-authenticated) device may answer."""
        if device.tenant_id != tenant.id or device.status is not DeviceStatus.ACTIVE:
            return []
        with self._uow(readonly=True) as uow:
            return uow.approvals.pending_for_account(device.account_id, self._clock.now())

    def decide(self, tenant: Tenant, answer: DeviceAnswer, context: RequestContext) -> DecisionOutcome:
        """A device's answer, checked in order: the device, the request, the signature, then to
        deny nothing more; to approve the binding code (a wrong one denies the request), the
        4-digit code (a wrong one counts toward disabling the device) and the account's status."""
        now = self._clock.now()
        policy = app_policy(tenant.policy)
        with self._uow(readonly=True) as uow:
            device = uow.devices.get(answer.device_id) if 0 < len(answer.device_id) <= ID_MAX else None
            request = uow.approvals.get(answer.request_id) if 0 < len(answer.request_id) <= ID_MAX else None
            account = uow.accounts.get(device.account_id) if device is not None else None
        # the device is this tenant's and active
        if device is None or device.tenant_id != tenant.id:
            return DecisionOutcome(DecisionStatus.UNKNOWN_DEVICE)
        if device.status is not DeviceStatus.ACTIVE:
            return DecisionOutcome(DecisionStatus.DEVICE_DISABLED)
        ctx = _as_account(context, device.account_id)
        # the request was sent to this device's account
        if request is None or request.tenant_id != tenant.id or request.account_id != device.account_id:
            return DecisionOutcome(DecisionStatus.NOT_FOUND)
        # it is still waiting (a replayed answer finds it decided)
        if not request.pending_at(now):
            return DecisionOutcome(DecisionStatus.NOT_PENDING, request_status=request.status_at(now))
        # the device's key signed this very answer: request, service, binding code, decision, nonce
        if not verify_signature(
            device.public_key, request.signing_input(answer.binding_code, answer.decision), answer.signature
        ):
            self._audit_alone(tenant, "device.signature_refused", ctx, device, {"request_id": request.id})
            return DecisionOutcome(DecisionStatus.BAD_SIGNATURE)
        if answer.decision is Decision.DENY:
            return self._deny(tenant, request, device, ctx, "denied", DecisionStatus.DENIED)
        # number matching: the number typed is the one the requester shows
        if not request.binding_matches(answer.binding_code):
            return self._deny(tenant, request, device, ctx, "binding_mismatch", DecisionStatus.BINDING_MISMATCH)
        # the 4-digit code
        if answer.pin is None or not pin_well_formed(answer.pin):
            return DecisionOutcome(DecisionStatus.PIN_REQUIRED)
        if not self._keyed.matches(PIN_KEYED_PURPOSE, pin_message(device.id, answer.pin), device.pin_digest):
            return self._wrong_pin(tenant, device, ctx, policy.max_pin_failures)
        # the account may log in (its status, and the lockout of the password login)
        if account is None or self._barred(tenant, account):
            self._pin_succeeded(device, now)
            return self._deny(tenant, request, device, ctx, "account_barred", DecisionStatus.ACCOUNT_BARRED)
        with self._uow() as uow:
            uow.devices.pin_succeeded(device.id, now)
            won = uow.approvals.decide(request.id, ApprovalStatus.APPROVED, now, device_id=device.id)
            if won:
                self._audit(
                    uow, tenant, "approval.approved", ctx, f"account:{device.account_id}", _details(request, device)
                )
            uow.commit()
        if not won:  # a parallel answer, or the request expired meanwhile
            return DecisionOutcome(DecisionStatus.NOT_PENDING)
        return DecisionOutcome(DecisionStatus.APPROVED, request_status=ApprovalStatus.APPROVED)

    # -- the requester uses the approval ---------------------------------------------------------------

    def consume(
        self,
        tenant: Tenant,
        request: ApprovalRequest,
        context: RequestContext,
        on_consumed: Callable[[UnitOfWork, Account, str, tuple[str, ...]], T] | None = None,
    ) -> Consumption:
        """Use an approved ``request`` (as :meth:`poll` returned it) once.

        The account must still be able to log in (status, lockout). ``on_consumed(uow, account,
        acr, amr)`` runs in the consuming transaction (open the session there, issue the tokens):
        it commits with the consumption, or neither happens.
        """
        now = self._clock.now()
        status = request.status_at(now)
        if status is ApprovalStatus.PENDING:
            return Consumption(ConsumeStatus.PENDING, request)
        if status is ApprovalStatus.DENIED:
            return Consumption(ConsumeStatus.DENIED, request)
        if status is ApprovalStatus.EXPIRED or now > request.expires_at + CONSUME_GRACE:
            return Consumption(ConsumeStatus.EXPIRED, request)
        if request.consumed_at is not None:
            return Consumption(ConsumeStatus.USED, request)
        assert request.account_id is not None  # approved: a device of the account answered
        with self._uow(readonly=True) as uow:
            account = uow.accounts.get(request.account_id)
        if account is None or account.tenant_id != tenant.id or self._barred(tenant, account):
            self._audit_alone(tenant, "approval.refused", context, None, {"request_id": request.id}, request.account_id)
            return Consumption(ConsumeStatus.REFUSED, request)
        with self._uow() as uow:
            if not uow.approvals.consume(request.id, now):
                return Consumption(ConsumeStatus.USED, request)
            account = uow.accounts.get(request.account_id, for_update=True)
            if account is None or not account.can_log_in:
                return Consumption(ConsumeStatus.REFUSED, request)  # locked meanwhile: rolled back
            identity = uow.identities.of_account(account.id)
            acr = approval_acr(identity)
            result = on_consumed(uow, account, acr, APP_AMR) if on_consumed is not None else None
            self._audit(
                uow,
                tenant,
                "approval.consumed",
                _as_account(context, account.id),
                f"account:{account.id}",
                {"request_id": request.id, "kind": request.kind.value, "acr": acr},
            )
            uow.commit()
        return Consumption(ConsumeStatus.CONSUMED, request, account, identity, acr, APP_AMR, result)

    # -- retention --------------------------------------------------------------------------------------

    def purge(self, before: datetime) -> int:
        """Forget the requests and the device activations that expired before ``before``; returns
        how many (:func:`purge_expired`, committed)."""
        with self._uow() as uow:
            removed = sum(purge_expired(uow, before))
            uow.commit()
        return removed

    # -- internals ---------------------------------------------------------------------------------------

    @staticmethod
    def _check_new(new: NewApproval) -> None:
        if not new.service_name.strip() or len(new.service_name) > SERVICE_NAME_MAX:
            raise ValueError(f"a service name has 1 to {SERVICE_NAME_MAX} characters")
        if not new.handle or len(new.handle) > HANDLE_MAX:
            raise ValueError(f"a handle has 1 to {HANDLE_MAX} characters")
        if (
            new.binding_message is not None
            and not 0 < len(normalise_binding(new.binding_message)) <= BINDING_MESSAGE_MAX
        ):
            raise ValueError(f"a binding message has 1 to {BINDING_MESSAGE_MAX} characters")
        if len(new.scope) > SCOPE_MAX or (new.client_id is not None and len(new.client_id) > CLIENT_ID_MAX):
            raise ValueError("scope or client_id too long")

    def _throttle(self, key: str, limit: int, window: int) -> None:
        decision = Throttle(self._counters, self._clock).hit(key, limit, window)
        if not decision.allowed:
            raise ApprovalRateLimited(self._clock.now() + timedelta(seconds=decision.retry_after_seconds))

    def _account_for_mobile(self, tenant: Tenant, e164: str) -> Account | None:
        """The account a device can answer for, using this verified mobile (the most recently
        activated, should two identities share it); None when there is none."""
        with self._uow(readonly=True) as uow:
            identities = sorted(
                (identity for identity in uow.identities.by_mobile(tenant.id, e164) if identity.usable_for_eidas2),
                key=lambda identity: identity.app_activated_at or identity.verified_at,
                reverse=True,
            )
            candidates = [identity.account_id for identity in identities]
        for account_id in candidates:
            account = self._answerable(tenant, account_id)
            if account is not None:
                return account
        if not candidates:  # the reads a known number costs, so that timing tells nothing either
            LockoutGuard(self._counters, self._clock, tenant.policy.lockout).check(lockout_key(tenant, e164))
        return None

    def _answerable(self, tenant: Tenant, account_id: int) -> Account | None:
        """The account, if it may log in now and has an active device to ask."""
        with self._uow(readonly=True) as uow:
            account = uow.accounts.get(account_id)
            active = uow.devices.count_active(account_id) if account is not None else 0
        if account is None or account.tenant_id != tenant.id or not active or self._barred(tenant, account):
            return None
        return account

    def _barred(self, tenant: Tenant, account: Account) -> bool:
        """What the password login refuses: an account not active, or its lockout in force."""
        if account.status is not AccountStatus.ACTIVE:
            return True
        identifier = (
            account.customer_number if tenant.policy.identifier is IdentifierKind.CUSTOMER_NUMBER else account.email
        )
        if not identifier:
            return False
        guard = LockoutGuard(self._counters, self._clock, tenant.policy.lockout)
        return not guard.check(lockout_key(tenant, identifier)).allowed

    def _deny(
        self,
        tenant: Tenant,
        request: ApprovalRequest,
        device: Device,
        context: RequestContext,
        reason: str,
        status: DecisionStatus,
    ) -> DecisionOutcome:
        now = self._clock.now()
        with self._uow() as uow:
            won = uow.approvals.decide(request.id, ApprovalStatus.DENIED, now, device_id=device.id, reason=reason)
            uow.devices.touch(device.id, now)
            if won:
                self._audit(
                    uow,
                    tenant,
                    "approval.denied",
                    context,
                    f"account:{device.account_id}",
                    {**_details(request, device), "reason": reason},
                )
            uow.commit()
        if not won:
            return DecisionOutcome(DecisionStatus.NOT_PENDING)
        return DecisionOutcome(status, request_status=ApprovalStatus.DENIED)

    def _wrong_pin(self, tenant: Tenant, device: Device, context: RequestContext, max_failures: int) -> DecisionOutcome:
        now = self._clock.now()
        with self._uow() as uow:
            failures, disabled = uow.devices.count_pin_failure(device.id, max_failures, now, REASON_PIN_FAILURES)
            self._audit(
                uow,
                tenant,
                "device.pin_failed",
                context,
                f"account:{device.account_id}",
                {"device_id": device.id, "failures": failures},
            )
            if disabled:
                device_disabled(uow, self._clock, tenant, device, REASON_PIN_FAILURES, context, self._base_url)
            uow.commit()
        if disabled or failures == 0:  # failures 0: disabled by a parallel answer
            return DecisionOutcome(DecisionStatus.DEVICE_DISABLED)
        return DecisionOutcome(DecisionStatus.WRONG_PIN, pins_left=max(0, max_failures - failures))

    def _pin_succeeded(self, device: Device, now: datetime) -> None:
        with self._uow() as uow:
            uow.devices.pin_succeeded(device.id, now)
            uow.commit()

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        context: RequestContext,
        subject: str,
        details: dict[str, Any],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=subject,
            ip=context.ip[:IP_MAX],
            correlation_id=context.correlation_id,
            details=details,
        )

    def _audit_alone(
        self,
        tenant: Tenant,
        event: str,
        context: RequestContext,
        device: Device | None,
        details: dict[str, Any],
        account_id: int | None = None,
    ) -> None:
        owner = device.account_id if device is not None else account_id
        with self._uow() as uow:
            extra = {"device_id": device.id} if device is not None else {}
            self._audit(uow, tenant, event, context, f"account:{owner}", {**details, **extra})
            uow.commit()


def _details(request: ApprovalRequest, device: Device) -> dict[str, Any]:
    return {"request_id": request.id, "kind": request.kind.value, "device_id": device.id}


def _as_account(context: RequestContext, account_id: int) -> RequestContext:
    return RequestContext(
        ip=context.ip,
        user_agent=context.user_agent,
        correlation_id=context.correlation_id,
        actor=f"account:{account_id}",
    )

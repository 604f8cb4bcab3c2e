"""Sign-up and email confirmation: the use cases shared by the registration flow and the link page.

An address that is already registered gets the same outward answer as a new one: no account is
created and its owner receives an email instead, so sign-up cannot tell who has an account. A
new account starts unconfirmed; the confirmation email carries a link and a 6-digit code
(``OneTimeTokens``), either of which confirms it, once, within :data:`CONFIRMATION_LIFETIME`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from sesame.domain.accounts import Account, AccountStatus, AccountToken, TokenPurpose, normalize_email
from sesame.domain.errors import AlreadyExists
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.ports import Clock, Counters, UnitOfWork, UnitOfWorkFactory
from sesame.services.accounts import AccountService, NewAccount
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email
from sesame.services.throttling import Throttle
from sesame.services.tokens import MAX_CODE_ATTEMPTS, OneTimeTokens, link_hash

#: How long the link and the code of a confirmation email work. A day covers "I will read my
#: mail tonight"; past that, the page that says the link expired offers a new email.
CONFIRMATION_LIFETIME = timedelta(hours=24)
#: The wait between two confirmation emails of one sign-up ("resend the email").
RESEND_COOLDOWN = timedelta(seconds=60)
#: Emails one sign-up may send in all (the first one and the resends).
MAX_EMAILS_PER_FLOW = 5
#: Emails of sign-up (confirmations and "already registered" notices) to one address per hour,
#: whoever asks: nobody can flood someone else's mailbox through this page.
EMAILS_PER_ADDRESS_PER_HOUR = 5
#: Sign-up forms accepted per client IP per hour (each one costs an argon2 hash).
REGISTRATIONS_PER_IP_PER_HOUR = 30
#: "Send me a new confirmation email" requests per client IP per hour.
LINK_REQUESTS_PER_IP_PER_HOUR = 20
#: Wrong tries of one 6-digit code (the token refuses more, too).
CODE_TRIES = MAX_CODE_ATTEMPTS
HOUR_SECONDS = 3600
LINK_TOKEN_MAX = 128

CONFIRM_TEMPLATE = "confirm_email"
ALREADY_REGISTERED_TEMPLATE = "already_registered"


class Confirmation(StrEnum):
    """What a link or a code did."""

    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Applicant:
    """A sign-up form, cleaned (names and address checked, password hashed separately)."""

    email: str
    given_name: str
    family_name: str
    locale: str = "fr"
    marketing_email: bool = False
    marketing_partners: bool = False


@dataclass(frozen=True, slots=True)
class Registration:
    """What a sign-up did: created ``account_id``, or notified the owner ``owner_id`` of the address.

    Only the server knows which: the person signing up sees the same pages either way.
    """

    account_id: int | None = None
    owner_id: int | None = None


def registration_offered(tenant: Tenant) -> bool:
    """Self-service sign-up exists for tenants whose people log in with an email address."""
    return tenant.policy.identifier is IdentifierKind.EMAIL


class RegistrationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        accounts: AccountService,
        tokens: OneTimeTokens,
        counters: Counters,
        base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._accounts = accounts
        self._tokens = tokens
        self._counters = counters
        self._base_url = base_url.rstrip("/")

    # -- links put in emails -----------------------------------------------------------------

    def confirm_url(self, tenant: Tenant, link_token: str) -> str:
        return f"{self._base_url}/{tenant.slug}/confirm-email?token={quote(link_token, safe='')}"

    def page_url(self, tenant: Tenant, page: str) -> str:
        return f"{self._base_url}/{tenant.slug}/{page}"

    # -- rate limits (each in a transaction of its own: call before a step's unit of work) ------

    def allow_registration_from(self, tenant: Tenant, ip: str) -> bool:
        """One more sign-up form from this IP this hour? (Each costs a slow password hash.)"""
        return self._hit(f"registration-ip:{tenant.id}:{ip}", REGISTRATIONS_PER_IP_PER_HOUR)

    def allow_email_to(self, tenant: Tenant, email: str) -> bool:
        """One more sign-up email to this address this hour? Counted the same for every address."""
        return self._hit(f"registration-email:{tenant.id}:{normalize_email(email)}", EMAILS_PER_ADDRESS_PER_HOUR)

    def _hit(self, key: str, limit: int) -> bool:
        return Throttle(self._counters, self._clock).hit(key, limit, HOUR_SECONDS).allowed

    # -- the 6-digit code's tries, per email sent by one flow ----------------------------------

    def code_tries(self, flow_id: str, serial: int) -> int:
        """Wrong codes typed so far for the ``serial``-th email of flow ``flow_id``."""
        return self._counters.get(_code_key(flow_id, serial), self._clock.now())

    def count_wrong_code(self, flow_id: str, serial: int) -> int:
        """Count one wrong code (atomic across workers); returns the tries used."""
        window = int(CONFIRMATION_LIFETIME.total_seconds())
        return self._counters.increment(_code_key(flow_id, serial), window, self._clock.now())

    # -- inside the caller's unit of work ---------------------------------------------------------

    def register(
        self, uow: UnitOfWork, tenant: Tenant, applicant: Applicant, password_hash: str, context: RequestContext
    ) -> Registration:
        """Create the unconfirmed account and queue its confirmation, or notify the address's owner."""
        now = self._clock.now()
        owner = uow.accounts.by_email(tenant.id, applicant.email)
        if owner is None:
            try:
                account = self._accounts.add(uow, tenant, _new_account(tenant, applicant), password_hash)
            except AlreadyExists:  # registered by a parallel request since our lookup
                owner = uow.accounts.by_email(tenant.id, applicant.email)
            else:
                self._send_confirmation(uow, tenant, account, now)
                self._audit(
                    uow,
                    tenant,
                    "account.registered",
                    f"account:{account.id}",
                    context,
                    {
                        "terms_version": account.terms_version,
                        "marketing_email": account.marketing_email,
                        "marketing_partners": account.marketing_partners,
                    },
                )
                return Registration(account_id=account.id)
        if owner is None:
            raise AlreadyExists("the address was taken and released during the sign-up")
        self._notify_owner(uow, tenant, owner, now)
        self._audit(uow, tenant, "registration.address_taken", f"account:{owner.id}", context, {})
        return Registration(owner_id=owner.id)

    def resend(self, uow: UnitOfWork, tenant: Tenant, registration: Registration, context: RequestContext) -> bool:
        """Send the email of ``registration`` again; False when the address was confirmed meanwhile.

        A new confirmation retires the previous link and code.
        """
        now = self._clock.now()
        if registration.account_id is not None:
            account = uow.accounts.get(registration.account_id)
            if account is None or account.tenant_id != tenant.id or not account.email:
                return True
            if account.email_verified:
                return False
            self._send_confirmation(uow, tenant, account, now)
            self._audit(
                uow, tenant, "account.confirmation_sent", f"account:{account.id}", context, {"reason": "resend"}
            )
        elif registration.owner_id is not None:
            owner = uow.accounts.get(registration.owner_id)
            if owner is not None and owner.tenant_id == tenant.id and owner.email:
                self._notify_owner(uow, tenant, owner, now)
                self._audit(uow, tenant, "registration.address_taken", f"account:{owner.id}", context, {"resend": True})
        return True

    def is_confirmed(self, uow: UnitOfWork, registration: Registration) -> bool:
        """Whether the account this sign-up created has confirmed its address (by link, anywhere)."""
        if registration.account_id is None:
            return False
        account = uow.accounts.get(registration.account_id)
        return account is not None and account.email_verified

    def abandon(self, uow: UnitOfWork, tenant: Tenant, account_id: int, context: RequestContext) -> bool:
        """Give up the unconfirmed account a sign-up created (the address was mistyped).

        The account keeps no address nor name, so the address is free for its real owner; its
        links and code stop working. False (nothing done) if the address was confirmed since.
        """
        now = self._clock.now()
        account = uow.accounts.get(account_id, for_update=True)
        if account is None or account.tenant_id != tenant.id:
            return True
        if account.email_verified:
            return False
        uow.accounts.revoke_tokens(account.id, TokenPurpose.CONFIRM_EMAIL, now)
        account.email = None
        account.given_name = ""
        account.family_name = ""
        account.status = AccountStatus.CLOSED
        account.status_reason = "registration_abandoned"
        account.closed_at = now
        account.updated_at = now
        uow.accounts.save(account)
        self._audit(uow, tenant, "account.registration_abandoned", f"account:{account.id}", context, {})
        return True

    # -- confirmation (transactions of their own) ----------------------------------------------

    def confirm_code(
        self, tenant: Tenant, registration: Registration, code: str, context: RequestContext, *, flow_id: str
    ) -> bool:
        """Confirm the sign-up's address with the code from the email; a wrong code is audited.

        When the address belonged to someone else, no code can be right: the answer is the
        same "wrong code" as for a mistyped one.
        """
        now = self._clock.now()
        with self._uow() as uow:
            outcome = Confirmation.INVALID
            if registration.account_id is not None:
                token = self._tokens.redeem_code(uow, registration.account_id, TokenPurpose.CONFIRM_EMAIL, code, now)
                if token is not None:
                    outcome = self._mark_confirmed(uow, tenant, token, "code", context)
            if outcome is Confirmation.INVALID:
                subject = (
                    f"account:{registration.account_id}"
                    if registration.account_id is not None
                    else f"flow:{flow_id[:8]}"
                )
                self._audit(uow, tenant, "account.confirmation_code_rejected", subject, context, {})
            uow.commit()  # also when wrong: the token counts the try
        return outcome is not Confirmation.INVALID

    def confirm_link(self, tenant: Tenant, link_token: str, context: RequestContext) -> Confirmation:
        """Confirm the address whose email holds ``link_token``, from any browser; single use."""
        now = self._clock.now()
        if not link_token or len(link_token) > LINK_TOKEN_MAX:
            return Confirmation.INVALID
        with self._uow() as uow:
            token = self._tokens.redeem_link(uow, link_token, TokenPurpose.CONFIRM_EMAIL, now)
            if token is None:
                return self._used_link(uow, tenant, link_token)
            outcome = self._mark_confirmed(uow, tenant, token, "link", context)
            if outcome is Confirmation.INVALID:
                return outcome  # not committed: a link of another tenant stays unused
            uow.commit()
        return outcome

    def request_new_link(self, tenant: Tenant, email: str, context: RequestContext) -> bool:
        """Send a new confirmation email if ``email`` has an account waiting for one.

        The caller answers the same whatever happened; False only when a rate limit refused
        the request (counted alike for every address).
        """
        if not self._hit(f"confirmation-request-ip:{tenant.id}:{context.ip}", LINK_REQUESTS_PER_IP_PER_HOUR):
            return False
        if not self.allow_email_to(tenant, email):
            return False
        now = self._clock.now()
        with self._uow() as uow:
            account = uow.accounts.by_email(tenant.id, email)
            if account is not None and account.email and account.can_log_in and not account.email_verified:
                self._send_confirmation(uow, tenant, account, now)
                self._audit(
                    uow, tenant, "account.confirmation_sent", f"account:{account.id}", context, {"reason": "requested"}
                )
                uow.commit()
        return True

    # -- internals ----------------------------------------------------------------------------------

    def _send_confirmation(self, uow: UnitOfWork, tenant: Tenant, account: Account, now: datetime) -> None:
        assert account.email is not None
        issued = self._tokens.issue(
            uow, account.id, TokenPurpose.CONFIRM_EMAIL, now, CONFIRMATION_LIFETIME, target=account.email
        )
        queue_email(
            uow,
            tenant,
            CONFIRM_TEMPLATE,
            account.locale,
            account.email,
            {
                "name": account.given_name,
                "confirm_url": self.confirm_url(tenant, issued.link_token),
                "code": issued.code,
                "hours": int(CONFIRMATION_LIFETIME.total_seconds() // HOUR_SECONDS),
            },
            now=now,
            sensitive=True,
        )

    def _notify_owner(self, uow: UnitOfWork, tenant: Tenant, owner: Account, now: datetime) -> None:
        assert owner.email is not None
        queue_email(
            uow,
            tenant,
            ALREADY_REGISTERED_TEMPLATE,
            owner.locale,
            owner.email,
            {
                "name": owner.given_name,
                "confirmed": owner.email_verified,
                "login_url": self.page_url(tenant, "login"),
                "recovery_url": self.page_url(tenant, "recovery"),
                "resend_url": self.page_url(tenant, "confirm-email/resend"),
            },
            now=now,
        )

    def _mark_confirmed(
        self, uow: UnitOfWork, tenant: Tenant, token: AccountToken, method: str, context: RequestContext
    ) -> Confirmation:
        """Confirm the token's account, if it still has the address the token was sent to."""
        account = uow.accounts.get(token.account_id, for_update=True)
        if not _confirms(account, tenant, token):
            return Confirmation.INVALID
        assert account is not None
        if account.email_verified:
            return Confirmation.ALREADY_CONFIRMED
        now = self._clock.now()
        account.email_verified_at = now
        account.updated_at = now
        uow.accounts.save(account)
        uow.accounts.revoke_tokens(account.id, TokenPurpose.CONFIRM_EMAIL, now)
        self._audit(uow, tenant, "account.email_confirmed", f"account:{account.id}", context, {"method": method})
        return Confirmation.CONFIRMED

    @staticmethod
    def _used_link(uow: UnitOfWork, tenant: Tenant, link_token: str) -> Confirmation:
        """A link that no longer works: "already confirmed" if its address was confirmed since
        (a mail scanner may have opened it first), else invalid. Whoever holds it received it."""
        token = uow.accounts.token_by_link(link_hash(link_token))
        if token is None or token.purpose is not TokenPurpose.CONFIRM_EMAIL:
            return Confirmation.INVALID
        account = uow.accounts.get(token.account_id)
        if _confirms(account, tenant, token) and account is not None and account.email_verified:
            return Confirmation.ALREADY_CONFIRMED
        return Confirmation.INVALID

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        subject: str,
        context: RequestContext,
        details: dict[str, object],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=subject,
            ip=context.ip,
            correlation_id=context.correlation_id,
            details=details,
        )


def _code_key(flow_id: str, serial: int) -> str:
    return f"registration-code:{flow_id}:{serial}"


def _new_account(tenant: Tenant, applicant: Applicant) -> NewAccount:
    return NewAccount(
        email=applicant.email,
        given_name=applicant.given_name,
        family_name=applicant.family_name,
        locale=applicant.locale,
        verified=False,
        terms_version=tenant.policy.terms_version,
        marketing_email=applicant.marketing_email,
        marketing_partners=applicant.marketing_partners,
    )


def _confirms(account: Account | None, tenant: Tenant, token: AccountToken) -> bool:
    """The token may confirm this account: same tenant, open, and still the address it went to."""
    return (
        account is not None
        and account.tenant_id == tenant.id
        and account.status is AccountStatus.ACTIVE
        and account.email is not None
        and (token.target is None or normalize_email(token.target) == normalize_email(account.email))
    )

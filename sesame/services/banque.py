"""The bank's customers: enrolment by the bank, "secure my access", recovery by post, new codes.

Seed 002. The bank opens the access: a customer number and a one-time code, each in its own
letter, the code a day after the number; the first login with that code goes straight to
"choose your new code". When an access is lost, stolen, forgotten or misused, a new one-time
code goes by post (and by SMS once a verified mobile exists: :func:`verified_mobile`); "secure
my access" blocks the access at once and sends one. Everything is audited; no code ever reaches
a log line or the audit log (only the letters carry it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sesame.domain.accounts import Account, AccountStatus, TokenPurpose
from sesame.domain.customer_numbers import draw_customer_number, normalize_customer_number, number_problem
from sesame.domain.customers import (
    SECURED_BY_CUSTOMER,
    CustomerProfile,
    clean_address,
    reopened_by_recovery,
)
from sesame.domain.errors import AlreadyExists, InvalidInput, NotFound
from sesame.domain.keypad import TrivialReason, draw_code, trivial_code_reasons
from sesame.domain.messages import Channel
from sesame.domain.tenants import CredentialKind, IdentifierKind, Tenant
from sesame.messages import build_message
from sesame.methods.keypad.codes import KeypadCodeHasher
from sesame.methods.keypad.recovery_codes import RECOVERY_CODE_LIFETIME, RecoveryCodes
from sesame.oidc.logout import BackchannelLogouts
from sesame.ports import Clock, Counters, KeyedHasher, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.accounts import clean_name
from sesame.services.audit import audit_event
from sesame.services.authentication import lockout_key
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_letter, queue_sms
from sesame.services.sessions import end_everything
from sesame.services.throttling import LockoutGuard, Throttle

CUSTOMER_NUMBER_LETTER = "banque_customer_number"
FIRST_CODE_LETTER = "banque_first_code"
NEW_CODE_LETTER = "banque_new_code"
NEW_CODE_SMS = "banque_new_code"
#: Seed 002: two letters, the code after the number, so one stolen letter is not enough.
CODE_LETTER_DELAY = timedelta(days=1)
#: Draws of a free customer number before giving up (a billion numbers: a collision is rare).
NUMBER_DRAWS = 20
#: Letters one customer number may be sent per window (asked from the recovery page).
LETTERS_PER_NUMBER = 3
LETTERS_WINDOW_SECONDS = 7 * 24 * 3600
#: Requests one client address may make per hour, over every number.
REQUESTS_PER_IP = 20
IP_WINDOW_SECONDS = 3600
#: Sessions' end reasons (the account page shows why a session ended).
SECURED_END_REASON = "access_secured"
CODE_CHANGED_END_REASON = "code_reset"
OLDEST_BIRTH_DATE = date(1900, 1, 1)
#: Why a code change was refused besides the rules of a good code: the code in use, again.
UNCHANGED = "unchanged"
_UNKNOWN = "account:unknown"


@dataclass(frozen=True, slots=True)
class NewCustomer:
    given_name: str
    family_name: str
    address: Sequence[str]
    birth_date: date | None = None
    locale: str = "fr"


@dataclass(frozen=True, slots=True)
class EnrolledCustomer:
    """What the bank is told: never the code, which only its letter carries."""

    account: Account
    customer_number: str
    #: The outbox ids of the two letters: the customer number, then the code.
    letter_ids: tuple[int, int]
    code_letter_not_before: datetime


@dataclass(frozen=True, slots=True)
class SecuredAccess:
    sessions_ended: int
    letter_sent: bool


@dataclass(frozen=True, slots=True)
class NewCode:
    """A new code, checked and hashed outside any transaction (:meth:`BankCustomers.prepare_new_code`)."""

    account_id: int
    code_hash: str = field(repr=False)


def require_customer_tenant(tenant: Tenant) -> None:
    if tenant.policy.identifier is not IdentifierKind.CUSTOMER_NUMBER:
        raise InvalidInput(f"tenant {tenant.slug} does not identify people by customer number", field="tenant")


def verified_mobile(uow: UnitOfWork, account: Account) -> str | None:
    """The account's verified mobile number, to send new codes by SMS as well as by post.

    Hook: the data model has no verified mobile yet (the phone app's issue adds one, with the
    flow that proves it). Until then every new code goes by post only.
    """
    return None


class BankCustomers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        counters: Counters,
        hasher: PasswordHasher,
        keyed: KeyedHasher,
        base_url: str,
        *,
        draw_number: Callable[[], str] = draw_customer_number,
        logouts: BackchannelLogouts | None = None,
    ) -> None:
        """``draw_number`` gives candidate customer numbers (random; injected by tests)."""
        self._uow = uow
        self._logouts = logouts
        self._draw_number = draw_number
        self._clock = clock
        self._counters = counters
        self._codes = KeypadCodeHasher(hasher, keyed)
        self._recovery = RecoveryCodes(keyed)
        self._base_url = base_url.rstrip("/")

    # -- enrolment ----------------------------------------------------------------------------------

    def check_new_customer(self, tenant: Tenant, new: NewCustomer) -> tuple[NewCustomer, dict[str, str]]:
        """The cleaned customer, and every problem found (field -> reason); no problem: empty."""
        errors: dict[str, str] = {}
        names: dict[str, str] = {}
        for name in ("given_name", "family_name"):
            try:
                names[name] = clean_name(getattr(new, name), name)
            except InvalidInput as error:
                errors[name] = str(error.details.get("reason", "invalid"))
        try:
            address = clean_address(new.address)
        except ValueError as error:
            errors["address"] = str(error)
            address = []
        today = self._clock.now().date()
        if new.birth_date is not None and not OLDEST_BIRTH_DATE <= new.birth_date <= today:
            errors["birth_date"] = "invalid"
        if new.locale not in tenant.policy.languages.available:
            errors["locale"] = "invalid"
        cleaned = NewCustomer(
            given_name=names.get("given_name", ""),
            family_name=names.get("family_name", ""),
            address=address,
            birth_date=new.birth_date,
            locale=new.locale,
        )
        return cleaned, errors

    def enrol(self, tenant: Tenant, new: NewCustomer, context: RequestContext) -> EnrolledCustomer:
        """Create the customer with a fresh number and a one-time code; queue its two letters.

        ``InvalidInput`` (details ``errors``: field -> reason) when the data cannot make a
        customer; nothing is created then.
        """
        require_customer_tenant(tenant)
        cleaned, errors = self.check_new_customer(tenant, new)
        if errors:
            raise InvalidInput("the customer's data is incomplete or invalid", errors=errors)
        code = draw_code(birth_date=cleaned.birth_date)
        code_hash = self._codes.hash(code)  # slow: before the transaction
        now = self._clock.now()
        with self._uow() as uow:
            account = self._add_account(uow, tenant, cleaned, code, now)
            number = account.customer_number or ""
            profile = CustomerProfile(
                account_id=account.id,
                address_lines=list(cleaned.address),
                birth_date=cleaned.birth_date,
                created_at=now,
                updated_at=now,
            )
            uow.customers.add(profile)
            uow.accounts.set_credential(account.id, CredentialKind.KEYPAD_CODE.value, code_hash, now)
            letters = self._enrolment_letters(uow, tenant, account, profile, code, now)
            self._audit(
                uow,
                tenant,
                "customer.enrolled",
                context,
                account.id,
                {"letters": 2, "birth_date_known": cleaned.birth_date is not None},
            )
            uow.commit()
        return EnrolledCustomer(
            account=account, customer_number=number, letter_ids=letters, code_letter_not_before=now + CODE_LETTER_DELAY
        )

    def _add_account(self, uow: UnitOfWork, tenant: Tenant, new: NewCustomer, code: str, now: datetime) -> Account:
        for _ in range(NUMBER_DRAWS):
            number = self._draw_number()
            if TrivialReason.CUSTOMER_NUMBER in trivial_code_reasons(code, customer_number=number):
                continue  # the letter's code must not be printed on the other letter too
            try:
                return uow.accounts.add(
                    Account(
                        id=0,
                        tenant_id=tenant.id,
                        email=None,
                        email_verified_at=None,
                        customer_number=number,
                        given_name=new.given_name,
                        family_name=new.family_name,
                        status=AccountStatus.ACTIVE,
                        locale=new.locale,
                        created_at=now,
                        updated_at=now,
                        # The one-time code leads to "choose your new code", nowhere else.
                        password_change_required=True,
                    )
                )
            except AlreadyExists:
                continue  # taken in this tenant: draw again
        raise RuntimeError(f"no free customer number in {NUMBER_DRAWS} draws for tenant {tenant.slug}")

    def _enrolment_letters(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, profile: CustomerProfile, code: str, now: datetime
    ) -> tuple[int, int]:
        address = profile.postal_block(account.display_name)
        common = {"name": account.display_name, "login_url": self._login_url(tenant)}
        number_letter = queue_letter(
            uow,
            tenant,
            CUSTOMER_NUMBER_LETTER,
            account.locale,
            address,
            {**common, "customer_number": account.customer_number},
            now=now,
            sensitive=True,
        )
        code_letter = queue_letter(
            uow,
            tenant,
            FIRST_CODE_LETTER,
            account.locale,
            address,
            {**common, "code": code},
            now=now,
            sensitive=True,  # scrubbed once printed, outside dev mode
            not_before=now + CODE_LETTER_DELAY,
        )
        return number_letter, code_letter

    # -- a new code by post ------------------------------------------------------------------------------

    def request_code_by_post(self, tenant: Tenant, number: str, context: RequestContext) -> datetime | None:
        """ "I forgot my code": a new one-time code by post, if ``number`` is a customer's.

        The answer is the same whether or not it is (only a throttle answers otherwise: when to
        try again); an unknown number costs the same work (a code drawn, a letter rendered).
        The customer's code keeps working until the new one is used: asking is not blocking.
        """
        require_customer_tenant(tenant)
        if number_problem(number) is not None:
            raise InvalidInput("not a customer number", field="customer_number")
        number = normalize_customer_number(number)
        retry_at = self._throttle(tenant, number, context)
        if retry_at is not None:
            return retry_at
        now = self._clock.now()
        with self._uow() as uow:
            account = uow.accounts.by_customer_number(tenant.id, number)
            profile = uow.customers.get(account.id) if account is not None else None
            if account is None or profile is None or not reopened_by_recovery(account):
                self._same_work_as_sending(tenant, now)
                self._audit(uow, tenant, "recovery.requested", context, None, {"channel": "post"})
            else:
                sms = self._send_new_code(uow, tenant, account, profile, now)
                self._audit(uow, tenant, "recovery.requested", context, account.id, {"channel": "post", "sms": sms})
            uow.commit()
        return None

    def send_code_by_post(self, tenant: Tenant, number: str, context: RequestContext) -> Account:
        """Support sends a new one-time code (no throttle; ``NotFound`` for an unknown number)."""
        require_customer_tenant(tenant)
        now = self._clock.now()
        with self._uow() as uow:
            account = self._get(uow, tenant, number)
            profile = uow.customers.get(account.id)
            if profile is None:
                raise NotFound(f"customer {account.id} has no postal address")
            sms = self._send_new_code(uow, tenant, account, profile, now)
            self._audit(uow, tenant, "recovery.sent", context, account.id, {"channel": "post", "sms": sms})
            uow.commit()
        return account

    def _send_new_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, profile: CustomerProfile, now: datetime
    ) -> bool:
        """Issue a recovery code and queue its letter (and SMS); True when an SMS went too."""
        code = self._recovery.issue(
            uow, account.id, now, birth_date=profile.birth_date, customer_number=account.customer_number
        )
        queue_letter(
            uow,
            tenant,
            NEW_CODE_LETTER,
            account.locale,
            profile.postal_block(account.display_name),
            self._new_code_context(tenant, account.display_name, code),
            now=now,
            sensitive=True,
        )
        mobile = verified_mobile(uow, account)
        if mobile is not None:
            context = {"code": code, "days": RECOVERY_CODE_LIFETIME.days}
            queue_sms(uow, tenant, NEW_CODE_SMS, account.locale, mobile, context, now=now, sensitive=True)
        return mobile is not None

    def _new_code_context(self, tenant: Tenant, name: str, code: str) -> dict[str, object]:
        return {
            "name": name,
            "code": code,
            "days": RECOVERY_CODE_LIFETIME.days,
            "login_url": self._login_url(tenant),
        }

    def _same_work_as_sending(self, tenant: Tenant, now: datetime) -> None:
        """What sending costs, without sending: a code drawn and hashed, the letter rendered."""
        code = draw_code()
        self._recovery.same_work(code)
        build_message(
            tenant,
            Channel.LETTER,
            NEW_CODE_LETTER,
            tenant.policy.languages.default,
            "Nobody\n1 rue de Nulle Part\n00000 Nowhere",
            self._new_code_context(tenant, "", code),
            now=now,
            sensitive=True,
        )

    def _throttle(self, tenant: Tenant, number: str, context: RequestContext) -> datetime | None:
        throttle = Throttle(self._counters, self._clock)
        limits = (
            ("ip", f"code-by-post-ip:{tenant.id}:{context.ip[:64]}", REQUESTS_PER_IP, IP_WINDOW_SECONDS),
            ("number", f"code-by-post:{tenant.id}:{number}", LETTERS_PER_NUMBER, LETTERS_WINDOW_SECONDS),
        )
        for scope, key, limit, window in limits:
            decision = throttle.hit(key, limit, window)
            if not decision.allowed:
                with self._uow() as uow:
                    self._audit(uow, tenant, "recovery.throttled", context, None, {"scope": scope, "channel": "post"})
                    uow.commit()
                return self._clock.now() + timedelta(seconds=decision.retry_after_seconds)
        return None

    # -- "secure my access" --------------------------------------------------------------------------------

    def secure_access(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, context: RequestContext, now: datetime, *, via: str
    ) -> SecuredAccess:
        """Block the access at once and start its recovery, in the caller's transaction.

        The account is locked (its own code no longer opens it), every way it is logged in
        ends, and a new one-time code goes by post: typed on the keypad, it reopens the access.
        """
        account.status = AccountStatus.LOCKED
        account.status_reason = SECURED_BY_CUSTOMER
        account.updated_at = now
        uow.accounts.save(account)
        ended = end_everything(uow, account.id, now, SECURED_END_REASON, logouts=self._logouts)
        profile = uow.customers.get(account.id)
        sms = self._send_new_code(uow, tenant, account, profile, now) if profile is not None else False
        details = {"via": via, "sessions_ended": ended.sessions, "letter": profile is not None, "sms": sms}
        self._audit(uow, tenant, "access.secured", context, account.id, details)
        return SecuredAccess(sessions_ended=ended.sessions, letter_sent=profile is not None)

    def secure_access_now(self, tenant: Tenant, account_id: int, context: RequestContext) -> SecuredAccess:
        """ "Secure my access" from the account page: its own transaction."""
        now = self._clock.now()
        with self._uow() as uow:
            account = uow.accounts.get(account_id, for_update=True)
            if account is None or account.tenant_id != tenant.id:
                raise NotFound(f"no account {account_id} in {tenant.slug}")
            secured = self.secure_access(uow, tenant, account, context, now, via="account")
            uow.commit()
        return secured

    # -- choosing a new code ---------------------------------------------------------------------------

    def code_problems(self, tenant: Tenant, account_id: int, code: str) -> list[str]:
        """Why ``code`` cannot be the account's new code (the rules of a good code, or "unchanged").

        Verifies the current code too (slow): call it before a write transaction.
        """
        with self._uow(readonly=True) as uow:
            account = uow.accounts.get(account_id)
            profile = uow.customers.get(account_id)
            credentials = uow.accounts.credentials(account_id, CredentialKind.KEYPAD_CODE.value)
        if account is None or account.tenant_id != tenant.id:
            raise NotFound(f"no account {account_id} in {tenant.slug}")
        problems: list[str] = [
            reason.value
            for reason in trivial_code_reasons(
                code, birth_date=profile.birth_date if profile else None, customer_number=account.customer_number
            )
        ]
        if not problems and credentials and self._codes.verify(credentials[0].secret_hash, code):
            problems.append(UNCHANGED)
        return problems

    def prepare_new_code(self, tenant: Tenant, account_id: int, code: str, *, reopening: bool) -> NewCode:
        """Hash the new code (slow) and, when a recovery code reopens the access, lift the lockout.

        Lifting the lockout here, before the write transaction, is safe: the recovery code was
        right, and the guesses that locked the old code say nothing of the new one.
        """
        code_hash = self._codes.hash(code)
        if reopening:
            with self._uow(readonly=True) as uow:
                account = uow.accounts.get(account_id)
            if account is not None and account.customer_number:
                LockoutGuard(self._counters, self._clock, tenant.policy.lockout).unlock(
                    lockout_key(tenant, account.customer_number)
                )
        return NewCode(account_id=account_id, code_hash=code_hash)

    def apply_new_code(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        new: NewCode,
        context: RequestContext,
        now: datetime,
        *,
        recovery_token_id: int | None,
    ) -> Account | None:
        """Store the new code in the caller's transaction; None when the account may not have it
        (locked by support meanwhile, closed, or the recovery code used by a parallel request)."""
        account = uow.accounts.get(new.account_id, for_update=True)
        if account is None or account.tenant_id != tenant.id:
            return None
        if recovery_token_id is not None:
            if not reopened_by_recovery(account) or not self._recovery.use(uow, recovery_token_id, now):
                return None
        elif not account.can_log_in:
            return None
        uow.accounts.set_credential(account.id, CredentialKind.KEYPAD_CODE.value, new.code_hash, now)
        reopened = account.status is AccountStatus.LOCKED
        account.status, account.status_reason = AccountStatus.ACTIVE, None
        account.password_change_required = False
        account.updated_at = now
        uow.accounts.save(account)
        ended = 0
        if recovery_token_id is not None:
            # Whoever else was in (the thief of a lost code) is out; the other letters are void.
            ended = end_everything(uow, account.id, now, CODE_CHANGED_END_REASON, logouts=self._logouts).sessions
            uow.accounts.revoke_tokens(account.id, TokenPurpose.RECOVERY, now)
        reason = "recovery" if recovery_token_id is not None else "first_login"
        details = {"reason": reason, "reopened": reopened, "sessions_ended": ended}
        self._audit(uow, tenant, "keypad.code_changed", context, account.id, details)
        return account

    # -- support -------------------------------------------------------------------------------------

    def find(self, tenant: Tenant, number: str) -> Account:
        with self._uow(readonly=True) as uow:
            return self._get(uow, tenant, number)

    def profile(self, account_id: int) -> CustomerProfile | None:
        with self._uow(readonly=True) as uow:
            return uow.customers.get(account_id)

    def lock(self, tenant: Tenant, number: str, reason: str, context: RequestContext) -> Account:
        """Support closes the access at once: no login, every session ended (support reopens it)."""
        now = self._clock.now()
        with self._uow() as uow:
            account = self._get(uow, tenant, number)
            account.status = AccountStatus.LOCKED
            account.status_reason = reason[:200] or "support"
            account.updated_at = now
            uow.accounts.save(account)
            ended = end_everything(uow, account.id, now, "account_locked", logouts=self._logouts).sessions
            details = {"reason": account.status_reason, "sessions_ended": ended}
            self._audit(uow, tenant, "account.locked", context, account.id, details)
            uow.commit()
        return account

    def unlock(self, tenant: Tenant, number: str, context: RequestContext) -> Account:
        """Support reopens the access: no lock, and no lockout suspension or failure left."""
        now = self._clock.now()
        with self._uow() as uow:
            account = self._get(uow, tenant, number)
            account.status, account.status_reason = AccountStatus.ACTIVE, None
            account.updated_at = now
            uow.accounts.save(account)
            self._audit(uow, tenant, "account.unlocked", context, account.id, {})
            uow.commit()
        LockoutGuard(self._counters, self._clock, tenant.policy.lockout).unlock(
            lockout_key(tenant, account.customer_number or "")
        )
        return account

    # -- internals --------------------------------------------------------------------------------------

    @staticmethod
    def _get(uow: UnitOfWork, tenant: Tenant, number: str) -> Account:
        require_customer_tenant(tenant)
        if number_problem(number) is not None:
            raise InvalidInput(f"{number!r} is not a customer number (10 digits, the last a check digit)")
        account = uow.accounts.by_customer_number(tenant.id, normalize_customer_number(number))
        if account is None:
            raise NotFound(f"no customer {number} in {tenant.slug}")
        return account

    def _login_url(self, tenant: Tenant) -> str:
        return f"{self._base_url}/{tenant.slug}/login"

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        context: RequestContext,
        account_id: int | None,
        details: dict[str, object],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=f"account:{account_id}" if account_id is not None else _UNKNOWN,
            ip=context.ip[:64],
            correlation_id=context.correlation_id,
            details=details,
        )

"""Accounts administration: create (support, tests, registration), look up, lock, unlock, flag.

Support actions are audited with who did them; passwords are hashed before any transaction
opens, and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from sesame.domain.accounts import Account, AccountStatus, normalize_email
from sesame.domain.errors import AlreadyExists, InvalidInput, NotFound
from sesame.domain.tenants import CredentialKind, IdentifierKind, Tenant
from sesame.oidc.logout import BackchannelLogouts
from sesame.ports import Clock, Counters, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import lockout_key
from sesame.services.context import RequestContext
from sesame.services.factors import second_factor_key
from sesame.services.passwords import PasswordRules
from sesame.services.sessions import end_everything
from sesame.services.throttling import LockoutGuard

NAME_MAX = 100


def clean_email(email: str) -> str:
    """A syntactically valid address (no DNS lookup), or ``InvalidInput``."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput("invalid email address", field="email") from error


def clean_name(value: str, field: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise InvalidInput(f"{field} is required", field=field, reason="required")
    if len(name) > NAME_MAX or not name.isprintable():
        raise InvalidInput(f"{field} is not valid", field=field, reason="invalid")
    return name


@dataclass(frozen=True, slots=True)
class NewAccount:
    email: str
    given_name: str
    family_name: str
    locale: str = "fr"
    verified: bool = False
    terms_version: str | None = None
    marketing_email: bool = False
    marketing_partners: bool = False


class AccountService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: PasswordHasher,
        rules: PasswordRules,
        counters: Counters,
        *,
        logouts: BackchannelLogouts | None = None,
    ) -> None:
        self._logouts = logouts
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._rules = rules
        self._counters = counters

    # -- creation ----------------------------------------------------------------------------

    def prepare_password(self, tenant: Tenant, password: str, *, email: str, names: tuple[str, ...]) -> str:
        """Check ``password`` against the tenant's rules and hash it (slow: call outside transactions)."""
        self._rules.require_valid(tenant.policy.password, password, email=email, names=names)
        return self._hasher.hash(password)

    def add(self, uow: UnitOfWork, tenant: Tenant, new: NewAccount, password_hash: str | None) -> Account:
        """Create the account in the caller's transaction; ``AlreadyExists`` if the email is taken."""
        if tenant.policy.identifier is not IdentifierKind.EMAIL:
            raise InvalidInput(f"tenant {tenant.slug} identifies people by {tenant.policy.identifier.value}")
        now = self._clock.now()
        account = uow.accounts.add(
            Account(
                id=0,
                tenant_id=tenant.id,
                email=new.email,
                email_verified_at=now if new.verified else None,
                given_name=new.given_name,
                family_name=new.family_name,
                status=AccountStatus.ACTIVE,
                locale=new.locale,
                created_at=now,
                updated_at=now,
                terms_version=new.terms_version,
                terms_accepted_at=now if new.terms_version else None,
                marketing_email=new.marketing_email,
                marketing_email_changed_at=now if new.marketing_email else None,
                marketing_partners=new.marketing_partners,
                marketing_partners_changed_at=now if new.marketing_partners else None,
            )
        )
        if password_hash is not None:
            uow.accounts.set_credential(account.id, CredentialKind.PASSWORD.value, password_hash, now)
        return account

    def create(self, tenant: Tenant, new: NewAccount, password: str, context: RequestContext) -> Account:
        """Create an account with a password (support and tests: ``sesame user create``)."""
        email = clean_email(new.email)
        names = (clean_name(new.given_name, "given_name"), clean_name(new.family_name, "family_name"))
        password_hash = self.prepare_password(tenant, password, email=email, names=names)
        cleaned = NewAccount(
            email=email,
            given_name=names[0],
            family_name=names[1],
            locale=new.locale,
            verified=new.verified,
            terms_version=new.terms_version,
            marketing_email=new.marketing_email,
            marketing_partners=new.marketing_partners,
        )
        with self._uow() as uow:
            if uow.accounts.by_email(tenant.id, email) is not None:
                raise AlreadyExists(f"an account with {email} exists in {tenant.slug}")
            account = self.add(uow, tenant, cleaned, password_hash)
            self._audit(uow, tenant, "account.created", account, context, {"verified": new.verified})
            uow.commit()
        return account

    # -- support ----------------------------------------------------------------------------------

    def find(self, tenant: Tenant, email: str) -> Account:
        with self._uow(readonly=True) as uow:
            account = uow.accounts.by_email(tenant.id, normalize_email(email))
        if account is None:
            raise NotFound(f"no account {email} in {tenant.slug}")
        return account

    def lock(self, tenant: Tenant, email: str, reason: str, context: RequestContext) -> Account:
        """Close the access at once: no login, every session ended."""
        with self._uow() as uow:
            account = self._get(uow, tenant, email)
            account.status = AccountStatus.LOCKED
            account.status_reason = reason[:200] or "support"
            account.updated_at = self._clock.now()
            uow.accounts.save(account)
            ended = end_everything(uow, account.id, self._clock.now(), "account_locked", logouts=self._logouts).sessions
            self._audit(
                uow,
                tenant,
                "account.locked",
                account,
                context,
                {"reason": account.status_reason, "sessions_ended": ended},
            )
            uow.commit()
        return account

    def unlock(self, tenant: Tenant, email: str, context: RequestContext) -> Account:
        """Reopen the access, and clear the failed-login counters and suspensions: the password's
        and the second factors' (``FactorService.unlock``: the same counters, the same way)."""
        with self._uow() as uow:
            account = self._get(uow, tenant, email)
            account.status = AccountStatus.ACTIVE
            account.status_reason = None
            account.updated_at = self._clock.now()
            uow.accounts.save(account)
            self._audit(uow, tenant, "account.unlocked", account, context, {})
            uow.commit()
        guard = LockoutGuard(self._counters, self._clock, tenant.policy.lockout)
        if account.email:
            guard.unlock(lockout_key(tenant, account.email))
        guard.unlock(second_factor_key(tenant, account.id))
        return account

    def flag_password_change(self, tenant: Tenant, email: str, reason: str, context: RequestContext) -> Account:
        """At the next login the person must choose a new password, then review their data (seed 000)."""
        with self._uow() as uow:
            account = self._get(uow, tenant, email)
            account.password_change_required = True
            account.profile_review_required = True
            account.updated_at = self._clock.now()
            uow.accounts.save(account)
            ended = end_everything(
                uow, account.id, self._clock.now(), "password_change_required", logouts=self._logouts
            ).sessions
            self._audit(
                uow,
                tenant,
                "account.password_change_required",
                account,
                context,
                {"reason": reason[:200] or "support", "sessions_ended": ended},
            )
            uow.commit()
        return account

    # -- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _get(uow: UnitOfWork, tenant: Tenant, email: str) -> Account:
        account = uow.accounts.by_email(tenant.id, email)
        if account is None:
            raise NotFound(f"no account {email} in {tenant.slug}")
        return account

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        account: Account,
        context: RequestContext,
        details: dict[str, object],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=f"account:{account.id}",
            ip=context.ip,
            correlation_id=context.correlation_id,
            details=details,
        )

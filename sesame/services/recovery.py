"""Password recovery by email: ask for a link and code, prove the mailbox is yours, set a new password.

An address without an account gets the same answer as one with: the same throttles, comparable
work (a code hashed, the email rendered) and an audit event, only no email. :func:`end_everything`
ends every way an account is logged in; the OpenID Connect work adds refresh tokens there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sesame.domain.accounts import Account, AccountStatus, TokenPurpose, normalize_email
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.messages import Channel
from sesame.domain.passwords import failed_rules
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.messages import build_message
from sesame.oidc.logout import BackchannelLogouts
from sesame.ports import Clock, Counters, KeyedHasher, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import lockout_key
from sesame.services.context import RequestContext
from sesame.services.factors import second_factor_key
from sesame.services.outbox import queue_email
from sesame.services.password_change import NewPassword, PasswordChangeService
from sesame.services.passwords import PasswordRules
from sesame.services.sessions import EndedAccess, end_everything
from sesame.services.throttling import LockoutGuard, Throttle
from sesame.services.tokens import LINK_TOKEN_BYTES, OneTimeTokens, link_hash

#: The link and the code of a recovery email work for one hour, once.
RECOVERY_LIFETIME = timedelta(hours=1)
#: The least time between two emails of one flow ("resend").
RESEND_COOLDOWN = timedelta(seconds=60)
#: Emails one address may be sent per window (asks and resends): enough for a lost email, too few
#: to flood a mailbox or to give a code guesser many fresh codes.
REQUESTS_PER_ADDRESS = 5
#: Requests one client address may make per window, over every email address.
REQUESTS_PER_IP = 30
THROTTLE_WINDOW_SECONDS = 3600
EMAIL_TEMPLATE = "recovery"
#: The sessions' end reason (the account page shows why a session ended).
END_REASON = "password_reset"
_UNKNOWN = "account:unknown"


# -- the use case ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResetOutcome:
    #: The password changed, but support's lock stays: the person must contact support.
    account_locked: bool
    ended: EndedAccess


def _subject(account_id: int | None) -> str:
    return f"account:{account_id}" if account_id is not None else _UNKNOWN


def _require_email_tenant(tenant: Tenant) -> None:
    if tenant.policy.identifier is not IdentifierKind.EMAIL:
        raise InvalidInput(f"tenant {tenant.slug} recovers access by {tenant.policy.identifier.value}, not by email")


class RecoveryService:
    """Recovery by email for tenants whose people log in with their address.

    A reset does not log the person in: they go to the login page. If it did, receiving one
    email would be enough to enter an account protected by a second factor; through the login
    page, the account's second factor is asked as on any other login. Recovering one factor
    (the password) never stands in for the others.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        counters: Counters,
        hasher: PasswordHasher,
        keyed: KeyedHasher,
        rules: PasswordRules,
        base_url: str,
        *,
        logouts: BackchannelLogouts | None = None,
    ) -> None:
        self._logouts = logouts
        self._uow = uow
        self._clock = clock
        self._counters = counters
        self._keyed = keyed
        self._rules = rules
        self._tokens = OneTimeTokens(keyed)
        self._passwords = PasswordChangeService(uow, clock, hasher, rules, base_url=base_url, logouts=logouts)
        self._base_url = base_url.rstrip("/")

    # -- asking for an email ----------------------------------------------------------------------

    def throttle(self, tenant: Tenant, email: str, context: RequestContext) -> datetime | None:
        """Count one request for this client and this address; over a limit, when to try again.

        Uses its own transactions (counters, and the audit of a refusal): call it before a
        step's unit of work. The address is counted under a keyed hash, never in clear.
        """
        throttle = Throttle(self._counters, self._clock)
        # Normalized: "Marie@..." and "marie@..." are one mailbox, and one budget.
        address = self._keyed.digest("recovery-address", normalize_email(email))
        limits = (
            ("ip", f"recovery-ip:{tenant.id}:{context.ip}", REQUESTS_PER_IP),
            ("address", f"recovery-address:{tenant.id}:{address}", REQUESTS_PER_ADDRESS),
        )
        for scope, key, limit in limits:
            decision = throttle.hit(key, limit, THROTTLE_WINDOW_SECONDS)
            if not decision.allowed:
                with self._uow() as uow:
                    self._audit(uow, tenant, "recovery.throttled", context, None, {"scope": scope})
                    uow.commit()
                return self._clock.now() + timedelta(seconds=decision.retry_after_seconds)
        return None

    def request(
        self, uow: UnitOfWork, tenant: Tenant, email: str, context: RequestContext, now: datetime, *, resend: bool
    ) -> int | None:
        """Email a fresh link and code to the account of ``email``, in the caller's transaction.

        Returns the account's id, or None when the address has no account that may recover
        (none, or closed): then no email is sent, but a code is hashed and the email rendered
        all the same, and the request is audited, so neither the answer nor its cost tells.
        """
        _require_email_tenant(tenant)
        account = uow.accounts.by_email(tenant.id, email)
        if account is None or account.status is AccountStatus.CLOSED or not account.email:
            self._same_work_as_sending(tenant, now)
            self._audit(uow, tenant, "recovery.requested", context, None, {"resend": resend})
            return None
        # The token retires the account's older recovery tokens: only the latest email works.
        issued = self._tokens.issue(uow, account.id, TokenPurpose.RECOVERY, now, RECOVERY_LIFETIME)
        queue_email(
            uow,
            tenant,
            EMAIL_TEMPLATE,
            account.locale,
            account.email,
            self._email_context(tenant, account.given_name, issued.link_token, issued.code),
            now=now,
            sensitive=True,  # a code and a link: scrubbed once delivered, hidden from listings
        )
        self._audit(uow, tenant, "recovery.requested", context, account.id, {"resend": resend})
        return account.id

    # -- proving the mailbox ------------------------------------------------------------------------

    def check_code(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account_id: int | None,
        code: str,
        context: RequestContext,
        now: datetime,
    ) -> bool:
        """Whether ``code`` is the account's current recovery code (then used up), in the caller's
        transaction, which must commit either way: a wrong code uses one of the token's tries.

        For an unknown address (``account_id`` None) every code is wrong, found at the same cost.
        """
        if account_id is None:
            self._keyed.digest("one-time-code", f"{TokenPurpose.RECOVERY.value}:0:{code}")
            accepted = False
        else:
            accepted = self._tokens.redeem_code(uow, account_id, TokenPurpose.RECOVERY, code, now) is not None
        event = "recovery.verified" if accepted else "recovery.code_rejected"
        self._audit(uow, tenant, event, context, account_id, {"method": "code"})
        return accepted

    def redeem_link(self, tenant: Tenant, link_token: str, context: RequestContext) -> Account | None:
        """The account whose recovery link this is, the link now used up; None for a link that is
        unknown, used, expired, or not this tenant's. Audited either way, in its own transaction."""
        _require_email_tenant(tenant)
        now = self._clock.now()
        with self._uow() as uow:
            token = uow.accounts.token_by_link(link_hash(link_token)) if 0 < len(link_token) <= 128 else None
            owner = uow.accounts.get(token.account_id) if token is not None else None
            if owner is not None and owner.tenant_id != tenant.id:
                owner = None  # checked before redeeming: another tenant's link is not used up here
            redeemed = (
                owner is not None
                and owner.status is not AccountStatus.CLOSED
                and self._tokens.redeem_link(uow, link_token, TokenPurpose.RECOVERY, now) is not None
            )
            event = "recovery.verified" if redeemed else "recovery.link_rejected"
            self._audit(uow, tenant, event, context, owner.id if owner else None, {"method": "link"})
            uow.commit()
        return owner if redeemed else None

    # -- the new password -----------------------------------------------------------------------------

    def check_new_password(self, tenant: Tenant, account_id: int, password: str) -> list[str]:
        """The tenant's password rules that ``password`` fails for this account (empty: it is fine).

        Fast (no hashing); raises ``NotFound`` when the account is gone or closed.
        """
        account = self._account(tenant, account_id)
        results = self._rules.check(
            tenant.policy.password,
            password,
            email=account.email or "",
            names=(account.given_name, account.family_name),
        )
        return [result.rule.value for result in failed_rules(results)]

    def prepare_reset(self, tenant: Tenant, account_id: int, password: str) -> NewPassword:
        """What a reset does outside the write transaction: check the password (``PolicyViolation``
        names the failed rules; ``InvalidInput`` with reason "unchanged" when it is the current
        one), hash it (slow), and reopen the login lockout of the address and of the second factors.

        The lockout cap is reopened by recovery (see ``LockoutPolicy``): the person has proven they
        hold the mailbox, and the guesses that locked the old password say nothing of the new one.
        The second factors' lock (``FactorService.unlock``'s counters) is lifted the same way, as
        support's ``sesame user unlock`` does: the next login still asks for the second factor,
        whose own failures count again from zero.
        """
        account = self._account(tenant, account_id)
        # The confirmation was compared by the step, which shows both problems at once.
        new = self._passwords.prepare(tenant, account.id, password, password)
        guard = LockoutGuard(self._counters, self._clock, tenant.policy.lockout)
        if account.email:
            guard.unlock(lockout_key(tenant, account.email))
        guard.unlock(second_factor_key(tenant, account.id))
        return new

    def reset_password(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        new: NewPassword,
        context: RequestContext,
        now: datetime,
        *,
        verified_by: str,
    ) -> ResetOutcome:
        """Store the new password in the caller's transaction, with everything that goes with it.

        As any password change (``PasswordChangeService.apply``): the change-required flag cleared,
        the sessions ended, the "your password was changed" email queued. Besides: every other way
        in ends too (:func:`end_everything`), the other recovery links die, and the address counts
        as confirmed (a code or link sent to it was used). A support lock stays: recovery proves
        the mailbox, not that the reason for the lock is gone, so support reopens the account.
        """
        current = uow.accounts.get(new.account_id, for_update=True)
        if current is None or current.tenant_id != tenant.id or current.status is AccountStatus.CLOSED:
            raise NotFound(f"account {new.account_id} cannot recover in {tenant.slug}")
        changed = self._passwords.apply(uow, tenant, new, context, reason="recovery")
        account = changed.account
        if account.email_verified_at is None:
            account.email_verified_at = now
            uow.accounts.save(account)
        ended = end_everything(uow, account.id, now, END_REASON, logouts=self._logouts)
        uow.accounts.revoke_tokens(account.id, TokenPurpose.RECOVERY, now)
        sessions = changed.sessions_ended + ended.sessions
        details: dict[str, object] = {
            "verified_by": verified_by,
            "sessions_ended": sessions,
            "account_status": account.status.value,
        }
        self._audit(uow, tenant, "password.reset", context, account.id, details)
        return ResetOutcome(account_locked=account.status is AccountStatus.LOCKED, ended=EndedAccess(sessions=sessions))

    # -- internals ---------------------------------------------------------------------------------

    def _account(self, tenant: Tenant, account_id: int) -> Account:
        with self._uow(readonly=True) as uow:
            account = uow.accounts.get(account_id)
        if account is None or account.tenant_id != tenant.id or account.status is AccountStatus.CLOSED:
            raise NotFound(f"account {account_id} cannot recover in {tenant.slug}")
        return account

    def _link(self, tenant: Tenant, link_token: str) -> str:
        return f"{self._base_url}/{tenant.slug}/recovery/link?{urlencode({'token': link_token})}"

    def _email_context(self, tenant: Tenant, name: str, link_token: str, code: str) -> dict[str, object]:
        return {
            "name": name,
            "code": code,
            "link": self._link(tenant, link_token),
            "minutes": int(RECOVERY_LIFETIME.total_seconds() // 60),
            "recovery_url": f"{self._base_url}/{tenant.slug}/recovery",
        }

    def _same_work_as_sending(self, tenant: Tenant, now: datetime) -> None:
        """What sending costs, without sending: a link drawn, a code hashed, the email rendered."""
        link_token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
        code = f"{secrets.randbelow(10**6):06d}"
        self._keyed.digest("one-time-code", f"{TokenPurpose.RECOVERY.value}:0:{code}")
        build_message(
            tenant,
            Channel.EMAIL,
            EMAIL_TEMPLATE,
            tenant.policy.languages.default,
            "nobody@invalid.example",
            self._email_context(tenant, "", link_token, code),
            now=now,
            sensitive=True,
        )

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
            subject=_subject(account_id),
            ip=context.ip,
            correlation_id=context.correlation_id,
            details=details,
        )

"""The account page's use cases: profile, marketing consents, sessions, the current password.

The current password asked again before a change is checked through the login's lockout
counter, so this page cannot be used to guess it. Every change is audited, never with a
secret. The changes themselves live in :mod:`sesame.services.password_change` (shared with
recovery and the forced change) and :mod:`sesame.services.email_change`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog

from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import CredentialKind, Tenant
from sesame.domain.throttling import LockoutDecision, LockoutStatus
from sesame.ports import Clock, Counters, KeyedHasher, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import lockout_key
from sesame.services.context import RequestContext
from sesame.services.passwords import PasswordRules
from sesame.services.sessions import LiveSession
from sesame.services.throttling import LockoutGuard
from sesame.services.user_agents import Device, describe_user_agent

log = structlog.get_logger(__name__)

#: Why sessions ended from the account page end, as stored with them.
ENDED_BY_USER = "ended_by_user"


# -- views ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileView:
    """What "Mes informations" shows."""

    given_name: str
    family_name: str
    email: str | None
    email_verified_at: datetime | None
    terms_version: str | None
    terms_accepted_at: datetime | None
    marketing_email: bool
    marketing_email_changed_at: datetime | None
    marketing_partners: bool
    marketing_partners_changed_at: datetime | None
    has_password: bool

    @classmethod
    def of(cls, account: Account, *, has_password: bool) -> ProfileView:
        return cls(
            given_name=account.given_name,
            family_name=account.family_name,
            email=account.email,
            email_verified_at=account.email_verified_at,
            terms_version=account.terms_version,
            terms_accepted_at=account.terms_accepted_at,
            marketing_email=account.marketing_email,
            marketing_email_changed_at=account.marketing_email_changed_at,
            marketing_partners=account.marketing_partners,
            marketing_partners_changed_at=account.marketing_partners_changed_at,
            has_password=has_password,
        )


@dataclass(frozen=True, slots=True)
class SessionView:
    """One logged-in browser, as the list shows it; ``handle`` names it in forms."""

    handle: str
    device: Device
    created_at: datetime
    last_seen_at: datetime
    ip: str
    current: bool


@dataclass(frozen=True, slots=True)
class AccountOverview:
    profile: ProfileView
    sessions: Sequence[SessionView]

    @property
    def other_sessions(self) -> int:
        return sum(1 for s in self.sessions if not s.current)


# -- outcomes ------------------------------------------------------------------------------------


class PasswordCheckStatus(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    SUSPENDED = "suspended"  # too many wrong passwords: wait (the same suspension as logins)
    LOCKED = "locked"  # the login is locked: support or recovery reopens it


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    status: PasswordCheckStatus
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is PasswordCheckStatus.OK


class AccountSettings:
    """The use cases of ``/{tenant}/account`` for the logged-in person."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        hasher: PasswordHasher,
        rules: PasswordRules,
        counters: Counters,
        keyed: KeyedHasher,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._rules = rules
        self._counters = counters
        self._keyed = keyed

    # -- reading -------------------------------------------------------------------------------

    def session_handle(self, session_id: str) -> str:
        """A page-safe name of a session: keyed, so the database key never appears in HTML."""
        return self._keyed.digest("session-handle", session_id)[:32]

    def overview(self, tenant: Tenant, live: LiveSession) -> AccountOverview:
        """The profile and the live sessions of the logged-in account, the current one first."""
        now = self._clock.now()
        with self._uow(readonly=True) as uow:
            account = uow.accounts.get(live.account.id) or live.account
            sessions = uow.accounts.sessions_of(account.id, now)
            has_password = bool(uow.accounts.credentials(account.id, CredentialKind.PASSWORD.value))
        views = [self._session_view(s, current=s.id == live.session.id) for s in sessions if s.tenant_id == tenant.id]
        views.sort(key=lambda view: not view.current)  # stable: the others stay newest first
        return AccountOverview(ProfileView.of(account, has_password=has_password), views)

    def _session_view(self, session: BrowserSession, *, current: bool) -> SessionView:
        return SessionView(
            handle=self.session_handle(session.id),
            device=describe_user_agent(session.user_agent),
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            ip=session.ip,
            current=current,
        )

    # -- marketing consents --------------------------------------------------------------------

    def set_consents(
        self,
        tenant: Tenant,
        live: LiveSession,
        *,
        marketing_email: bool,
        marketing_partners: bool,
        context: RequestContext,
    ) -> list[str]:
        """Store both consents; each one that changed gets its time. Returns the changed ones."""
        now = self._clock.now()
        with self._uow() as uow:
            account = uow.accounts.get(live.account.id, for_update=True)
            if account is None:
                return []
            changed: dict[str, object] = {}
            if account.marketing_email != marketing_email:
                account.marketing_email, account.marketing_email_changed_at = marketing_email, now
                changed["marketing_email"] = marketing_email
            if account.marketing_partners != marketing_partners:
                account.marketing_partners, account.marketing_partners_changed_at = marketing_partners, now
                changed["marketing_partners"] = marketing_partners
            if not changed:
                return []  # a second submit of the same choice changes nothing, and records nothing
            account.updated_at = now
            uow.accounts.save(account)
            self._audit(uow, tenant, "account.consents_changed", account.id, context, changed)
            uow.commit()
        return list(changed)

    # -- sessions ------------------------------------------------------------------------------

    def end_session(self, tenant: Tenant, live: LiveSession, handle: str, context: RequestContext) -> bool:
        """End another live session of the same account; anything else does nothing, silently."""
        if not handle or len(handle) > 64 or handle == self.session_handle(live.session.id):
            return False
        now = self._clock.now()
        with self._uow() as uow:
            target = next(
                (s for s in uow.accounts.sessions_of(live.account.id, now) if self.session_handle(s.id) == handle),
                None,
            )
            if target is None:
                # Not a session of this account (or already over): the same answer, no enumeration.
                log.info("account.session_end_ignored", tenant=tenant.slug, account=live.account.id)
                return False
            ended = uow.accounts.end_sessions(live.account.id, now, ENDED_BY_USER, only=target.id)
            self._audit(uow, tenant, "session.ended", live.account.id, context, {"session": handle[:12], "by": "user"})
            uow.commit()
        return ended == 1

    def end_other_sessions(self, tenant: Tenant, live: LiveSession, context: RequestContext) -> int:
        """End every session of the account but this browser's; returns how many ended."""
        now = self._clock.now()
        with self._uow() as uow:
            ended = uow.accounts.end_sessions(live.account.id, now, ENDED_BY_USER, keep=live.session.id)
            if ended:
                self._audit(uow, tenant, "session.ended_others", live.account.id, context, {"count": ended})
            uow.commit()
        return ended

    # -- the current password ------------------------------------------------------------------

    def check_current_password(self, tenant: Tenant, account: Account, password: str) -> PasswordCheck:
        """Verify the account's password, counted like a login (slow, own transactions: call before
        the caller's unit of work is used)."""
        guard = LockoutGuard(self._counters, self._clock, tenant.policy.lockout)
        key = lockout_key(tenant, account.email or account.customer_number or f"account-{account.id}")
        state = guard.check(key)
        if not state.allowed:
            self._hasher.dummy_verify(password)  # the same time as a real check
            return _refusal(state)
        with self._uow(readonly=True) as uow:
            credentials = uow.accounts.credentials(account.id, CredentialKind.PASSWORD.value)
        if not credentials:
            self._hasher.dummy_verify(password)
            valid = False
        else:
            valid = self._hasher.verify(credentials[0].secret_hash, password)
        if not valid:
            decision = guard.register_failure(key)
            return PasswordCheck(PasswordCheckStatus.WRONG) if decision.allowed else _refusal(decision)
        guard.register_success(key)
        return PasswordCheck(PasswordCheckStatus.OK)

    def audit_refused(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        account_id: int,
        check: PasswordCheck,
        context: RequestContext,
    ) -> None:
        """Record a refused current password (in the step's transaction, with the attempt)."""
        self._audit(uow, tenant, event, account_id, context, {"reason": f"password_{check.status.value}"})

    def password_problems(self, tenant: Tenant, account: Account, password: str) -> list[str]:
        """The tenant's rules that ``password`` fails (cheap: no hashing), to show them all at once."""
        names = (account.given_name, account.family_name)
        results = self._rules.check(tenant.policy.password, password, email=account.email or "", names=names)
        return [result.rule.value for result in results if not result.passed]

    # -- internals -------------------------------------------------------------------------------

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        account_id: int | None,
        context: RequestContext,
        details: Mapping[str, object],
    ) -> None:
        audit_account_event(uow, self._clock, tenant, event, account_id, context, details)


def public_url(base_url: str, tenant: Tenant, path: str) -> str:
    """An absolute link to one of the tenant's pages, for messages."""
    return f"{base_url.rstrip('/')}/{tenant.slug}/{path}"


def audit_account_event(
    uow: UnitOfWork,
    clock: Clock,
    tenant: Tenant,
    event: str,
    account_id: int | None,
    context: RequestContext,
    details: Mapping[str, object],
) -> None:
    """An event about one account (``None``: an unknown one), in the caller's transaction."""
    audit_event(
        uow,
        clock,
        tenant.id,
        event,
        actor=context.actor,
        subject=f"account:{account_id}" if account_id is not None else "account:unknown",
        ip=context.ip,
        correlation_id=context.correlation_id,
        details=details,
    )


def _refusal(decision: LockoutDecision) -> PasswordCheck:
    if decision.status is LockoutStatus.LOCKED:
        return PasswordCheck(PasswordCheckStatus.LOCKED)
    return PasswordCheck(PasswordCheckStatus.SUSPENDED, retry_at=decision.suspended_until)

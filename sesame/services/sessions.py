"""Browser sessions: opened at login, checked on every request, ended at logout or from elsewhere.

The cookie holds 256 random bits; the database holds their SHA-256. A session ends when idle
too long or at its absolute limit (tenant policy), at logout, or when the password changes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc.logout import BackchannelLogouts
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory

SESSION_TOKEN_BYTES = 32
#: The length of ``secrets.token_urlsafe(SESSION_TOKEN_BYTES)``: a token given by the caller is no shorter.
MIN_TOKEN_LENGTH = 43
#: last_seen_at is written at most this often (reads of a page must not all become writes).
TOUCH_INTERVAL = timedelta(seconds=60)
USER_AGENT_MAX = 300


def session_id_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # for the cookie only; never stored, never logged
    session: BrowserSession


@dataclass(frozen=True, slots=True)
class LiveSession:
    session: BrowserSession
    account: Account


@dataclass(frozen=True, slots=True)
class EndedAccess:
    """What :func:`end_everything` ended, for the audit log."""

    sessions: int
    #: OpenID Connect grants revoked (with their codes, refresh and access tokens).
    grants: int = 0
    #: Back-channel logout tokens queued for the clients of those grants.
    backchannel_logouts: int = 0


def end_everything(
    uow: UnitOfWork,
    account_id: int,
    now: datetime,
    reason: str,
    *,
    keep_session_id: str | None = None,
    logouts: BackchannelLogouts | None = None,
) -> EndedAccess:
    """End, in the caller's transaction, every way the account is logged in (but ``keep_session_id``).

    Browser sessions, and every OpenID Connect grant of the account, online and offline (those
    of the kept session too: its clients simply ask again, silently), so that a password reset,
    a password change, a lock or a forced change cuts every client off, not only browsers. With
    ``logouts``, clients that registered a back-channel logout URI are told (not about the kept
    session, which goes on).
    """
    sessions = uow.accounts.end_sessions(account_id, now, reason, keep=keep_session_id)
    grants = uow.oidc.revoke_grants(now, reason, account_id=account_id)
    queued = 0
    if logouts is not None and grants:
        tenant = uow.tenants.get(grants[0].tenant_id)
        if tenant is not None:
            told = [grant for grant in grants if keep_session_id is None or grant.session_id != keep_session_id]
            queued = logouts.queue(uow, tenant, told, now)
    return EndedAccess(sessions=sessions, grants=len(grants), backchannel_logouts=queued)


def end_replaced_session(uow: UnitOfWork, tenant_id: int, previous_token: str | None, now: datetime) -> bool:
    """End the session the browser had before this login (a new id at every login); True if one ended."""
    if not previous_token or len(previous_token) > 128:
        return False
    previous = uow.accounts.get_session(session_id_of(previous_token))
    if previous is None or previous.tenant_id != tenant_id or previous.ended_at is not None:
        return False
    return uow.accounts.end_sessions(previous.account_id, now, "replaced", only=previous.id) == 1


class SessionService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    @staticmethod
    def open(
        uow: UnitOfWork,
        account: Account,
        tenant: Tenant,
        now: datetime,
        *,
        acr: str,
        amr: Sequence[str],
        ip: str,
        user_agent: str,
        token: str | None = None,
    ) -> OpenedSession:
        """A new session in the caller's transaction (a new id at every login and step-up).

        ``token`` lets the caller draw the cookie value before the transaction (a web page sets
        the cookie after the step that opened the session); it must be as random as our own.
        """
        policy = tenant.policy.session
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError("a session token carries at least 256 random bits")
        token = token or secrets.token_urlsafe(SESSION_TOKEN_BYTES)
        session = BrowserSession(
            id=session_id_of(token),
            account_id=account.id,
            tenant_id=tenant.id,
            created_at=now,
            last_seen_at=now,
            idle_expires_at=now + timedelta(seconds=policy.idle_timeout_seconds),
            expires_at=now + timedelta(seconds=policy.absolute_timeout_seconds),
            auth_time=now,
            acr=acr,
            amr=list(amr),
            ip=ip[:64],
            user_agent=user_agent[:USER_AGENT_MAX],
        )
        uow.accounts.add_session(session)
        return OpenedSession(token=token, session=session)

    def resolve(self, tenant: Tenant, token: str | None) -> LiveSession | None:
        """The live session behind a cookie value, for this tenant, with its account; None otherwise."""
        if not token or len(token) > 128:
            return None
        now = self._clock.now()
        session_id = session_id_of(token)
        with self._uow(readonly=True) as uow:
            session = uow.accounts.get_session(session_id)
            if session is None or session.tenant_id != tenant.id or not session.is_active(now):
                return None
            account = uow.accounts.get(session.account_id)
        if account is None or not account.can_log_in:
            return None
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            idle_until = min(now + timedelta(seconds=tenant.policy.session.idle_timeout_seconds), session.expires_at)
            with self._uow() as uow:
                uow.accounts.touch_session(session_id, now, idle_until)
                uow.commit()
            session.last_seen_at, session.idle_expires_at = now, idle_until
        return LiveSession(session=session, account=account)

    def list(self, account_id: int) -> Sequence[BrowserSession]:
        with self._uow(readonly=True) as uow:
            return uow.accounts.sessions_of(account_id, self._clock.now())

    def end(self, account_id: int, session_id: str, reason: str) -> bool:
        """End one session of the account (logout, or "end this session" from the account page)."""
        with self._uow() as uow:
            ended = uow.accounts.end_sessions(account_id, self._clock.now(), reason, only=session_id)
            uow.commit()
        return ended == 1

    def end_others(self, account_id: int, keep_session_id: str, reason: str) -> int:
        with self._uow() as uow:
            ended = uow.accounts.end_sessions(account_id, self._clock.now(), reason, keep=keep_session_id)
            uow.commit()
        return ended

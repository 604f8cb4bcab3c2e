"""Accounts, credentials, sessions and one-time tokens in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import AccountRow, AccountTokenRow, CredentialRow, SessionRow
from sesame.domain.accounts import (
    Account,
    AccountStatus,
    AccountToken,
    BrowserSession,
    Credential,
    TokenPurpose,
    normalize_email,
)
from sesame.domain.errors import AlreadyExists, NotFound

#: The ``sessions.end_reason`` column's length (PostgreSQL refuses longer values).
END_REASON_MAX = 30

_ACCOUNT_FIELDS = (
    "email",
    "email_verified_at",
    "given_name",
    "family_name",
    "locale",
    "customer_number",
    "status_reason",
    "password_change_required",
    "profile_review_required",
    "terms_version",
    "terms_accepted_at",
    "marketing_email",
    "marketing_email_changed_at",
    "marketing_partners",
    "marketing_partners_changed_at",
    "last_login_at",
    "closed_at",
    "updated_at",
)


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        tenant_id=row.tenant_id,
        status=AccountStatus(row.status),
        created_at=row.created_at,
        **{name: getattr(row, name) for name in _ACCOUNT_FIELDS},
    )


def _credential(row: CredentialRow) -> Credential:
    return Credential(
        id=row.id,
        account_id=row.account_id,
        kind=row.kind,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        label=row.label,
        last_used_at=row.last_used_at,
        meta=dict(row.meta or {}),
    )


def _session(row: SessionRow) -> BrowserSession:
    return BrowserSession(
        id=row.id,
        account_id=row.account_id,
        tenant_id=row.tenant_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        idle_expires_at=row.idle_expires_at,
        expires_at=row.expires_at,
        auth_time=row.auth_time,
        acr=row.acr,
        amr=list(row.amr),
        ip=row.ip,
        user_agent=row.user_agent,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )


def _token(row: AccountTokenRow) -> AccountToken:
    return AccountToken(
        id=row.id,
        account_id=row.account_id,
        purpose=TokenPurpose(row.purpose),
        link_hash=row.link_hash,
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        target=row.target,
        used_at=row.used_at,
        code_attempts=row.code_attempts,
    )


class SqlAccountRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- accounts ------------------------------------------------------------------------------

    def get(self, account_id: int, *, for_update: bool = False) -> Account | None:
        query = select(AccountRow).where(AccountRow.id == account_id)
        if for_update:
            query = query.with_for_update()
        row = self._session.scalars(query.execution_options(populate_existing=True)).one_or_none()
        return _account(row) if row else None

    def by_email(self, tenant_id: int, email: str) -> Account | None:
        row = self._session.scalars(
            select(AccountRow).where(
                AccountRow.tenant_id == tenant_id, AccountRow.email_normalized == normalize_email(email)
            )
        ).one_or_none()
        return _account(row) if row else None

    def by_customer_number(self, tenant_id: int, number: str) -> Account | None:
        row = self._session.scalars(
            select(AccountRow).where(AccountRow.tenant_id == tenant_id, AccountRow.customer_number == number)
        ).one_or_none()
        return _account(row) if row else None

    def add(self, account: Account) -> Account:
        row = AccountRow(
            tenant_id=account.tenant_id,
            status=account.status.value,
            created_at=account.created_at,
            email_normalized=normalize_email(account.email) if account.email else None,
            **{name: getattr(account, name) for name in _ACCOUNT_FIELDS},
        )
        try:
            # Added inside the savepoint: if the insert fails, the row leaves the session with it,
            # and the caller's transaction goes on (registration answers a taken address so).
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists("an account with this identifier exists") from error
        account.id = row.id
        return account

    def save(self, account: Account) -> None:
        values = {name: getattr(account, name) for name in _ACCOUNT_FIELDS}
        values["status"] = account.status.value
        values["email_normalized"] = normalize_email(account.email) if account.email else None
        try:
            with self._session.begin_nested():
                result = self._session.execute(
                    update(AccountRow)
                    .where(AccountRow.id == account.id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError as error:
            raise AlreadyExists("an account with this identifier exists") from error
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"account {account.id}")

    def list(self, tenant_id: int, *, limit: int = 100, offset: int = 0) -> Sequence[Account]:
        rows = self._session.scalars(
            select(AccountRow)
            .where(AccountRow.tenant_id == tenant_id)
            .order_by(AccountRow.id)
            .limit(limit)
            .offset(offset)
        )
        return [_account(r) for r in rows]

    # -- credentials ---------------------------------------------------------------------------

    def credentials(self, account_id: int, kind: str | None = None) -> Sequence[Credential]:
        query = select(CredentialRow).where(CredentialRow.account_id == account_id)
        if kind is not None:
            query = query.where(CredentialRow.kind == kind)
        return [_credential(r) for r in self._session.scalars(query.order_by(CredentialRow.id))]

    def set_credential(self, account_id: int, kind: str, secret_hash: str, now: datetime) -> Credential:
        """Replace the account's credential of ``kind`` (password, keypad code) by a new hash."""
        row = self._session.scalars(
            select(CredentialRow)
            .where(CredentialRow.account_id == account_id, CredentialRow.kind == kind)
            .order_by(CredentialRow.id)
        ).first()
        if row is None:
            row = CredentialRow(
                account_id=account_id,
                kind=kind,
                secret_hash=secret_hash,
                created_at=now,
                updated_at=now,
                label="",
                meta={},
            )
            self._session.add(row)
        else:
            row.secret_hash = secret_hash
            row.updated_at = now
        self._session.flush()
        return _credential(row)

    def rehash_credential(self, credential_id: int, secret_hash: str, now: datetime) -> None:
        """Store a stronger hash of the same secret (parameters upgraded); not a change of secret."""
        self._session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == credential_id)
            .values(secret_hash=secret_hash, last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    def touch_credential(self, credential_id: int, now: datetime) -> None:
        self._session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == credential_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    # -- sessions ------------------------------------------------------------------------------

    def add_session(self, browser_session: BrowserSession) -> None:
        self._session.add(
            SessionRow(
                id=browser_session.id,
                account_id=browser_session.account_id,
                tenant_id=browser_session.tenant_id,
                created_at=browser_session.created_at,
                last_seen_at=browser_session.last_seen_at,
                idle_expires_at=browser_session.idle_expires_at,
                expires_at=browser_session.expires_at,
                auth_time=browser_session.auth_time,
                acr=browser_session.acr,
                amr=browser_session.amr,
                ip=browser_session.ip,
                user_agent=browser_session.user_agent,
            )
        )
        self._session.flush()

    def get_session(self, session_id: str) -> BrowserSession | None:
        row = self._session.get(SessionRow, session_id, populate_existing=True)
        return _session(row) if row else None

    def touch_session(self, session_id: str, now: datetime, idle_expires_at: datetime) -> None:
        self._session.execute(
            update(SessionRow)
            .where(SessionRow.id == session_id, SessionRow.ended_at.is_(None))
            .values(last_seen_at=now, idle_expires_at=idle_expires_at)
            .execution_options(synchronize_session=False)
        )

    def sessions_of(self, account_id: int, now: datetime) -> Sequence[BrowserSession]:
        """The account's live sessions, newest first: by last activity, then by creation; the
        random id only settles exact ties, so that the list shown never reshuffles."""
        rows = self._session.scalars(
            select(SessionRow)
            .where(
                SessionRow.account_id == account_id,
                SessionRow.ended_at.is_(None),
                SessionRow.expires_at > now,
                SessionRow.idle_expires_at > now,
            )
            .order_by(SessionRow.last_seen_at.desc(), SessionRow.created_at.desc(), SessionRow.id.desc())
        )
        return [_session(r) for r in rows]

    def end_sessions(
        self, account_id: int, now: datetime, reason: str, *, only: str | None = None, keep: str | None = None
    ) -> int:
        """End live sessions of the account: all, ``only`` one, or all but ``keep``; returns how many."""
        query = update(SessionRow).where(SessionRow.account_id == account_id, SessionRow.ended_at.is_(None))
        if only is not None:
            query = query.where(SessionRow.id == only)
        if keep is not None:
            query = query.where(SessionRow.id != keep)
        result = self._session.execute(
            query.values(ended_at=now, end_reason=reason[:END_REASON_MAX]).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- one-time tokens -----------------------------------------------------------------------

    def add_token(self, token: AccountToken) -> AccountToken:
        row = AccountTokenRow(
            account_id=token.account_id,
            purpose=token.purpose.value,
            link_hash=token.link_hash,
            code_hash=token.code_hash,
            target=token.target,
            created_at=token.created_at,
            expires_at=token.expires_at,
            code_attempts=0,
        )
        self._session.add(row)
        self._session.flush()
        token.id = row.id
        return token

    def token_by_link(self, link_hash: str) -> AccountToken | None:
        row = self._session.scalars(select(AccountTokenRow).where(AccountTokenRow.link_hash == link_hash)).one_or_none()
        return _token(row) if row else None

    def latest_token(self, account_id: int, purpose: TokenPurpose) -> AccountToken | None:
        row = self._session.scalars(
            select(AccountTokenRow)
            .where(AccountTokenRow.account_id == account_id, AccountTokenRow.purpose == purpose.value)
            .order_by(AccountTokenRow.id.desc())
            .limit(1)
        ).first()
        return _token(row) if row else None

    def use_token(self, token_id: int, now: datetime) -> bool:
        """Mark the token used; False when it already was (single use, even under a race)."""
        result = self._session.execute(
            update(AccountTokenRow)
            .where(AccountTokenRow.id == token_id, AccountTokenRow.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def count_code_attempt(self, token_id: int, limit: int) -> bool:
        """Count one try of the code, if the token is unused and below ``limit``; False otherwise.

        One conditional UPDATE: on PostgreSQL the row stays locked until commit, on SQLite the
        write transaction holds the lock, so parallel tries are counted one after the other.
        """
        result = self._session.execute(
            update(AccountTokenRow)
            .where(
                AccountTokenRow.id == token_id,
                AccountTokenRow.used_at.is_(None),
                AccountTokenRow.code_attempts < limit,
            )
            .values(code_attempts=AccountTokenRow.code_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def revoke_tokens(self, account_id: int, purpose: TokenPurpose, now: datetime) -> None:
        """Retire every unused token of this purpose (a new one was sent, or the purpose is done)."""
        self._session.execute(
            update(AccountTokenRow)
            .where(
                AccountTokenRow.account_id == account_id,
                AccountTokenRow.purpose == purpose.value,
                AccountTokenRow.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )

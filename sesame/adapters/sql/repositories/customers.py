"""Customers' postal profiles and admin API keys in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import ApiKeyRow, CustomerProfileRow
from sesame.domain.api_keys import ApiKey
from sesame.domain.customers import CustomerProfile
from sesame.domain.errors import AlreadyExists, NotFound


def _profile(row: CustomerProfileRow) -> CustomerProfile:
    return CustomerProfile(
        account_id=row.account_id,
        address_lines=list(row.address_lines),
        birth_date=row.birth_date,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        key_id=row.key_id,
        secret_hash=row.secret_hash,
        label=row.label,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlCustomerRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, account_id: int) -> CustomerProfile | None:
        row = self._session.get(CustomerProfileRow, account_id, populate_existing=True)
        return _profile(row) if row else None

    def add(self, profile: CustomerProfile) -> None:
        row = CustomerProfileRow(
            account_id=profile.account_id,
            address_lines=list(profile.address_lines),
            birth_date=profile.birth_date,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists(f"account {profile.account_id} has a customer profile") from error

    def save(self, profile: CustomerProfile) -> None:
        result = self._session.execute(
            update(CustomerProfileRow)
            .where(CustomerProfileRow.account_id == profile.account_id)
            .values(
                address_lines=list(profile.address_lines), birth_date=profile.birth_date, updated_at=profile.updated_at
            )
            .execution_options(synchronize_session=False)
        )
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise NotFound(f"no customer profile for account {profile.account_id}")


class SqlApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, key: ApiKey) -> ApiKey:
        row = ApiKeyRow(
            tenant_id=key.tenant_id,
            key_id=key.key_id,
            secret_hash=key.secret_hash,
            label=key.label,
            created_by=key.created_by,
            created_at=key.created_at,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists("an API key with this id exists") from error
        key.id = row.id
        return key

    def by_key_id(self, key_id: str) -> ApiKey | None:
        row = self._session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)).one_or_none()
        return _api_key(row) if row else None

    def list(self, tenant_id: int) -> Sequence[ApiKey]:
        rows = self._session.scalars(select(ApiKeyRow).where(ApiKeyRow.tenant_id == tenant_id).order_by(ApiKeyRow.id))
        return [_api_key(row) for row in rows]

    def touch(self, key_id: str, now: datetime) -> None:
        self._session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.key_id == key_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    def revoke(self, tenant_id: int, key_id: str, now: datetime) -> bool:
        """Revoke the tenant's key; False when it has no such key or it was revoked already."""
        result = self._session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.tenant_id == tenant_id, ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return isinstance(result, CursorResult) and result.rowcount == 1

"""Tenants in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import TenantRow
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.domain.tenants import Tenant, TenantPolicy


def _to_domain(row: TenantRow) -> Tenant:
    return Tenant(
        id=row.id,
        slug=row.slug,
        name=row.name,
        policy=TenantPolicy.model_validate(row.policy),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlTenantRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get_by_slug(self, slug: str) -> Tenant | None:
        row = self._session.scalars(select(TenantRow).where(TenantRow.slug == slug)).one_or_none()
        return _to_domain(row) if row else None

    def get(self, tenant_id: int) -> Tenant | None:
        row = self._session.get(TenantRow, tenant_id)
        return _to_domain(row) if row else None

    def list(self) -> Sequence[Tenant]:
        return [_to_domain(r) for r in self._session.scalars(select(TenantRow).order_by(TenantRow.slug))]

    def add(self, slug: str, name: str, policy: TenantPolicy, now: datetime) -> Tenant:
        if self._session.scalars(select(TenantRow.id).where(TenantRow.slug == slug)).first() is not None:
            raise AlreadyExists(f"tenant {slug} exists")
        row = TenantRow(slug=slug, name=name, policy=policy.model_dump(mode="json"), created_at=now, updated_at=now)
        self._session.add(row)
        self._session.flush()
        return _to_domain(row)

    def update_policy(self, tenant_id: int, policy: TenantPolicy, now: datetime) -> Tenant:
        row = self._session.get(TenantRow, tenant_id)
        if row is None:
            raise NotFound(f"tenant {tenant_id}")
        row.policy = policy.model_dump(mode="json")
        row.updated_at = now
        self._session.flush()
        return _to_domain(row)

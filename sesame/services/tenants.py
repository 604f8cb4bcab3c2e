"""Tenant administration: create, list, show, change policies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sesame.domain.audit import AuditEvent
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.tenants import Tenant, TenantPolicy, validate_slug
from sesame.ports import Clock, UnitOfWorkFactory


class TenantService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def create(self, slug: str, name: str, policy: TenantPolicy | None = None, *, actor: str = "system") -> Tenant:
        try:
            validate_slug(slug)
        except ValueError as error:
            raise InvalidInput(str(error), field="slug") from error
        if not name.strip():
            raise InvalidInput("a tenant needs a name", field="name")
        now = self._clock.now()
        with self._uow() as uow:
            tenant = uow.tenants.add(slug, name.strip(), policy or TenantPolicy(), now)
            uow.audit.append(
                AuditEvent(
                    tenant_id=tenant.id, type="tenant.created", occurred_at=now, actor=actor, subject=f"tenant:{slug}"
                )
            )
            uow.commit()
        return tenant

    def get(self, slug: str) -> Tenant:
        with self._uow(readonly=True) as uow:
            tenant = uow.tenants.get_by_slug(slug)
        if tenant is None:
            raise NotFound(f"no tenant {slug}")
        return tenant

    def find(self, slug: str) -> Tenant | None:
        with self._uow(readonly=True) as uow:
            return uow.tenants.get_by_slug(slug)

    def list(self) -> Sequence[Tenant]:
        with self._uow(readonly=True) as uow:
            return uow.tenants.list()

    def update_policy(self, slug: str, changes: dict[str, Any], *, actor: str = "system") -> Tenant:
        """Merge ``changes`` (a partial policy document) into the tenant's policy, validated."""
        now = self._clock.now()
        with self._uow() as uow:
            tenant = uow.tenants.get_by_slug(slug)
            if tenant is None:
                raise NotFound(f"no tenant {slug}")
            merged = _deep_merge(tenant.policy.model_dump(mode="json"), changes)
            try:
                policy = TenantPolicy.model_validate(merged)
            except ValueError as error:
                raise InvalidInput(str(error), field="policy") from error
            updated = uow.tenants.update_policy(tenant.id, policy, now)
            uow.audit.append(
                AuditEvent(
                    tenant_id=tenant.id,
                    type="tenant.policy_changed",
                    occurred_at=now,
                    actor=actor,
                    subject=f"tenant:{slug}",
                    details={"changed": sorted(changes)},
                )
            )
            uow.commit()
        return updated


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged

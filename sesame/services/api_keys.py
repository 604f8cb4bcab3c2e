"""Admin API keys: create one (shown once), check a presented one, list and revoke them.

A company's own systems call the JSON API with ``Authorization: Bearer sk_...`` (the bank
enrolling its customers). Only a keyed hash of each key is stored; creation and revocation are
audited, and a key works for its own tenant only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sesame.domain.api_keys import API_KEY_PREFIX, KEY_ID_HEX, LABEL_MAX, ApiKey, key_id_of
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.tenants import Tenant
from sesame.ports import Clock, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext

PEPPER_PURPOSE = "api-key"
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key: ApiKey
    #: The whole key, to give to its holder once; never stored, never logged.
    secret: str = field(repr=False)


class ApiKeys:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, keyed: KeyedHasher) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed

    def create(self, tenant: Tenant, label: str, context: RequestContext) -> IssuedApiKey:
        label = " ".join(label.split())
        if not label or len(label) > LABEL_MAX or not label.isprintable():
            raise InvalidInput(f"a key's label has 1 to {LABEL_MAX} printable characters", field="label")
        key_id = secrets.token_hex(KEY_ID_HEX // 2)
        secret = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        now = self._clock.now()
        with self._uow() as uow:
            key = uow.api_keys.add(
                ApiKey(
                    id=0,
                    tenant_id=tenant.id,
                    key_id=key_id,
                    secret_hash=self._keyed.digest(PEPPER_PURPOSE, secret),
                    label=label,
                    created_at=now,
                    created_by=context.actor[:100],
                )
            )
            self._audit(uow, tenant, "api_key.created", context, key_id, {"label": label})
            uow.commit()
        return IssuedApiKey(key=key, secret=secret)

    def authenticate(self, tenant: Tenant, presented: str) -> ApiKey | None:
        """The active key of ``tenant`` that ``presented`` is, or None (the comparison is constant-time)."""
        key_id = key_id_of(presented)
        if key_id is None:
            return None
        with self._uow(readonly=True) as uow:
            key = uow.api_keys.by_key_id(key_id)
        if key is None or not self._keyed.matches(PEPPER_PURPOSE, presented, key.secret_hash):
            return None
        if key.tenant_id != tenant.id or not key.active:
            return None
        with self._uow() as uow:
            uow.api_keys.touch(key_id, self._clock.now())
            uow.commit()
        return key

    def list(self, tenant: Tenant) -> Sequence[ApiKey]:
        with self._uow(readonly=True) as uow:
            return uow.api_keys.list(tenant.id)

    def revoke(self, tenant: Tenant, key_id: str, context: RequestContext) -> None:
        with self._uow() as uow:
            if not uow.api_keys.revoke(tenant.id, key_id, self._clock.now()):
                raise NotFound(f"no active API key {key_id} in {tenant.slug}")
            self._audit(uow, tenant, "api_key.revoked", context, key_id, {})
            uow.commit()

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        event: str,
        context: RequestContext,
        key_id: str,
        details: dict[str, object],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            event,
            actor=context.actor,
            subject=f"api_key:{key_id}",
            ip=context.ip[:64],
            correlation_id=context.correlation_id,
            details=details,
        )

"""Signing keys per tenant: the first one made on demand, rotation, and a cached KeySet for the hot paths.

The rules (activation delay, publication after retirement) are in sesame/oidc/keys.py; this
module loads and stores keys, audits rotations, and keeps each tenant's KeySet a few seconds per
process so that signing a token or serving the JWKS does not read the database.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import timedelta

from sesame.domain.errors import InvalidInput
from sesame.domain.tenants import Tenant
from sesame.oidc.cache import DEFAULT_TTL, TtlCache
from sesame.oidc.keys import (
    DEFAULT_ALG,
    SUPPORTED_ALGS,
    ActiveKey,
    KeyEncryption,
    KeySet,
    creation_time,
    longest_token_lifetime,
    new_signing_key,
    retire,
)
from sesame.oidc.models import KeyStatus, SigningKey
from sesame.ports import Clock, UnitOfWorkFactory
from sesame.services.audit import audit_event


class SigningKeys:
    """One per process (``Container.signing_keys``): its cache is what makes the hot paths cheap."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, secret_key: str, *, cache_ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._encryption = KeyEncryption(secret_key)
        self._cache: TtlCache[int, KeySet] = TtlCache(clock, cache_ttl)

    # -- reading ---------------------------------------------------------------------------------

    def cached_keyset(self, tenant_id: int) -> KeySet | None:
        """The tenant's KeySet if this process has it fresh (no database, for async handlers)."""
        return self._cache.get(tenant_id)

    def cached_signer(self, tenant: Tenant, alg: str = DEFAULT_ALG) -> ActiveKey | None:
        """The key that signs now, if this process has the tenant's keys fresh (no database: the
        token endpoint calls it on the event loop); None sends the caller to :meth:`signer`."""
        keys = self._cache.get(tenant.id)
        return keys.signing_key(self._clock.now(), alg) if keys is not None else None

    def keyset(self, tenant: Tenant) -> KeySet:
        """The tenant's keys (cached); the first ES256 key is made now if the tenant has none."""
        cached = self._cache.get(tenant.id)
        if cached is not None:
            return cached
        keys = self.list(tenant)
        if not any(k.alg == DEFAULT_ALG and k.status is KeyStatus.ACTIVE for k in keys):
            self.ensure_key(tenant)
            keys = self.list(tenant)
        return self._cache.put(tenant.id, KeySet(keys, self._encryption))

    def signer(self, tenant: Tenant, alg: str = DEFAULT_ALG) -> ActiveKey:
        """The key that signs now for ``alg`` (a tenant's first key of ``alg`` is made on demand)."""
        active = self.keyset(tenant).signing_key(self._clock.now(), alg)
        if active is None:
            self.ensure_key(tenant, alg)
            active = self.keyset(tenant).signing_key(self._clock.now(), alg)
        if active is None:  # pragma: no cover (ensure_key just stored one)
            raise RuntimeError(f"tenant {tenant.slug} has no {alg} key")
        return active

    def list(self, tenant: Tenant) -> Sequence[SigningKey]:
        """Every key of the tenant, newest first (from the database, not the cache)."""
        with self._uow(readonly=True) as uow:
            return uow.oidc.keys(tenant.id)

    def invalidate(self, tenant_id: int | None = None) -> None:
        self._cache.invalidate(tenant_id)

    # -- changing --------------------------------------------------------------------------------

    def ensure_key(self, tenant: Tenant, alg: str = DEFAULT_ALG) -> SigningKey:
        """The tenant's newest active key of ``alg``, made if there is none (once, even when
        several workers ask at the same moment: the tenant's keys are locked meanwhile)."""
        _check_alg(alg)
        with self._uow() as uow:
            uow.oidc.lock_keys(tenant.id)
            existing = uow.oidc.keys(tenant.id)
            active = [k for k in existing if k.alg == alg and k.status is KeyStatus.ACTIVE]
            if active:
                return active[0]
            created = creation_time(existing, self._clock.now())
            key = new_signing_key(tenant.id, alg, created, self._encryption)
            uow.oidc.add_key(key)
            audit_event(
                uow,
                self._clock,
                tenant.id,
                "signing_key.created",
                subject=f"tenant:{tenant.slug}",
                details={"kid": key.kid, "alg": alg},
            )
            uow.commit()
        self._cache.invalidate(tenant.id)
        return key

    def rotate(self, tenant: Tenant, alg: str = DEFAULT_ALG, *, actor: str = "system") -> SigningKey:
        """Publish a new ``alg`` key and retire the active ones of that algorithm.

        The new key signs after the activation delay; until then the retired one goes on
        signing, and it stays published until every token it may have signed has expired.
        """
        _check_alg(alg)
        now = self._clock.now()
        with self._uow() as uow:
            uow.oidc.lock_keys(tenant.id)
            lifetime = longest_token_lifetime(uow.oidc.clients(tenant.id))
            retired: builtins.list[str] = []
            existing = uow.oidc.keys(tenant.id)
            for key in existing:
                if key.alg == alg and key.status is KeyStatus.ACTIVE:
                    retire(key, now, lifetime)
                    uow.oidc.save_key(key)
                    retired.append(key.kid)
            new = new_signing_key(tenant.id, alg, creation_time(existing, now), self._encryption)
            uow.oidc.add_key(new)
            audit_event(
                uow,
                self._clock,
                tenant.id,
                "signing_key.rotated",
                actor=actor,
                subject=f"tenant:{tenant.slug}",
                details={"kid": new.kid, "alg": alg, "retired": retired},
            )
            uow.commit()
        self._cache.invalidate(tenant.id)
        return new


def _check_alg(alg: str) -> None:
    if alg not in SUPPORTED_ALGS:
        choices = ", ".join(SUPPORTED_ALGS)
        raise InvalidInput(f"unsupported signing algorithm {alg!r}: use one of {choices}", field="alg")

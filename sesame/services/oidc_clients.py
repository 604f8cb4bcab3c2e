"""OpenID Connect clients (partner services) as tenant data: create, list, show, disable, and a cache.

A confidential client's secret is 256 random bits, shown once at creation and stored as a keyed
hash (HMAC, purpose "client-secret"): fast to check on every token request, which a slow hash
such as argon2 would cap near 100 requests per second, and useless to whoever steals the table.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.oidc.cache import DEFAULT_TTL, TtlCache
from sesame.oidc.clients import SECRET_METHODS, InvalidClientMetadata, default_auth_method, validate_client
from sesame.oidc.models import ClientAuthMethod, ClientMetadata, GrantType, OidcClient
from sesame.ports import Clock, KeyedHasher, UnitOfWorkFactory
from sesame.services.audit import audit_event

#: The KeyedHasher purpose of client secrets.
CLIENT_SECRET_PURPOSE = "client-secret"  # noqa: S105 (a purpose name, not a secret)
#: 144 bits of client_id: unguessable, and 24 URL-safe characters.
CLIENT_ID_BYTES = 18
#: 256 bits of secret (43 URL-safe characters).
CLIENT_SECRET_BYTES = 32


def new_client_id() -> str:
    """A random, URL-safe client id that never starts with "-" (a command line would take it for
    an option: `sesame client disable -x...` fails)."""
    while True:
        candidate = secrets.token_urlsafe(CLIENT_ID_BYTES)
        if candidate[0].isalnum():
            return candidate


class OidcClients:
    """One per process (``Container.oidc_clients``): :meth:`find` is the token endpoint's cached read."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, keyed: KeyedHasher, *, cache_ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._cache: TtlCache[str, OidcClient] = TtlCache(clock, cache_ttl)

    # -- creating --------------------------------------------------------------------------------

    def create(
        self,
        tenant: Tenant,
        name: str,
        redirect_uris: Iterable[str] = (),
        *,
        public: bool = False,
        grant_types: Iterable[GrantType | str] | None = None,
        post_logout_redirect_uris: Iterable[str] = (),
        backchannel_logout_uri: str | None = None,
        scopes: Iterable[str] | None = None,
        auth_method: ClientAuthMethod | str | None = None,
        jwks: dict[str, Any] | None = None,
        skip_consent: bool = False,
        actor: str = "system",
        **metadata: Any,
    ) -> tuple[OidcClient, str | None]:
        """Register a client of ``tenant``; returns it with its secret (None when it has none).

        ``metadata`` takes the other :class:`ClientMetadata` fields (token lifetimes,
        ``require_confirmed_email``, ``id_token_signed_response_alg``...). The secret is not
        kept anywhere: the caller shows it once.
        """
        if not name.strip():
            raise InvalidInput("a client needs a name", field="name")
        method = _auth_method(auth_method, public, jwks)
        if tenant.policy.identifier is not IdentifierKind.EMAIL:
            # People of this tenant log in without an email address: there is none to confirm.
            metadata.setdefault("require_confirmed_email", False)
        client_metadata = _metadata(
            redirect_uris=tuple(redirect_uris),
            post_logout_redirect_uris=tuple(post_logout_redirect_uris),
            backchannel_logout_uri=backchannel_logout_uri,
            jwks=jwks,
            skip_consent=skip_consent,
            **({"grant_types": tuple(grant_types)} if grant_types is not None else {}),
            **({"scopes": tuple(dict.fromkeys(scopes))} if scopes is not None else {}),
            **metadata,
        )
        try:
            client_metadata = validate_client(public, method, client_metadata)
        except InvalidClientMetadata as error:
            raise InvalidInput(str(error), field=error.field) from error
        secret = secrets.token_urlsafe(CLIENT_SECRET_BYTES) if method in SECRET_METHODS else None
        now = self._clock.now()
        client = OidcClient(
            client_id=new_client_id(),
            tenant_id=tenant.id,
            name=name.strip(),
            public=public,
            token_endpoint_auth_method=method,
            metadata=client_metadata,
            created_at=now,
            updated_at=now,
            secret_hash=self._keyed.digest(CLIENT_SECRET_PURPOSE, secret) if secret is not None else None,
        )
        with self._uow() as uow:
            uow.oidc.add_client(client)
            audit_event(
                uow,
                self._clock,
                tenant.id,
                "oidc_client.created",
                actor=actor,
                subject=f"client:{client.client_id}",
                details={
                    "name": client.name,
                    "public": public,
                    "auth_method": method.value,
                    "grant_types": [g.value for g in client_metadata.grant_types],
                    "redirect_uris": list(client_metadata.redirect_uris),
                },
            )
            uow.commit()
        return client, secret

    # -- reading ---------------------------------------------------------------------------------

    def list(self, tenant: Tenant) -> Sequence[OidcClient]:
        with self._uow(readonly=True) as uow:
            return uow.oidc.clients(tenant.id)

    def show(self, tenant: Tenant, client_id: str) -> OidcClient:
        """The tenant's client ``client_id`` from the database; NotFound if it is not one of its own."""
        with self._uow(readonly=True) as uow:
            client = uow.oidc.get_client(client_id)
        if client is None or client.tenant_id != tenant.id:
            raise NotFound(f"no client {client_id} in tenant {tenant.slug}")
        return client

    def find(self, tenant_id: int, client_id: str) -> OidcClient | None:
        """The client, cached a few seconds per process (the protocol endpoints' read); None when
        unknown or of another tenant. A disabled client is returned: check ``enabled``."""
        client = self._cache.get(client_id)
        if client is None:
            with self._uow(readonly=True) as uow:
                client = uow.oidc.get_client(client_id)
            if client is None:
                return None  # misses are not cached: a client created elsewhere works at once
            self._cache.put(client_id, client)
        return client if client.tenant_id == tenant_id else None

    def cached(self, client_id: str) -> OidcClient | None:
        """The client if this process has it fresh, without the database (for async handlers)."""
        return self._cache.get(client_id)

    def verify_secret(self, client: OidcClient, secret: str) -> bool:
        """Whether ``secret`` is the client's (constant time); False for clients without one."""
        if client.secret_hash is None:
            return False
        return self._keyed.matches(CLIENT_SECRET_PURPOSE, secret, client.secret_hash)

    def invalidate(self, client_id: str | None = None) -> None:
        """Forget cached clients (one, or all) in this process; other workers follow within the TTL."""
        self._cache.invalidate(client_id)

    # -- changing --------------------------------------------------------------------------------

    def disable(self, tenant: Tenant, client_id: str, *, actor: str = "system") -> OidcClient:
        """Stop the client: no new tokens, and its grants revoked, so its tokens stop working too."""
        now = self._clock.now()
        with self._uow() as uow:
            client = uow.oidc.get_client(client_id)
            if client is None or client.tenant_id != tenant.id:
                raise NotFound(f"no client {client_id} in tenant {tenant.slug}")
            if client.disabled_at is not None:
                return client
            client.disabled_at = now
            client.updated_at = now
            uow.oidc.save_client(client)
            revoked = uow.oidc.revoke_grants(now, "client_disabled", client_id=client_id)
            audit_event(
                uow,
                self._clock,
                tenant.id,
                "oidc_client.disabled",
                actor=actor,
                subject=f"client:{client_id}",
                details={"grants_revoked": len(revoked)},
            )
            uow.commit()
        self._cache.invalidate(client_id)
        return client


def _auth_method(given: ClientAuthMethod | str | None, public: bool, jwks: dict[str, Any] | None) -> ClientAuthMethod:
    if given is None:
        return default_auth_method(public, jwks)
    try:
        return ClientAuthMethod(given)
    except ValueError as error:
        known = ", ".join(m.value for m in ClientAuthMethod)
        raise InvalidInput(f"unknown auth method {given!r}: use one of {known}", field="auth_method") from error


def _metadata(**fields: Any) -> ClientMetadata:
    try:
        return ClientMetadata(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "metadata"
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from error

"""What the token, userinfo, introspection and revocation modules share: their ports, one request,
and the issuing of a token response (RFC 6749 §5.1; OpenID Connect Core §3.1.3.3).

A grant module reads and validates first (no lock), then writes in one short transaction (the
code's use or the token's rotation, the grant re-checked, the new refresh token, the audit
event: codes, rotations, revocations go to the database, never to a cache), then signs outside
it: on SQLite a write transaction holds the database's write lock, and the rest needs none. The
code and refresh exchanges do both through the provider's prebuilt ``reads`` and ``writes``
(no unit of work: ADR 0010); the other grants through units of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sesame.domain.accounts import Account
from sesame.domain.audit import AuditEvent
from sesame.domain.tenants import Tenant
from sesame.oidc import claims as oidc_claims
from sesame.oidc.assurance import IdentityLookup, grant_identity_claims
from sesame.oidc.discovery import issuer
from sesame.oidc.issuance_audit import ClientTokenTally
from sesame.oidc.keys import DEFAULT_ALG, ActiveKey, KeySet
from sesame.oidc.models import Grant, GrantType, OidcClient, RefreshToken
from sesame.oidc.token.client_auth import ClientAuthenticator, ClientLookup
from sesame.oidc.token.errors import INVALID_GRANT, INVALID_REQUEST, OAuthError
from sesame.oidc.tokens import (
    hash_token,
    issue_access_token,
    issue_id_token,
    new_token,
    pairwise_sub,
    session_sid,
)
from sesame.ports import (
    Clock,
    Counters,
    KeyedHasher,
    ProtocolReads,
    ProtocolTransaction,
    ProtocolWrites,
    UnitOfWork,
    UnitOfWorkFactory,
    WriteTurnTaken,
)

OPENID = "openid"
BEARER = "Bearer"


class NeedsIO(Exception):
    """Raised by a cache-only :class:`Provider` (:meth:`Provider.cache_only`) when the work needs
    the database or the shared counters. Nothing was written before: the caller runs the same
    request again, in a worker thread, with the full Provider."""


def _needs_io(*_args: Any, **_kwargs: Any) -> Any:
    raise NeedsIO


class _NoCounters:
    """Counters that are never reached on the event loop (a private_key_jwt assertion's jti)."""

    increment = get = reset = set_until = expires_at = staticmethod(_needs_io)


class _BlockingReads:
    """Reads that are a network round trip away (PostgreSQL): not on the loop."""

    non_blocking = False
    access_token = refresh_token = grant = account = code = session = identity = staticmethod(_needs_io)


class _LoopWrites:
    """Write transactions that never wait: only where they block on no network (SQLite), and
    only when the write turn is free at once; otherwise :class:`NeedsIO` (nothing was done)."""

    def __init__(self, writes: ProtocolWrites) -> None:
        self._writes = writes
        self.non_blocking = writes.non_blocking

    @contextmanager
    def transaction(self, *, wait: bool = True) -> Iterator[ProtocolTransaction]:
        if not self.non_blocking:
            raise NeedsIO
        with ExitStack() as stack:
            try:
                transaction = stack.enter_context(self._writes.transaction(wait=False))
            except WriteTurnTaken as error:
                raise NeedsIO from error
            yield transaction


@dataclass(frozen=True, slots=True)
class Provider:
    """The ports and per-process caches the protocol endpoints use (one per process).

    ``find_client`` is the clients' cached read (``OidcClients.find``); ``signer`` and
    ``keyset`` are the tenant's cached keys (``SigningKeys.signer`` / ``SigningKeys.keyset``);
    ``tally`` counts client_credentials issuances for the audit log (ADR 0006);
    ``reads`` and ``writes`` are the prebuilt statements of the protocol endpoints (no unit of work).
    """

    uow: UnitOfWorkFactory
    clock: Clock
    keyed: KeyedHasher
    counters: Counters
    find_client: ClientLookup
    signer: Callable[[Tenant, str], ActiveKey]
    keyset: Callable[[Tenant], KeySet]
    base_url: str
    tally: ClientTokenTally
    reads: ProtocolReads
    writes: ProtocolWrites

    def issuer(self, tenant: Tenant) -> str:
        return issuer(self.base_url, tenant.slug)

    def cache_only(
        self,
        cached_client: Callable[[str], OidcClient | None],
        cached_signer: Callable[[Tenant, str], ActiveKey | None],
        cached_keyset: Callable[[int], KeySet | None],
    ) -> Provider:
        """This provider with every input and output IO replaced by :class:`NeedsIO`: clients and
        keys from this process's caches only, no database, no shared counters. A request it
        completes never waited on anything (the endpoints run it on the event loop)."""

        def find_client(tenant_id: int, client_id: str) -> OidcClient | None:
            client = cached_client(client_id)
            if client is None:
                raise NeedsIO
            return client if client.tenant_id == tenant_id else None

        def signer(tenant: Tenant, alg: str) -> ActiveKey:
            found = cached_signer(tenant, alg)
            if found is None:
                raise NeedsIO
            return found

        def keyset(tenant: Tenant) -> KeySet:
            found = cached_keyset(tenant.id)
            if found is None:
                raise NeedsIO
            return found

        return replace(
            self,
            uow=_needs_io,
            counters=_NoCounters(),
            find_client=find_client,
            signer=signer,
            keyset=keyset,
            reads=self.reads if self.reads.non_blocking else _BlockingReads(),
            writes=_LoopWrites(self.writes),
        )

    def authenticator(self, tenant: Tenant, *, ip: str = "", correlation_id: str = "") -> ClientAuthenticator:
        """Client authentication whose notable refusals (a wrong secret, a replayed assertion)
        go to the tenant's audit log."""

        def refused(client: OidcClient, reason: str) -> None:
            self.audit(
                tenant,
                "oidc.client_auth_refused",
                client_id=client.client_id,
                subject=f"client:{client.client_id}",
                details={"reason": reason},
                ip=ip,
                correlation_id=correlation_id,
            )

        return ClientAuthenticator(self.find_client, self.keyed, self.counters, on_refused=refused)

    def audit_event(
        self,
        tenant: Tenant,
        type: str,
        *,
        client_id: str,
        subject: str,
        details: Mapping[str, Any],
        ip: str = "",
        correlation_id: str = "",
    ) -> AuditEvent:
        """An audit event of a client's request (its actor), occurring now."""
        return AuditEvent(
            tenant_id=tenant.id,
            type=type,
            occurred_at=self.clock.now(),
            actor=f"client:{client_id}",
            subject=subject,
            ip=ip[:64],
            correlation_id=correlation_id[:64],
            details=dict(details),
        )

    def audit(
        self,
        tenant: Tenant,
        type: str,
        *,
        client_id: str,
        subject: str,
        details: Mapping[str, Any],
        ip: str = "",
        correlation_id: str = "",
        uow: UnitOfWork | None = None,
    ) -> None:
        """One audit event, in ``uow`` (committed with it) or in a transaction of its own."""
        event = self.audit_event(
            tenant, type, client_id=client_id, subject=subject, details=details, ip=ip, correlation_id=correlation_id
        )
        if uow is not None:
            uow.audit.append(event)
            return
        with self.uow() as own:
            own.audit.append(event)
            own.commit()


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One token request whose client is authenticated (RFC 6749 §3.2)."""

    tenant: Tenant
    issuer: str
    client: OidcClient
    form: Mapping[str, str]
    now: datetime
    ip: str = ""
    correlation_id: str = ""

    def param(self, name: str) -> str:
        """A required parameter (RFC 6749 §5.2 ``invalid_request`` when it is missing)."""
        value = self.form.get(name)
        if not value:
            raise OAuthError(INVALID_REQUEST, f"{name} is required")
        return value


@dataclass(frozen=True, slots=True)
class Signers:
    """The tenant's current keys for this client: access tokens always ES256, ID tokens in the
    client's ``id_token_signed_response_alg``. Fetched before the write transaction (a tenant's
    first key is made on demand, in a transaction of its own)."""

    access: ActiveKey
    id_token: ActiveKey

    @classmethod
    def of(cls, provider: Provider, request: TokenRequest) -> Signers:
        access = provider.signer(request.tenant, DEFAULT_ALG)
        alg = request.client.metadata.id_token_signed_response_alg
        return cls(access=access, id_token=access if alg == DEFAULT_ALG else provider.signer(request.tenant, alg))


@dataclass(slots=True)
class Issuance:
    """What a grant decided to issue, before signing (made inside the transaction)."""

    grant: Grant
    scope: str
    sub: str
    refresh_token: str | None = None
    id_token: bool = False
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    nonce: str | None = None


# -- checks shared by the grants -------------------------------------------------------------------


def check_grant(grant: Grant | None, request: TokenRequest) -> None:
    """``invalid_grant`` unless the grant is the client's, of this tenant, live and unexpired."""
    if (
        grant is None
        or grant.tenant_id != request.tenant.id
        or grant.client_id != request.client.client_id
        or not grant.active
        or grant.expires_at <= request.now
    ):
        raise OAuthError(INVALID_GRANT, "the grant was revoked or has expired")


def read_person(reads: ProtocolReads, request: TokenRequest, grant_id: str) -> tuple[Grant, Account]:
    """The live grant and its person, read before the write transaction (no lock held): the write
    re-checks the grant, which every change that matters here revokes (a logout, a lock, a
    password reset, a withdrawn consent).

    The person must still be allowed to log in; and for an online grant (no ``offline_access``),
    the browser session it came from must still be alive."""
    grant = reads.grant(grant_id)
    check_grant(grant, request)
    assert grant is not None
    account = reads.account(grant.account_id) if grant.account_id is not None else None
    if account is None or account.tenant_id != grant.tenant_id or not account.can_log_in:
        raise OAuthError(INVALID_GRANT, "the account can no longer log in")
    if grant.session_id is not None:
        session = reads.session(grant.session_id)
        if session is None or not session.is_active(request.now):
            raise OAuthError(INVALID_GRANT, "the login session this grant belongs to has ended")
    return grant, account


class RefreshTokenStore(Protocol):
    """Where a new refresh token is written: a unit of work's ``oidc`` or a protocol transaction."""

    def add_refresh_token(self, token: RefreshToken) -> None: ...


def add_refresh_token(store: RefreshTokenStore, grant: Grant, client: OidcClient, now: datetime) -> str | None:
    """A new refresh token for the grant, if the client may have one (RFC 6749 §1.5, §6); it
    lives the client's refresh lifetime, never past the grant's own expiry."""
    if GrantType.REFRESH_TOKEN not in client.metadata.grant_types:
        return None
    token = new_token()
    lifetime = timedelta(seconds=client.metadata.refresh_token_lifetime_seconds)
    store.add_refresh_token(
        RefreshToken(
            token_hash=hash_token(token),
            grant_id=grant.id,
            client_id=client.client_id,
            created_at=now,
            expires_at=min(now + lifetime, grant.expires_at),
        )
    )
    return token


def person_issuance(
    provider: Provider,
    request: TokenRequest,
    grant: Grant,
    account: Account,
    *,
    scope: str,
    nonce: str | None,
    identity: Mapping[str, Any] | None = None,
) -> Issuance:
    """Tokens for a person's grant: an ID token when ``openid`` was granted, with the claims the
    ``claims`` parameter asked for it (the identity's from ``identity``: :func:`id_token_identity`).
    Decided before the write transaction (no database); the refresh token is added in it
    (:func:`add_refresh_token`)."""
    id_token = OPENID in scope.split(" ")
    names = oidc_claims.requested_claims(scope.split(" "), grant.claims, "id_token") if id_token else frozenset()
    assert grant.account_id is not None
    return Issuance(
        grant=grant,
        scope=scope,
        sub=pairwise_sub(provider.keyed, grant.tenant_id, grant.client_id, grant.account_id),
        id_token=id_token,
        id_token_claims=oidc_claims.release(names, account, identity=identity),
        nonce=nonce,
    )


def id_token_identity(identity_of: IdentityLookup, grant: Grant, scope: str) -> dict[str, Any] | None:
    """The verified identity's claims the grant's ID token may carry, read only when its
    ``claims`` parameter asks for one (:func:`sesame.oidc.assurance.grant_identity_claims`)."""
    if OPENID not in scope.split(" ") or not grant.claims.get("id_token"):
        return None
    names = oidc_claims.requested_claims(scope.split(" "), grant.claims, "id_token")
    return grant_identity_claims(identity_of, grant, names)


def issuance_event(provider: Provider, request: TokenRequest, issuance: Issuance, grant_type: GrantType) -> AuditEvent:
    """The ``oidc.token_issued`` audit event, for the grant's transaction (ids and kinds, never a token)."""
    grant = issuance.grant
    return provider.audit_event(
        request.tenant,
        "oidc.token_issued",
        client_id=request.client.client_id,
        subject=f"account:{grant.account_id}" if grant.account_id is not None else f"client:{grant.client_id}",
        details={
            "grant_type": grant_type.value,
            "grant_id": grant.id,
            "scope": issuance.scope,
            "refresh_token": issuance.refresh_token is not None,
            "id_token": issuance.id_token,
        },
        ip=request.ip,
        correlation_id=request.correlation_id,
    )


# -- the response ------------------------------------------------------------------------------------


def token_response(provider: Provider, request: TokenRequest, issuance: Issuance, signers: Signers) -> dict[str, Any]:
    """RFC 6749 §5.1 (and OpenID Connect Core §3.1.3.3): sign the access token (and the ID token,
    whose ``at_hash`` binds it), after the transaction committed."""
    client, grant, now = request.client, issuance.grant, request.now
    remaining = int((grant.expires_at - now).total_seconds())
    lifetime = max(1, min(client.metadata.access_token_lifetime_seconds, remaining))
    access = issue_access_token(
        signers.access,
        issuer=request.issuer,
        grant=grant,
        sub=issuance.sub,
        scope=issuance.scope,
        now=now,
        lifetime_seconds=lifetime,
    )
    body: dict[str, Any] = {
        "access_token": access.token,
        "token_type": BEARER,
        "expires_in": lifetime,
        "scope": issuance.scope,
    }
    if issuance.refresh_token is not None:
        body["refresh_token"] = issuance.refresh_token
    if issuance.id_token:
        body["id_token"] = issue_id_token(
            signers.id_token,
            issuer=request.issuer,
            grant=grant,
            sub=issuance.sub,
            now=now,
            lifetime_seconds=client.metadata.id_token_lifetime_seconds,
            access_token=access.token,
            nonce=issuance.nonce,
            sid=session_sid(provider.keyed, grant.session_id) if grant.session_id else None,
            claims=issuance.id_token_claims,
        )
    return body

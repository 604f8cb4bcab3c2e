"""Token revocation (RFC 7009): a client says it no longer needs a token.

For authenticated clients only (§2.1), each revoking only its own tokens. An unknown, invalid or
expired token is answered 200 all the same (§2.2: there is nothing left to revoke). Revoking a
refresh token revokes its grant, and with it every token of the grant (§2.1: "SHOULD also
invalidate all access tokens based on the same authorization grant"); revoking an access token
puts its ``jti`` on the revoked list until it expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sesame.domain.tenants import Tenant
from sesame.oidc.models import ClientAuthMethod, OidcClient
from sesame.oidc.token.context import Provider
from sesame.oidc.token.errors import INVALID_REQUEST, OAuthError, invalid_client
from sesame.oidc.tokens import InvalidAccessToken, decode_access_token, hash_token, looks_like_jwt
from sesame.ports import UnitOfWork

REVOCATION_PATH = "/revoke"
REVOKE_REASON = "revoked_by_client"
MAX_OPAQUE_TOKEN_LENGTH = 128


def revoke(
    provider: Provider,
    tenant: Tenant,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str = "",
    correlation_id: str = "",
) -> None:
    """RFC 7009 §2.1; returns when the answer is 200, raises ``OAuthError`` otherwise."""
    now, issuer = provider.clock.now(), provider.issuer(tenant)
    client = provider.authenticator(tenant, ip=ip, correlation_id=correlation_id).authenticate(
        tenant, form, authorization, now=now, audiences=(issuer + REVOCATION_PATH, issuer + "/token", issuer)
    )
    if client.token_endpoint_auth_method is ClientAuthMethod.NONE:
        raise invalid_client("a public client cannot use this endpoint: it has no credentials")
    token = form.get("token")
    if not token:
        raise OAuthError(INVALID_REQUEST, "token is required")
    audit = {"ip": ip, "correlation_id": correlation_id}
    # token_type_hint is only a hint (§2.1): the token's shape says which kind it is.
    if looks_like_jwt(token):
        _revoke_access_token(provider, tenant, client, token, now, audit)
    else:
        _revoke_refresh_token(provider, tenant, client, token, now, audit)


def _not_yours() -> OAuthError:
    # §2.1: "the authorization server [...] verifies whether the token was issued to the client
    # making the revocation request. If this validation fails, the request is refused".
    return OAuthError(INVALID_REQUEST, "this token was not issued to this client")


def _revoke_access_token(
    provider: Provider, tenant: Tenant, client: OidcClient, token: str, now: datetime, audit: Mapping[str, str]
) -> None:
    try:
        claims = decode_access_token(token, provider.keyset(tenant), issuer=provider.issuer(tenant), now=now)
    except InvalidAccessToken:
        return  # not ours, tampered or expired: nothing to revoke
    if claims["client_id"] != client.client_id:
        raise _not_yours()
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    with provider.uow() as uow:
        uow.oidc.revoke_access_token(str(claims["jti"]), client.client_id, expires_at)
        details: dict[str, Any] = {"kind": "access_token", "grant_id": claims.get("gid")}
        _audit(provider, uow, tenant, client, details, audit)
        uow.commit()


def _revoke_refresh_token(
    provider: Provider, tenant: Tenant, client: OidcClient, token: str, now: datetime, audit: Mapping[str, str]
) -> None:
    if len(token) > MAX_OPAQUE_TOKEN_LENGTH:
        return
    with provider.uow() as uow:
        found = uow.oidc.get_refresh_token(hash_token(token))
        if found is None:
            return
        if found.client_id != client.client_id:
            raise _not_yours()
        revoked = uow.oidc.revoke_grant(found.grant_id, now, REVOKE_REASON)
        details = {"kind": "refresh_token", "grant_id": found.grant_id, "grant_revoked": revoked}
        _audit(provider, uow, tenant, client, details, audit)
        uow.commit()


def _audit(
    provider: Provider,
    uow: UnitOfWork,
    tenant: Tenant,
    client: OidcClient,
    details: Mapping[str, Any],
    audit: Mapping[str, str],
) -> None:
    provider.audit(
        tenant,
        "oidc.token_revoked",
        client_id=client.client_id,
        subject=f"client:{client.client_id}",
        details=details,
        ip=audit["ip"],
        correlation_id=audit["correlation_id"],
        uow=uow,
    )

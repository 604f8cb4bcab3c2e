"""Token introspection (RFC 7662): is this token active, and what does it say?

For authenticated clients only (§2.1), and each client sees only its own tokens: another
client's token is answered ``{"active": false}`` like an unknown one (§2.2), so introspection
cannot be used to probe tokens. Access tokens (JWTs, checked for signature, expiry, their grant
and their own revocation) and refresh tokens (opaque, looked up by hash) are both understood.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sesame.domain.tenants import Tenant
from sesame.oidc.models import ClientAuthMethod, Grant, OidcClient, RefreshToken
from sesame.oidc.token.context import BEARER, Provider
from sesame.oidc.token.errors import INVALID_REQUEST, OAuthError, invalid_client
from sesame.oidc.tokens import (
    InvalidAccessToken,
    decode_access_token,
    epoch,
    hash_token,
    live_access_token,
    looks_like_jwt,
    pairwise_sub,
)

INTROSPECTION_PATH = "/introspect"
INACTIVE: dict[str, Any] = {"active": False}
MAX_OPAQUE_TOKEN_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Presented:
    """An introspection request once the work that needs no database is done: the client
    authenticated, an access token's signature and expiry checked. ``answer`` is set when that
    already decided (an invalid token, another client's); else :func:`answer` reads the rest."""

    client: OidcClient
    token: str
    claims: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None


def introspect(
    provider: Provider,
    tenant: Tenant,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str = "",
    correlation_id: str = "",
) -> dict[str, Any]:
    """RFC 7662 §2.2: the introspection response for the ``token`` parameter."""
    return answer(
        provider, tenant, present(provider, tenant, form, authorization, ip=ip, correlation_id=correlation_id)
    )


def present(
    provider: Provider,
    tenant: Tenant,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str = "",
    correlation_id: str = "",
) -> Presented:
    """Authenticate the client, and check an access token's signature and expiry (with a
    cache-only provider, the endpoint runs this on the event loop)."""
    now, issuer = provider.clock.now(), provider.issuer(tenant)
    client = provider.authenticator(tenant, ip=ip, correlation_id=correlation_id).authenticate(
        tenant, form, authorization, now=now, audiences=(issuer + INTROSPECTION_PATH, issuer + "/token", issuer)
    )
    if client.token_endpoint_auth_method is ClientAuthMethod.NONE:
        raise invalid_client("a public client cannot use this endpoint: it has no credentials")
    token = form.get("token")
    if not token:
        raise OAuthError(INVALID_REQUEST, "token is required")
    # token_type_hint is only a hint (§2.1): the token's shape says which kind it is.
    if not looks_like_jwt(token):
        return Presented(client, token)
    try:
        claims = decode_access_token(token, provider.keyset(tenant), issuer=issuer, now=now)
    except InvalidAccessToken:
        return Presented(client, token, answer=INACTIVE)
    if claims["client_id"] != client.client_id:
        return Presented(client, token, answer=INACTIVE)
    return Presented(client, token, claims=claims)


def answer(provider: Provider, tenant: Tenant, presented: Presented) -> dict[str, Any]:
    """The response, after what only the database knows (revocations, grants, accounts)."""
    if presented.answer is not None:
        return presented.answer
    now = provider.clock.now()
    if presented.claims is None:
        return _refresh_token(provider, tenant, presented.client, presented.token, now)
    claims = presented.claims
    try:
        live_access_token(provider.reads, claims, now)
    except InvalidAccessToken:
        return INACTIVE
    body = {"active": True, "token_type": BEARER}
    for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "auth_time", "acr"):
        if name in claims:
            body[name] = claims[name]
    return body


def _refresh_token(provider: Provider, tenant: Tenant, client: OidcClient, token: str, now: datetime) -> dict[str, Any]:
    if len(token) > MAX_OPAQUE_TOKEN_LENGTH:
        return INACTIVE
    found = provider.reads.refresh_token(hash_token(token))
    if found is None or found.client_id != client.client_id:
        return INACTIVE
    grant = _live_grant_of(provider, found, now)
    if grant is None:
        return INACTIVE
    body: dict[str, Any] = {
        "active": True,
        "scope": grant.scope,
        "client_id": grant.client_id,
        "iss": provider.issuer(tenant),
        "exp": epoch(found.expires_at),
        "iat": epoch(found.created_at),
    }
    if grant.account_id is not None:
        body["sub"] = pairwise_sub(provider.keyed, grant.tenant_id, grant.client_id, grant.account_id)
    return body


def _live_grant_of(provider: Provider, token: RefreshToken, now: datetime) -> Grant | None:
    """The grant of a refresh token usable now: not rotated nor expired, its grant live, its
    account able to log in, and for an online grant its browser session alive too."""
    if token.rotated_at is not None or token.expires_at <= now:
        return None
    grant = provider.reads.grant(token.grant_id)
    if grant is None or not grant.active or grant.expires_at <= now:
        return None
    if grant.account_id is not None:
        account = provider.reads.account(grant.account_id)
        if account is None or not account.can_log_in:
            return None
    if grant.session_id is not None:  # an online grant (the session's rules live with the sessions)
        with provider.uow(readonly=True) as uow:
            session = uow.accounts.get_session(grant.session_id)
        if session is None or not session.is_active(now):
            return None
    return grant

"""The client_credentials grant: a confidential client acting on its own behalf (RFC 6749 §4.4).

An access token only (§4.4.3: "A refresh token SHOULD NOT be included"), no ID token (there is no
person). Its ``sub`` is the client_id (RFC 9068 §2.2). Scopes about a person are refused.

Nothing is written per token (ADR 0006): no grant row stands behind it, since there is no
person's authorisation to remember. The token is checked by signature, expiry, its client still
enabled and its ``jti`` not revoked (RFC 7009 revocation writes it down); disabling the client
ends every token it holds. Issuances are audited as one event per client and minute
(:mod:`sesame.oidc.issuance_audit`); refused client authentications each have their own event.
"""

from __future__ import annotations

from typing import Any

from sesame.oidc.claims import SCOPE_CLAIMS
from sesame.oidc.keys import DEFAULT_ALG
from sesame.oidc.models import OidcClient
from sesame.oidc.token.context import BEARER, Provider, TokenRequest
from sesame.oidc.token.errors import INVALID_SCOPE, UNAUTHORIZED_CLIENT, OAuthError
from sesame.oidc.tokens import issue_client_access_token, scopes_of

#: Scopes that ask for a person's data or session: meaningless without a person.
PERSON_SCOPES: frozenset[str] = frozenset({"openid", "offline_access", *SCOPE_CLAIMS})


def exchange(provider: Provider, request: TokenRequest) -> dict[str, Any]:
    """RFC 6749 §4.4.2: an optional ``scope``; the client is already authenticated."""
    client = request.client
    if client.public:  # §4.4: "MUST only be used by confidential clients"
        raise OAuthError(UNAUTHORIZED_CLIENT, "a public client cannot use client_credentials")
    scope = granted_scope(client, request.form.get("scope"))
    lifetime = client.metadata.access_token_lifetime_seconds
    access = issue_client_access_token(
        provider.signer(request.tenant, DEFAULT_ALG),
        issuer=request.issuer,
        client_id=client.client_id,
        scope=scope,
        now=request.now,
        lifetime_seconds=lifetime,
    )
    provider.tally.record(
        request.tenant.id, client.client_id, scope, ip=request.ip, correlation_id=request.correlation_id
    )
    return {"access_token": access.token, "token_type": BEARER, "expires_in": lifetime, "scope": scope}


def granted_scope(client: OidcClient, requested: str | None) -> str:
    """RFC 6749 §3.3: what the client asked for, if it registered it and it is not about a person;
    nothing asked, the client's registered scopes that fit."""
    allowed = [s for s in client.metadata.scopes if s not in PERSON_SCOPES]
    if requested is None:
        return " ".join(allowed)
    asked = scopes_of(requested)
    refused = sorted(set(asked) - set(allowed))
    if refused:
        raise OAuthError(INVALID_SCOPE, f"scope not allowed for client_credentials: {' '.join(refused)}")
    return " ".join(asked)

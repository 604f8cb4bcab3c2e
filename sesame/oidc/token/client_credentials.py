"""The client_credentials grant: a confidential client acting on its own behalf (RFC 6749 §4.4).

An access token only (§4.4.3: "A refresh token SHOULD NOT be included"), no ID token (there is no
person), and a grant with no account, so that the client's tokens can be revoked like any other.
Its ``sub`` is the client_id (RFC 9068 §2.2). Scopes about a person are refused.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sesame.oidc.claims import SCOPE_CLAIMS
from sesame.oidc.models import Grant, GrantType, OidcClient
from sesame.oidc.token.context import Issuance, Provider, Signers, TokenRequest, record_issuance, token_response
from sesame.oidc.token.errors import INVALID_SCOPE, UNAUTHORIZED_CLIENT, OAuthError
from sesame.oidc.tokens import scopes_of

GRANT_ID_BYTES = 24
#: Scopes that ask for a person's data or session: meaningless without a person.
PERSON_SCOPES: frozenset[str] = frozenset({"openid", "offline_access", *SCOPE_CLAIMS})


def exchange(provider: Provider, request: TokenRequest) -> dict[str, Any]:
    """RFC 6749 §4.4.2: an optional ``scope``; the client is already authenticated."""
    client = request.client
    if client.public:  # §4.4: "MUST only be used by confidential clients"
        raise OAuthError(UNAUTHORIZED_CLIENT, "a public client cannot use client_credentials")
    scope = granted_scope(client, request.form.get("scope"))
    signers = Signers.of(provider, request)
    lifetime = timedelta(seconds=client.metadata.access_token_lifetime_seconds)
    grant = Grant(
        id=secrets.token_urlsafe(GRANT_ID_BYTES),
        tenant_id=request.tenant.id,
        client_id=client.client_id,
        scope=scope,
        created_at=request.now,
        expires_at=request.now + lifetime,
    )
    issuance = Issuance(grant=grant, scope=scope, sub=client.client_id)
    with provider.uow() as uow:
        uow.oidc.add_grant(grant)
        record_issuance(provider, uow, request, issuance, GrantType.CLIENT_CREDENTIALS)
        uow.commit()
    return token_response(provider, request, issuance, signers)


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

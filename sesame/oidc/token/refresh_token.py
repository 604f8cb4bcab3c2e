"""The refresh_token grant, with rotation and reuse detection (RFC 6749 §6; RFC 9700 §4.14.2).

Every use returns a new refresh token and retires the one presented. The database rotates it in
one conditional UPDATE, so among parallel uses exactly one wins; presenting a retired token again
means two parties hold it (one of them a thief), so the whole grant (the token "family") is
revoked: every refresh and access token of it stops working. A grant without ``offline_access``
also dies with the browser session it came from (OpenID Connect Core §11).
"""

from __future__ import annotations

from typing import Any

from sesame.oidc.models import GrantType, RefreshToken
from sesame.oidc.token.context import (
    Issuance,
    Provider,
    Signers,
    TokenRequest,
    add_refresh_token,
    check_grant,
    id_token_identity,
    issuance_event,
    person_issuance,
    read_person,
    token_response,
)
from sesame.oidc.token.errors import INVALID_GRANT, INVALID_SCOPE, OAuthError
from sesame.oidc.tokens import hash_token, scopes_of
from sesame.ports import ProtocolTransaction

MAX_REFRESH_TOKEN_LENGTH = 128
REUSE_REASON = "refresh_token_reused"


def exchange(provider: Provider, request: TokenRequest) -> dict[str, Any]:
    """RFC 6749 §6: ``refresh_token`` and an optional narrower ``scope``."""
    value = request.param("refresh_token")
    if len(value) > MAX_REFRESH_TOKEN_LENGTH:
        raise OAuthError(INVALID_GRANT, "unknown, expired or revoked refresh token")
    token_hash = hash_token(value)
    signers = Signers.of(provider, request)
    issuance: Issuance | None = None
    reads = provider.reads  # every check that needs no write, no lock held
    token = reads.refresh_token(token_hash)
    # another client's token: refused, it is not this client's to spend (nor to revoke)
    if token is None or token.client_id != request.client.client_id:
        raise OAuthError(INVALID_GRANT, "unknown, expired or revoked refresh token")
    if token.rotated_at is None:
        if token.expires_at <= request.now:
            raise OAuthError(INVALID_GRANT, "unknown, expired or revoked refresh token")
        grant, account = read_person(reads, request, token.grant_id)
        scope = narrowed_scope(grant.scope, request.form.get("scope"))
        # OpenID Connect Core §12.2: a refreshed ID token has no nonce (it answers no new request).
        identity = id_token_identity(reads.identity, grant, scope)
        issuance = person_issuance(provider, request, grant, account, scope=scope, nonce=None, identity=identity)
    with provider.writes.transaction() as tx:
        rotated = tx.rotate_refresh_token(token_hash, request.now)
        if rotated is None:
            raise OAuthError(INVALID_GRANT, "unknown, expired or revoked refresh token")
        if rotated.rotated_at is not None or issuance is None:  # exchanged before, or in parallel
            _revoke_family(provider, tx, request, rotated)
            tx.commit()
            raise OAuthError(INVALID_GRANT, "unknown, expired or revoked refresh token")
        check_grant(tx.grant(token.grant_id), request)  # not revoked since it was read
        issuance.refresh_token = add_refresh_token(tx, issuance.grant, request.client, request.now)
        tx.append_audit(issuance_event(provider, request, issuance, GrantType.REFRESH_TOKEN))
        tx.commit()
    return token_response(provider, request, issuance, signers)


def narrowed_scope(granted: str, requested: str | None) -> str:
    """RFC 6749 §6: the requested scope "MUST NOT include any scope not originally granted";
    omitted, it is the grant's. The new refresh token keeps the grant's full scope."""
    if requested is None:
        return granted
    granted_scopes = scopes_of(granted)
    asked = set(scopes_of(requested))
    if not asked:
        raise OAuthError(INVALID_SCOPE, "scope is empty")
    wider = asked - set(granted_scopes)
    if wider:
        raise OAuthError(INVALID_SCOPE, f"scope not granted: {' '.join(sorted(wider))}")
    return " ".join(s for s in granted_scopes if s in asked)


def _revoke_family(provider: Provider, tx: ProtocolTransaction, request: TokenRequest, token: RefreshToken) -> None:
    """RFC 9700 §4.14.2: a rotated refresh token presented again revokes the grant it belongs to."""
    revoked = tx.revoke_grant(token.grant_id, request.now, REUSE_REASON)
    event = provider.audit_event(
        request.tenant,
        "oidc.refresh_token_reused",
        client_id=request.client.client_id,
        subject=f"client:{token.client_id}",
        details={"grant_id": token.grant_id, "grant_revoked": revoked},
        ip=request.ip,
        correlation_id=request.correlation_id,
    )
    tx.append_audit(event)

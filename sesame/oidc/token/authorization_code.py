"""The authorization_code grant: a code exchanged for tokens (RFC 6749 §4.1.3, §4.1.4).

With PKCE (RFC 7636 §4.6, :mod:`sesame.oidc.token.pkce`) and OpenID Connect Core §3.1.3. A code
lives 60 seconds and is used once: the database marks it used in one conditional UPDATE, so among
parallel requests exactly one wins; any later attempt is refused AND revokes the grant, with every
token the first use produced (RFC 6749 §4.1.2: the code has leaked).

Everything that can be checked without writing is checked first, outside the write transaction
(the code, the client, PKCE, the grant and its person); the transaction then only uses the code,
re-checks the grant, adds the refresh token and the audit event.
"""

from __future__ import annotations

from typing import Any

from sesame.oidc.models import AuthorizationCode, GrantType
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
from sesame.oidc.token.errors import INVALID_GRANT, OAuthError
from sesame.oidc.token.pkce import check_code_verifier
from sesame.oidc.tokens import hash_token
from sesame.ports import ProtocolTransaction

MAX_CODE_LENGTH = 128
REPLAY_REASON = "code_replayed"


def exchange(provider: Provider, request: TokenRequest) -> dict[str, Any]:
    """RFC 6749 §4.1.3: ``code``, ``redirect_uri`` (exactly as in the authorization request),
    and the PKCE ``code_verifier``; the client is already authenticated."""
    code_value = request.param("code")
    redirect_uri = request.param("redirect_uri")
    verifier = request.form.get("code_verifier")
    if len(code_value) > MAX_CODE_LENGTH:
        raise OAuthError(INVALID_GRANT, "unknown, expired or used code")
    code_hash = hash_token(code_value)
    signers = Signers.of(provider, request)
    issuance: Issuance | None = None
    reads = provider.reads  # every check that needs no write, no lock held
    code = reads.code(code_hash)
    if code is None:
        raise OAuthError(INVALID_GRANT, "unknown, expired or used code")
    if code.used_at is None:
        # Refused here, the code is not used: it stays usable by its rightful client.
        _check_code(code, request, redirect_uri)
        check_code_verifier(code, verifier, request.client)
        grant, account = read_person(reads, request, code.grant_id)
        identity = id_token_identity(reads.identity, grant, grant.scope)
        issuance = person_issuance(
            provider, request, grant, account, scope=grant.scope, nonce=grant.nonce, identity=identity
        )
    with provider.writes.transaction() as tx:
        used = tx.use_code(code_hash, request.now)
        if used is None:
            raise OAuthError(INVALID_GRANT, "unknown, expired or used code")
        if used.used_at is not None or issuance is None:  # used before, or by a parallel request
            _revoke_after_replay(provider, tx, request, used)
            tx.commit()
            raise OAuthError(INVALID_GRANT, "unknown, expired or used code")
        check_grant(tx.grant(code.grant_id), request)  # not revoked since it was read
        issuance.refresh_token = add_refresh_token(tx, issuance.grant, request.client, request.now)
        tx.append_audit(issuance_event(provider, request, issuance, GrantType.AUTHORIZATION_CODE))
        tx.commit()
    return token_response(provider, request, issuance, signers)


def _check_code(code: AuthorizationCode, request: TokenRequest, redirect_uri: str) -> None:
    """RFC 6749 §4.1.3: issued to this client, not expired, and the very same redirect_uri."""
    # the code was issued to the authenticated client
    if code.client_id != request.client.client_id:
        raise OAuthError(INVALID_GRANT, "unknown, expired or used code")
    # a code lives 60 seconds (RFC 6749 §4.1.2: "a maximum authorization code lifetime of 10 minutes")
    if code.expires_at <= request.now:
        raise OAuthError(INVALID_GRANT, "unknown, expired or used code")
    # redirect_uri is compared as an exact string (RFC 9700 §2.1)
    if code.redirect_uri != redirect_uri:
        raise OAuthError(INVALID_GRANT, "redirect_uri differs from the authorization request's")


def _revoke_after_replay(
    provider: Provider, tx: ProtocolTransaction, request: TokenRequest, code: AuthorizationCode
) -> None:
    """RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
    MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based on
    that authorization code"."""
    revoked = tx.revoke_grant(code.grant_id, request.now, REPLAY_REASON)
    event = provider.audit_event(
        request.tenant,
        "oidc.code_replayed",
        client_id=request.client.client_id,
        subject=f"client:{code.client_id}",
        details={"grant_id": code.grant_id, "grant_revoked": revoked},
        ip=request.ip,
        correlation_id=request.correlation_id,
    )
    tx.append_audit(event)

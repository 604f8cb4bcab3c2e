"""The CIBA grant, poll mode: ``grant_type=urn:openid:params:grant-type:ciba`` with an
``auth_req_id`` (OpenID Connect CIBA Core 1.0 §10.1, §11).

The client polls until the person answered in the phone app: ``authorization_pending`` while
the request waits, ``slow_down`` for a poll sooner than the interval after the previous one,
``access_denied`` when the person refused (or the account may not log in: locked, suspended),
``expired_token`` when nobody answered in time (an unknown number included: nobody could),
``invalid_grant`` for an ``auth_req_id`` that is not this client's or was used already.

An approval is used once (:meth:`ApprovalService.consume`, which checks the account again as
the password login does): in that same transaction the grant is made, the refresh token added
(only with ``offline_access``: no browser session stands behind the grant), and the issuance
audited; the tokens are then signed as for the other grants (:mod:`sesame.oidc.token.context`).
The ID token's ``acr`` is ``eidas2`` when the account's verified identity has its app activated,
its ``amr`` the app's (``pop``, ``pin``, ``mfa``). A request for a level the approval did not
reach, or an account whose email address is not confirmed when the client requires one (as the
authorization endpoint requires it), ends with ``access_denied``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sesame.domain.accounts import Account
from sesame.domain.devices import ApprovalKind, ApprovalRequest, ApprovalStatus
from sesame.oidc import assurance
from sesame.oidc.ciba import (
    ACCESS_DENIED,
    AUTH_REQ_ID_MAX,
    AUTHORIZATION_PENDING,
    EXPIRED_TOKEN,
    POLL_INTERVAL_SECONDS,
    SLOW_DOWN,
    allowed,
    approval_service,
)
from sesame.oidc.models import Grant, GrantType, OidcClient
from sesame.oidc.token.context import (
    Issuance,
    Provider,
    Signers,
    TokenRequest,
    add_refresh_token,
    id_token_identity,
    issuance_event,
    person_issuance,
    token_response,
)
from sesame.oidc.token.errors import INVALID_GRANT, UNAUTHORIZED_CLIENT, OAuthError
from sesame.oidc.tokens import scopes_of
from sesame.ports import UnitOfWork
from sesame.services.approvals import ConsumeStatus
from sesame.services.context import RequestContext

#: Bytes of a grant id (as the authorization flow draws them).
GRANT_ID_BYTES = 24
UNKNOWN = "unknown or used auth_req_id"

#: What each outcome of a consumption answers (CONSUMED issues the tokens).
_CONSUME_ERRORS: dict[ConsumeStatus, tuple[str, str]] = {
    ConsumeStatus.PENDING: (AUTHORIZATION_PENDING, "the person has not answered yet"),
    ConsumeStatus.DENIED: (ACCESS_DENIED, "the person refused the request"),
    ConsumeStatus.EXPIRED: (EXPIRED_TOKEN, "the request has expired: start a new one"),
    ConsumeStatus.USED: (INVALID_GRANT, UNKNOWN),
    ConsumeStatus.REFUSED: (ACCESS_DENIED, "the account may not log in now"),
    ConsumeStatus.NOT_FOUND: (INVALID_GRANT, UNKNOWN),
}


def poll_key(request: ApprovalRequest) -> str:
    """The counter of one request's polls (one per interval is allowed)."""
    return f"ciba-poll:{request.id}"


def exchange(provider: Provider, request: TokenRequest) -> dict[str, Any]:
    """CIBA §10.1: ``auth_req_id``; the client is authenticated (and registered for the grant)."""
    client = request.client
    if not allowed(client):
        raise OAuthError(UNAUTHORIZED_CLIENT, "this client may not use backchannel authentication (CIBA)")
    auth_req_id = request.param("auth_req_id")
    if len(auth_req_id) > AUTH_REQ_ID_MAX:
        raise OAuthError(INVALID_GRANT, UNKNOWN)
    approvals = approval_service(provider)
    found = approvals.poll_by_handle(request.tenant, auth_req_id)
    # another client's auth_req_id is refused like an unknown one: it is not this client's to use
    if found is None or found.kind is not ApprovalKind.CIBA or found.client_id != client.client_id:
        raise OAuthError(INVALID_GRANT, UNKNOWN)
    status = found.status_at(request.now)
    if status is ApprovalStatus.PENDING:
        polls = provider.counters.increment(poll_key(found), POLL_INTERVAL_SECONDS, request.now)
        if polls > 1:
            raise OAuthError(SLOW_DOWN, f"poll at most every {POLL_INTERVAL_SECONDS} seconds")
        raise OAuthError(AUTHORIZATION_PENDING, "the person has not answered yet")
    if status is not ApprovalStatus.APPROVED or found.consumed_at is not None:
        consume_status = {ApprovalStatus.DENIED: ConsumeStatus.DENIED, ApprovalStatus.EXPIRED: ConsumeStatus.EXPIRED}
        error, description = _CONSUME_ERRORS[consume_status.get(status, ConsumeStatus.USED)]
        raise OAuthError(error, description)
    signers = Signers.of(provider, request)  # before the write transaction (a first key is made in its own)
    context = RequestContext(ip=request.ip, correlation_id=request.correlation_id, actor=f"client:{client.client_id}")
    required = found.acr_requested

    def issue(uow: UnitOfWork, account: Account, acr: str, amr: tuple[str, ...]) -> Issuance | str:
        # a refusal uses the approval up all the same: the answer is access_denied
        if required is not None and not assurance.satisfies(acr, required):
            return f"the authentication did not reach the level {required}"
        if client.metadata.require_confirmed_email and not account.email_verified:
            return "this client takes only accounts with a confirmed email address"
        grant = _grant(client, found, account, acr, amr, request.now)
        uow.oidc.add_grant(grant)
        issuance = person_issuance(
            provider,
            request,
            grant,
            account,
            scope=grant.scope,
            nonce=None,
            identity=id_token_identity(uow.identities.of_account, grant, grant.scope),
        )
        if _offline(grant.scope):
            issuance.refresh_token = add_refresh_token(uow.oidc, grant, client, request.now)
        uow.audit.append(issuance_event(provider, request, issuance, GrantType.CIBA))
        return issuance

    used = approvals.consume(request.tenant, found, context, issue)
    if used.status is not ConsumeStatus.CONSUMED:
        error, description = _CONSUME_ERRORS[used.status]
        raise OAuthError(error, description)
    if not isinstance(used.result, Issuance):
        raise OAuthError(ACCESS_DENIED, str(used.result))
    return token_response(provider, request, used.result, signers)


def _grant(
    client: OidcClient, found: ApprovalRequest, account: Account, acr: str, amr: tuple[str, ...], now: datetime
) -> Grant:
    """What the person authorised by approving: the request's scope, with how they did it.

    No browser session: without ``offline_access`` the grant lives as long as its first tokens;
    with it, as long as the client's refresh tokens."""
    metadata = client.metadata
    tokens = max(metadata.access_token_lifetime_seconds, metadata.id_token_lifetime_seconds)
    lifetime = max(tokens, metadata.refresh_token_lifetime_seconds) if _offline(found.scope) else tokens
    return Grant(
        id=secrets.token_urlsafe(GRANT_ID_BYTES),
        tenant_id=client.tenant_id,
        client_id=client.client_id,
        scope=found.scope,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime),
        account_id=account.id,
        session_id=None,
        acr=acr,
        amr=list(amr),
        auth_time=found.decided_at or now,
    )


def _offline(scope: str) -> bool:
    """offline_access granted: a refresh token (OpenID Connect Core §11)."""
    return "offline_access" in scopes_of(scope)

"""The UserInfo endpoint (OpenID Connect Core §5.3): claims about the person behind an access token.

The token comes as a Bearer token (RFC 6750 §2.1 header, or §2.2 form body on POST; never both,
never in the query string). It must be one of ours, unexpired, with a live grant and not revoked;
otherwise the answer is 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (§5.3.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sesame.domain.tenants import Tenant
from sesame.oidc import claims as oidc_claims
from sesame.oidc.assurance import grant_identity_claims
from sesame.oidc.models import Grant
from sesame.oidc.token.context import OPENID, Provider
from sesame.oidc.token.errors import INSUFFICIENT_SCOPE, INVALID_REQUEST, INVALID_TOKEN, bearer_error
from sesame.oidc.tokens import InvalidAccessToken, decode_access_token, live_access_token, scopes_of

BEARER_PREFIX = "bearer "


def presented_token(authorization: str | None, form: Mapping[str, str] | None, *, realm: str) -> str:
    """RFC 6750 §2: the one access token of the request (header, or form field on POST)."""
    from_header = None
    if authorization is not None:
        if authorization[: len(BEARER_PREFIX)].lower() != BEARER_PREFIX:
            raise bearer_error(INVALID_REQUEST, "use the Bearer authentication scheme", realm=realm)
        from_header = authorization[len(BEARER_PREFIX) :].strip()
    from_form = form.get("access_token") if form else None
    if from_header and from_form:
        # §3.1: "utilizes more than one method for including an access token"
        raise bearer_error(INVALID_REQUEST, "send the access token once", realm=realm)
    token = from_header or from_form
    if not token:
        raise bearer_error(None, "an access token is required", realm=realm)
    return token


def userinfo(provider: Provider, tenant: Tenant, token: str) -> dict[str, Any]:
    """§5.3.2: ``sub`` and the claims the token's scope (§5.4) and the ``claims`` parameter's
    ``userinfo`` member (§5.5) asked for, that the person has."""
    claims = decoded(provider, tenant, token)
    return release(provider, tenant, claims, live_grant(provider, tenant, claims))


def decoded(provider: Provider, tenant: Tenant, token: str) -> dict[str, Any]:
    """The token's claims, checked for signature and expiry: the part without the database
    (with a cache-only provider, the endpoint runs this on the event loop)."""
    try:
        return decode_access_token(
            token, provider.keyset(tenant), issuer=provider.issuer(tenant), now=provider.clock.now()
        )
    except InvalidAccessToken as error:
        raise bearer_error(INVALID_TOKEN, "the access token is invalid or has expired", realm=tenant.slug) from error


def live_grant(provider: Provider, tenant: Tenant, claims: Mapping[str, Any]) -> Grant:
    """The token's live grant, once the database says the token still holds, and that it was
    issued with ``openid`` to a person (else 403 ``insufficient_scope``)."""
    try:
        grant = live_access_token(provider.reads, claims, provider.clock.now())
    except InvalidAccessToken as error:
        raise bearer_error(INVALID_TOKEN, "the access token was revoked", realm=tenant.slug) from error
    if OPENID not in scopes_of(str(claims.get("scope", ""))) or grant is None or grant.account_id is None:
        raise bearer_error(
            INSUFFICIENT_SCOPE, "the access token was not issued with the openid scope", realm=tenant.slug
        )
    return grant


def release(provider: Provider, tenant: Tenant, claims: Mapping[str, Any], grant: Grant) -> dict[str, Any]:
    """The claims of the person behind ``grant``, if the account may still log in."""
    assert grant.account_id is not None
    names = oidc_claims.requested_claims(scopes_of(str(claims.get("scope", ""))), grant.claims, "userinfo")
    account = provider.reads.account(grant.account_id)  # one query, no unit of work (the hot read)
    if account is None or not account.can_log_in:
        raise bearer_error(INVALID_TOKEN, "the access token was revoked", realm=tenant.slug)
    # the French identity set, the phone and the address: from the verified identity only
    identity = grant_identity_claims(provider.reads.identity, grant, names)
    return {"sub": claims["sub"], **oidc_claims.release(names, account, identity=identity)}

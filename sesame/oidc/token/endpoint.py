"""The token endpoint (RFC 6749 §3.2): authenticate the client, then run the grant it asks for.

One module per grant type, as Authlib has one class per grant; this table picks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sesame.domain.tenants import Tenant
from sesame.oidc.models import GrantType
from sesame.oidc.token import authorization_code, ciba, client_credentials, refresh_token
from sesame.oidc.token.context import Provider, TokenRequest
from sesame.oidc.token.errors import INVALID_REQUEST, UNAUTHORIZED_CLIENT, UNSUPPORTED_GRANT_TYPE, OAuthError

TOKEN_PATH = "/token"

GRANTS: Mapping[GrantType, Callable[[Provider, TokenRequest], dict[str, Any]]] = {
    GrantType.AUTHORIZATION_CODE: authorization_code.exchange,
    GrantType.REFRESH_TOKEN: refresh_token.exchange,
    GrantType.CLIENT_CREDENTIALS: client_credentials.exchange,
    GrantType.CIBA: ciba.exchange,
}


def token(
    provider: Provider,
    tenant: Tenant,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str = "",
    correlation_id: str = "",
) -> dict[str, Any]:
    """RFC 6749 §5.1: the token response body, or ``OAuthError`` (§5.2)."""
    grant_type = _grant_type(form)
    now = provider.clock.now()
    issuer = provider.issuer(tenant)
    client = provider.authenticator(tenant, ip=ip, correlation_id=correlation_id).authenticate(
        tenant, form, authorization, now=now, audiences=(issuer + TOKEN_PATH, issuer)
    )
    if grant_type not in client.metadata.grant_types:
        raise OAuthError(UNAUTHORIZED_CLIENT, f"this client may not use the {grant_type.value} grant")
    request = TokenRequest(tenant, issuer, client, form, now, ip=ip, correlation_id=correlation_id)
    return GRANTS[grant_type](provider, request)


def _grant_type(form: Mapping[str, str]) -> GrantType:
    value = form.get("grant_type")
    if not value:
        raise OAuthError(INVALID_REQUEST, "grant_type is required")
    try:
        return GrantType(value)
    except ValueError as error:
        raise OAuthError(
            UNSUPPORTED_GRANT_TYPE, f"supported grant types: {', '.join(grant.value for grant in GRANTS)}"
        ) from error

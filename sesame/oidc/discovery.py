"""A tenant's OpenID Provider Metadata, served at ``/{tenant}/.well-known/openid-configuration``.

OpenID Connect Discovery 1.0 §3 (provider metadata) and §4 (the well-known path under the
issuer), with the members of OAuth 2.0 Authorization Server Metadata (RFC 8414 §2) for
introspection and revocation, RFC 9207 (``iss`` in the authorization response), Back-Channel
Logout 1.0 §2.1, RP-Initiated Logout 1.0 §2.1, and CIBA 1.0 §4 (poll mode, for tenants whose
people have the phone app). The document only changes with the tenant (its languages, its
credentials), so it is serialised once per tenant version.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from sesame.domain.tenants import CredentialKind, Tenant
from sesame.oidc.claims import IDENTITY_CLAIMS, SCOPE_CLAIMS
from sesame.oidc.jwks import etag
from sesame.oidc.keys import SUPPORTED_ALGS
from sesame.oidc.models import ClientAuthMethod, GrantType

#: How long a client or a shared cache may keep the document.
MAX_AGE = timedelta(minutes=5)
#: The path of each endpoint under the issuer.
ENDPOINTS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks",
    "end_session_endpoint": "/end-session",
    "introspection_endpoint": "/introspect",
    "revocation_endpoint": "/revoke",
}
#: Every scope offered: OpenID Connect Core §5.4 and §11, and the French identity set.
SCOPES_SUPPORTED = ("openid", "offline_access", *SCOPE_CLAIMS)
#: The claims of the tokens themselves (Core §2, §5.1; Back-Channel Logout §2.4 for ``sid``).
PROTOCOL_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid")
#: What an account can say about a person (see sesame.oidc.claims.account_claims).
ACCOUNT_CLAIMS = ("name", "email", "email_verified", "locale", "updated_at")
ACR_VALUES = ("eidas1", "eidas2")
#: Every method of client authentication at the token endpoint (Core §9).
TOKEN_AUTH_METHODS = tuple(m.value for m in ClientAuthMethod)
#: Introspection and revocation answer authenticated clients only (no ``none``).
AUTHENTICATED_METHODS = tuple(m.value for m in ClientAuthMethod if m is not ClientAuthMethod.NONE)
#: Algorithms accepted for private_key_jwt client assertions (never ``none`` nor HS*).
CLIENT_ASSERTION_ALGS = SUPPORTED_ALGS
#: CIBA 1.0 §4: the backchannel authentication endpoint, under the issuer; poll mode only.
BACKCHANNEL_AUTHENTICATION_PATH = "/bc-authorize"
BACKCHANNEL_DELIVERY_MODES = ("poll",)


def issuer(base_url: str, tenant_slug: str) -> str:
    """The tenant's issuer identifier: ``{base_url}/{tenant}`` (Discovery §2)."""
    return f"{base_url.rstrip('/')}/{tenant_slug}"


def provider_metadata(base_url: str, tenant: Tenant) -> dict[str, Any]:
    """The metadata document of Discovery §3 for ``tenant``."""
    iss = issuer(base_url, tenant.slug)
    languages = list(tenant.policy.languages.available)
    ciba = offers_ciba(tenant)
    return {
        "issuer": iss,
        **{name: iss + path for name, path in ENDPOINTS.items()},
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [g.value for g in GrantType if ciba or g is not GrantType.CIBA],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": list(AUTHENTICATED_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "revocation_endpoint_auth_methods_supported": list(AUTHENTICATED_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [*PROTOCOL_CLAIMS, *sorted(set(ACCOUNT_CLAIMS) | IDENTITY_CLAIMS)],
        "claim_types_supported": ["normal"],
        "acr_values_supported": list(ACR_VALUES),
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,  # Discovery §3: the default would be true
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "ui_locales_supported": languages,
        "claims_locales_supported": languages,
        **(_ciba_metadata(iss) if ciba else {}),
    }


def offers_ciba(tenant: Tenant) -> bool:
    """CIBA asks the person's phone app: only tenants whose people have it offer it."""
    return CredentialKind.APP in tenant.policy.credentials


def _ciba_metadata(iss: str) -> dict[str, Any]:
    """CIBA 1.0 §4: poll mode, no user code, unsigned requests."""
    return {
        "backchannel_authentication_endpoint": iss + BACKCHANNEL_AUTHENTICATION_PATH,
        "backchannel_token_delivery_modes_supported": list(BACKCHANNEL_DELIVERY_MODES),
        "backchannel_user_code_parameter_supported": False,
    }


class ProviderMetadataCache:
    """Serialised documents, one per tenant *version* (id and ``updated_at``): the hot path is a
    dictionary lookup, and a tenant whose languages change gets a new document at once."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._documents: dict[tuple[int, datetime], tuple[bytes, str]] = {}

    def body(self, tenant: Tenant) -> bytes:
        return self.document(tenant)[0]

    def document(self, tenant: Tenant) -> tuple[bytes, str]:
        """The serialised document and its ``ETag``."""
        version = (tenant.id, tenant.updated_at)
        document = self._documents.get(version)
        if document is None:
            # Older versions of this tenant are dropped: the dictionary stays one entry per tenant.
            for old in [v for v in self._documents if v[0] == tenant.id]:
                del self._documents[old]
            body = orjson.dumps(provider_metadata(self._base_url, tenant))
            document = self._documents[version] = (body, etag(body))
        return document

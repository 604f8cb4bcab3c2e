"""The OpenID Connect provider's records, as the protocol modules see them (no SQL, no HTTP).

OpenID Connect Core 1.0, OAuth 2.0 (RFC 6749), PKCE (RFC 7636), JWT access tokens (RFC 9068).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"
    #: OpenID Connect CIBA 1.0 §10.1 (poll mode): the token request with an ``auth_req_id``.
    CIBA = "urn:openid:params:grant-type:ciba"


class ClientAuthMethod(StrEnum):
    """RFC 6749 §2.3 and OpenID Connect Core §9."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"  # public clients (PKCE required)


class ClientMetadata(BaseModel):
    """What a client registered (RFC 7591 names where one exists)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    grant_types: tuple[GrantType, ...] = (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN)
    #: Scopes the client may ask for (openid, profile, email, phone, address, offline_access, ...).
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    #: Public keys for private_key_jwt (a JWKS document), when the client authenticates so.
    jwks: dict[str, Any] | None = None
    #: First-party services may skip the consent page.
    skip_consent: bool = False
    #: Refuse people whose email address is not confirmed (they are told how to finish).
    require_confirmed_email: bool = True
    #: The acr given when the client asks for none.
    default_acr: str = "eidas1"
    access_token_lifetime_seconds: Annotated[int, Field(ge=60, le=86400)] = 600
    id_token_lifetime_seconds: Annotated[int, Field(ge=60, le=86400)] = 600
    refresh_token_lifetime_seconds: Annotated[int, Field(ge=300)] = 30 * 86400
    id_token_signed_response_alg: str = "ES256"
    #: Unused, kept so that stored registrations still load: a client may use CIBA when its
    #: ``grant_types`` lists ``urn:openid:params:grant-type:ciba`` (sesame.oidc.ciba).
    ciba: bool = False


@dataclass(slots=True)
class OidcClient:
    client_id: str
    tenant_id: int
    name: str
    public: bool
    token_endpoint_auth_method: ClientAuthMethod
    metadata: ClientMetadata
    created_at: datetime
    updated_at: datetime
    #: Keyed hash of the secret (never the secret); None for public and private_key_jwt clients.
    secret_hash: str | None = None
    disabled_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(slots=True)
class SigningKey:
    kid: str
    tenant_id: int
    alg: str  # ES256 | RS256
    private_jwk_encrypted: str
    public_jwk: dict[str, Any]
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None = None
    publish_until: datetime | None = None


@dataclass(slots=True)
class Grant:
    """What a person (or a client on its own behalf) authorised a client to do."""

    id: str
    tenant_id: int
    client_id: str
    scope: str
    created_at: datetime
    expires_at: datetime
    account_id: int | None = None
    session_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    auth_time: datetime | None = None
    nonce: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class AccessTokenState:
    """What the database says about a presented access token, read in one query.

    ``grant`` for a person's token (None when unknown), ``client_tenant_id`` and
    ``client_enabled`` for a client's own token (client_credentials: no grant row, ADR 0006).
    """

    revoked: bool
    grant: Grant | None = None
    client_tenant_id: int | None = None
    client_enabled: bool = False


@dataclass(slots=True)
class AuthorizationCode:
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    created_at: datetime
    expires_at: datetime
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used_at: datetime | None = None


@dataclass(slots=True)
class RefreshToken:
    token_hash: str
    grant_id: str
    client_id: str
    created_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None


@dataclass(slots=True)
class Consent:
    tenant_id: int
    account_id: int
    client_id: str
    scopes: list[str]
    granted_at: datetime
    updated_at: datetime

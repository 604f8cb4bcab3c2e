"""OpenID Connect provider state: clients, signing keys, grants, codes, refresh tokens, consents.

A *grant* is what a person (or a client alone, for client_credentials) authorised a client to do;
every code, refresh token and access token points at its grant, so revoking the grant (a
replayed code, a reused refresh token, a logout, a password reset) revokes them all at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class OidcClientRow(Base):
    __tablename__ = "oidc_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Keyed hash (HMAC, server pepper) of the secret; None for public clients and private_key_jwt.
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    #: Everything else about the client (redirect URIs, grant types, scopes, logout URIs, JWKS,
    #: consent and assurance settings), validated by the domain model.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    alg: Mapped[str] = mapped_column(String(10))
    #: The private JWK, encrypted with a key derived from the server secret (never stored in clear).
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(10))  # active | retired
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: A retired key stays published until every token it signed has expired.
    publish_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OidcGrantRow(Base):
    __tablename__ = "oidc_grants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: The browser session it came from (SHA-256 id); None for client_credentials and offline grants.
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(1000))
    claims: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    acr: Mapped[str | None] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JsonDoc)
    auth_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    nonce: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(40))


class AuthorizationCodeRow(Base):
    __tablename__ = "oidc_authorization_codes"

    #: SHA-256 of the code.
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("oidc_grants.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RefreshTokenRow(Base):
    __tablename__ = "oidc_refresh_tokens"
    __table_args__ = (Index("ix_oidc_refresh_tokens_grant", "grant_id"),)

    #: SHA-256 of the token.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("oidc_grants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Set when the token was exchanged for a new one; presenting it again revokes the grant.
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RevokedAccessTokenRow(Base):
    """Access tokens are JWTs; one revoked before it expires is remembered here until it expires."""

    __tablename__ = "oidc_revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ConsentRow(Base):
    __tablename__ = "oidc_consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id", name="uq_oidc_consents_account_client"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_clients.client_id", ondelete="CASCADE"))
    #: The scopes and claims consented to, sorted; a request for more asks again.
    scopes: Mapped[list[str]] = mapped_column(JsonDoc)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

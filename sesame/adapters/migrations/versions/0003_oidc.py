"""openid connect provider

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:43:51.637091
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sesame.adapters.sql.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_oidc_revoked_access_tokens")),
    )
    with op.batch_alter_table("oidc_revoked_access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_revoked_access_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=40), nullable=False),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oidc_clients_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oidc_clients")),
    )
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_clients_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("private_jwk_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "public_jwk", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("publish_until", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_signing_keys_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "oidc_consents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column(
            "scopes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("granted_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_oidc_consents_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_clients.client_id"],
            name=op.f("fk_oidc_consents_client_id_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oidc_consents_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_consents")),
        sa.UniqueConstraint("account_id", "client_id", name="uq_oidc_consents_account_client"),
    )
    op.create_table(
        "oidc_grants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column(
            "claims", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("acr", sa.String(length=20), nullable=True),
        sa.Column("amr", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("auth_time", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_oidc_grants_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_clients.client_id"],
            name=op.f("fk_oidc_grants_client_id_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oidc_grants_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_grants")),
    )
    with op.batch_alter_table("oidc_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_grants_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_grants_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_grants_session_id"), ["session_id"], unique=False)

    op.create_table(
        "oidc_authorization_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=True),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["oidc_grants.id"],
            name=op.f("fk_oidc_authorization_codes_grant_id_oidc_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_oidc_authorization_codes")),
    )
    with op.batch_alter_table("oidc_authorization_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_authorization_codes_grant_id"), ["grant_id"], unique=False)

    op.create_table(
        "oidc_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["oidc_grants.id"],
            name=op.f("fk_oidc_refresh_tokens_grant_id_oidc_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oidc_refresh_tokens")),
    )
    with op.batch_alter_table("oidc_refresh_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_oidc_refresh_tokens_grant", ["grant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oidc_refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_refresh_tokens_grant")

    op.drop_table("oidc_refresh_tokens")
    with op.batch_alter_table("oidc_authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_authorization_codes_grant_id"))

    op.drop_table("oidc_authorization_codes")
    with op.batch_alter_table("oidc_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_grants_session_id"))
        batch_op.drop_index(batch_op.f("ix_oidc_grants_client_id"))
        batch_op.drop_index(batch_op.f("ix_oidc_grants_account_id"))

    op.drop_table("oidc_grants")
    op.drop_table("oidc_consents")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_tenant_id"))

    op.drop_table("signing_keys")
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_clients_tenant_id"))

    op.drop_table("oidc_clients")
    with op.batch_alter_table("oidc_revoked_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_revoked_access_tokens_expires_at"))

    op.drop_table("oidc_revoked_access_tokens")

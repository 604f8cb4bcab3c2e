"""accounts, credentials, sessions, account tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:04:25.675929
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sesame.adapters.sql.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_normalized", sa.String(length=320), nullable=True),
        sa.Column("email_verified_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("customer_number", sa.String(length=20), nullable=True),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("password_change_required", sa.Boolean(), nullable=False),
        sa.Column("profile_review_required", sa.Boolean(), nullable=False),
        sa.Column("terms_version", sa.String(length=40), nullable=True),
        sa.Column("terms_accepted_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("marketing_email", sa.Boolean(), nullable=False),
        sa.Column("marketing_email_changed_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("marketing_partners", sa.Boolean(), nullable=False),
        sa.Column("marketing_partners_changed_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_accounts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("tenant_id", "customer_number", name="uq_accounts_tenant_customer_number"),
        sa.UniqueConstraint("tenant_id", "email_normalized", name="uq_accounts_tenant_email"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "account_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=True),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_tokens_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_account_tokens_link_hash")),
    )
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_account_tokens_account_purpose", ["account_id", "purpose"], unique=False)

    op.create_table(
        "credentials",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("secret_hash", sa.String(length=500), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "meta", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_credentials_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index("ix_credentials_account_kind", ["account_id", "kind"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("idle_expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("auth_time", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("acr", sa.String(length=20), nullable=False),
        sa.Column("amr", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("ended_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sessions_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sessions_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sessions_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_sessions_account_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_account_kind")

    op.drop_table("credentials")
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_account_tokens_account_purpose")

    op.drop_table("account_tokens")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id"))

    op.drop_table("accounts")

"""the phone app: devices, activations, approval requests

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sesame.adapters.sql.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sesame.adapters.sql.types.UtcDateTime:
    return sesame.adapters.sql.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("public_key", JSON_DOC, nullable=False),
        sa.Column("pin_digest", sa.String(length=128), nullable=False),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.Column("disabled_at", _utc(), nullable=True),
        sa.Column("disabled_reason", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_devices_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_devices_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    op.create_index(op.f("ix_devices_account_id"), "devices", ["account_id"])

    op.create_table(
        "device_activations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("code_digest", sa.String(length=128), nullable=False),
        sa.Column("code_sent_at", _utc(), nullable=False),
        sa.Column("code_expires_at", _utc(), nullable=False),
        sa.Column("code_tries", sa.Integer(), nullable=False),
        sa.Column("code_verified_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("used_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_device_activations_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_device_activations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_activations")),
    )
    op.create_index(op.f("ix_device_activations_account_id"), "device_activations", ["account_id"])
    op.create_index(op.f("ix_device_activations_expires_at"), "device_activations", ["expires_at"])

    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("binding_code", sa.String(length=200), nullable=False),
        sa.Column("binding_mode", sa.String(length=20), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("poll_handle_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("acr_requested", sa.String(length=20), nullable=True),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("device_id", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("consumed_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_approval_requests_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_approval_requests_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_approval_requests_device_id_devices"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
    )
    op.create_index("ix_approval_requests_account_status", "approval_requests", ["account_id", "status"])
    op.create_index(op.f("ix_approval_requests_expires_at"), "approval_requests", ["expires_at"])
    op.create_index(op.f("ix_approval_requests_poll_handle_hash"), "approval_requests", ["poll_handle_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_approval_requests_poll_handle_hash"), table_name="approval_requests")
    op.drop_index(op.f("ix_approval_requests_expires_at"), table_name="approval_requests")
    op.drop_index("ix_approval_requests_account_status", table_name="approval_requests")
    op.drop_table("approval_requests")
    op.drop_index(op.f("ix_device_activations_expires_at"), table_name="device_activations")
    op.drop_index(op.f("ix_device_activations_account_id"), table_name="device_activations")
    op.drop_table("device_activations")
    op.drop_index(op.f("ix_devices_account_id"), table_name="devices")
    op.drop_table("devices")

"""identity proofing cases and verified identities

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sesame.adapters.sql.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sesame.adapters.sql.types.UtcDateTime:
    return sesame.adapters.sql.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "proofing_cases",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("submitted_at", _utc(), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("completed_at", _utc(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_proofing_cases_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_proofing_cases_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proofing_cases")),
    )
    op.create_index("ix_proofing_cases_queue", "proofing_cases", ["tenant_id", "status", "method"])
    op.create_index(op.f("ix_proofing_cases_account_id"), "proofing_cases", ["account_id"])
    op.create_index(op.f("ix_proofing_cases_updated_at"), "proofing_cases", ["updated_at"])

    op.create_table(
        "verified_identities",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("mobile", sa.String(length=20), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("evidence", JSON_DOC, nullable=False),
        sa.Column("verified_at", _utc(), nullable=False),
        sa.Column("app_activated_at", _utc(), nullable=True),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_verified_identities_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verified_identities")),
    )
    op.create_index("ix_verified_identities_mobile", "verified_identities", ["tenant_id", "mobile"])
    op.create_index(op.f("ix_verified_identities_account_id"), "verified_identities", ["account_id"])


def downgrade() -> None:
    op.drop_table("verified_identities")
    op.drop_table("proofing_cases")

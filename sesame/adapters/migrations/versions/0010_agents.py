"""back office: agents, their tenant scope, their sessions, overrides awaiting a second approval

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-24 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sesame.adapters.sql.types

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
# case_second_approvals refers to proofing_cases (0005).
depends_on: str | Sequence[str] | None = "0005"

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sesame.adapters.sql.types.UtcDateTime:
    return sesame.adapters.sql.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("roles", JSON_DOC, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=500), nullable=False),
        sa.Column("password_change_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("last_login_at", _utc(), nullable=True),
        sa.Column("disabled_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("email", name=op.f("uq_agents_email")),
    )

    op.create_table(
        "agent_tenants",
        sa.Column("agent_id", BIG_ID, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_tenants_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_agent_tenants_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "tenant_id", name=op.f("pk_agent_tenants")),
    )
    op.create_index(op.f("ix_agent_tenants_tenant_id"), "agent_tenants", ["tenant_id"])

    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", BIG_ID, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("idle_expires_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_sessions_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_sessions")),
    )
    op.create_index(op.f("ix_agent_sessions_agent_id"), "agent_sessions", ["agent_id"])
    op.create_index(op.f("ix_agent_sessions_expires_at"), "agent_sessions", ["expires_at"])

    op.create_table(
        "case_second_approvals",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", BIG_ID, nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("overrides", JSON_DOC, nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["proofing_cases.id"],
            name=op.f("fk_case_second_approvals_case_id_proofing_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_second_approvals_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["agents.id"],
            name=op.f("fk_case_second_approvals_requested_by_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_second_approvals")),
    )
    op.create_index("ix_case_second_approvals_queue", "case_second_approvals", ["tenant_id", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_case_second_approvals_queue", table_name="case_second_approvals")
    op.drop_table("case_second_approvals")
    op.drop_index(op.f("ix_agent_sessions_expires_at"), table_name="agent_sessions")
    op.drop_index(op.f("ix_agent_sessions_agent_id"), table_name="agent_sessions")
    op.drop_table("agent_sessions")
    op.drop_index(op.f("ix_agent_tenants_tenant_id"), table_name="agent_tenants")
    op.drop_table("agent_tenants")
    op.drop_table("agents")

"""registered electronic letters (content sealed, acknowledgement of receipt)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sesame.adapters.sql.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registered_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("recipient_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recipient_email", sa.String(length=320), nullable=False),
        sa.Column("recipient_name", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("sealed_content", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("refused_at", sesame.adapters.sql.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("notification_message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_account_id"],
            ["accounts.id"],
            name=op.f("fk_registered_letters_recipient_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_registered_letters_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_letters")),
        sa.UniqueConstraint("reference", name=op.f("uq_registered_letters_reference")),
    )
    with op.batch_alter_table("registered_letters", schema=None) as batch_op:
        batch_op.create_index("ix_registered_letters_recipient", ["recipient_account_id", "sent_at"], unique=False)
        batch_op.create_index("ix_registered_letters_tenant_purpose", ["tenant_id", "purpose"], unique=False)
        batch_op.create_index(batch_op.f("ix_registered_letters_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registered_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registered_letters_tenant_id"))
        batch_op.drop_index("ix_registered_letters_tenant_purpose")
        batch_op.drop_index("ix_registered_letters_recipient")
    op.drop_table("registered_letters")

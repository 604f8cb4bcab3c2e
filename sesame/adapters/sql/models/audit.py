"""The audit log: append-only, hash-chained per tenant (chain 0 is the server's own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The chain this record belongs to: the tenant id, or 0 for server-wide events.
    chain: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    type: Mapped[str] = mapped_column(String(80), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The end of each chain; appends lock this row so two writers never fork a chain."""

    __tablename__ = "audit_heads"

    chain: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))

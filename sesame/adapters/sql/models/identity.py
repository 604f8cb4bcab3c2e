"""Identity proofing cases and the verified identities they produce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class ProofingCaseRow(Base):
    """One enrolment. The columns are what queues and retention query; the rest is ``data``."""

    __tablename__ = "proofing_cases"
    __table_args__ = (Index("ix_proofing_cases_queue", "tenant_id", "status", "method"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    #: Start of the reviewer's service level (online path).
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class VerifiedIdentityRow(Base):
    __tablename__ = "verified_identities"
    __table_args__ = (Index("ix_verified_identities_mobile", "tenant_id", "mobile"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: Not a foreign key with cascade: evidence outlives a closed account (eIDAS retention).
    account_id: Mapped[int] = mapped_column(BigId, index=True)
    level: Mapped[str] = mapped_column(String(20))
    mobile: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime)
    app_activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str] = mapped_column(String(200), default="")

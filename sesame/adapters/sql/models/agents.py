"""The back office: agents, their tenant scope, their sessions, and overrides awaiting a second approval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class AgentRow(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: Lower-cased: the login key (agents log in at /backoffice, whatever their tenants).
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[list[str]] = mapped_column(JsonDoc)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: argon2id, never the password.
    password_hash: Mapped[str] = mapped_column(String(500))
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AgentTenantRow(Base):
    """One tenant of an agent's scope."""

    __tablename__ = "agent_tenants"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, index=True)


class AgentSessionRow(Base):
    __tablename__ = "agent_sessions"

    #: SHA-256 of the cookie's random value.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))


class SecondApprovalRow(Base):
    """An override approved once, waiting for a supervisor (one per case at most)."""

    __tablename__ = "case_second_approvals"
    __table_args__ = (Index("ix_case_second_approvals_queue", "tenant_id", "requested_at"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("proofing_cases.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    overrides: Mapped[list[str]] = mapped_column(JsonDoc)
    case_version: Mapped[int] = mapped_column(Integer)

"""Accounts, their credentials, their browser sessions and their one-time tokens (links and codes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email_normalized", name="uq_accounts_tenant_email"),
        UniqueConstraint("tenant_id", "customer_number", name="uq_accounts_tenant_customer_number"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    #: Lower-cased address: the uniqueness and lookup key (the displayed one keeps its case).
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    email_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    customer_number: Mapped[str | None] = mapped_column(String(20))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))
    status_reason: Mapped[str | None] = mapped_column(String(200))
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)
    profile_review_required: Mapped[bool] = mapped_column(Boolean, default=False)
    terms_version: Mapped[str | None] = mapped_column(String(40))
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    marketing_email: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_email_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    marketing_partners: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_partners_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    locale: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CredentialRow(Base):
    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_account_kind", "account_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    #: A hash (argon2id, or a keyed hash for short codes); never the secret itself.
    secret_hash: Mapped[str] = mapped_column(String(500))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class SessionRow(Base):
    __tablename__ = "sessions"

    #: SHA-256 of the cookie's random value: a stolen database does not yield live sessions.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime)
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JsonDoc)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))


class AccountTokenRow(Base):
    """A one-time link and code sent to the person (email confirmation, recovery, email change)."""

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_account_purpose", "account_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    #: SHA-256 of the link's random token.
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Keyed hash of the 6-digit code (server pepper), so the database alone cannot reveal it.
    code_hash: Mapped[str] = mapped_column(String(64))
    #: The address being confirmed (an email change confirms the new one).
    target: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)

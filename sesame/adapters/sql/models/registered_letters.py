"""Registered electronic letters: one row per letter, its content encrypted (see the service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId
from sesame.adapters.sql.types import UtcDateTime


class RegisteredLetterRow(Base):
    __tablename__ = "registered_letters"
    __table_args__ = (
        Index("ix_registered_letters_recipient", "recipient_account_id", "sent_at"),
        Index("ix_registered_letters_tenant_purpose", "tenant_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The public reference (in links and on the page), random.
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    sender_name: Mapped[str] = mapped_column(String(200))
    #: Kept as evidence when the account is deleted (then nobody can open it any more).
    recipient_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    recipient_email: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200))
    content_sha256: Mapped[str] = mapped_column(String(64))
    #: AES-GCM under a key derived from the server secret; never the clear text.
    sealed_content: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The outbox message of the notification email (no foreign key: the outbox is purged).
    notification_message_id: Mapped[int | None] = mapped_column(BigInteger)

"""Encrypted documents (identity document images, videos): see sesame/adapters/encrypted_storage.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base
from sesame.adapters.sql.types import UtcDateTime


class DocumentRow(Base):
    """One document: its description in clear, its content only as AES-256-GCM ciphertext."""

    __tablename__ = "documents"

    #: Random (192 bits), URL-safe.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: What the document belongs to ("proofing:123"): no foreign key, any feature may own documents.
    owner: Mapped[str] = mapped_column(String(100), index=True)
    label: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str] = mapped_column(String(100))
    #: Size of the content in clear, in bytes.
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Which key-encryption key wrapped the data key (derived from the server secret).
    key_id: Mapped[str] = mapped_column(String(32))
    #: Nonce + the document's own data key, encrypted under the key-encryption key.
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: Nonce + the content encrypted under the data key (GCM tag included).
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

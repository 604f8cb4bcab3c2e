"""Second factors (TOTP apps, passkeys, recovery code sets) and the recovery codes themselves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, BigId, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class SecondFactorRow(Base):
    __tablename__ = "second_factors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: TOTP: the seed, Fernet-encrypted under a key derived from the server secret.
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    #: TOTP: the last time step accepted (a code is accepted once only).
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: Passkey: the WebAuthn credential id, base64url (at most 1023 bytes: 1364 characters).
    credential_id: Mapped[str | None] = mapped_column(String(1400), unique=True)
    #: Passkey: the COSE public key, base64url.
    public_key: Mapped[str | None] = mapped_column(Text)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    device_type: Mapped[str | None] = mapped_column(String(20))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    transports: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    aaguid: Mapped[str] = mapped_column(String(36), default="")


class RecoveryCodeRow(Base):
    """One code of a set: its keyed hash (the codes are high-entropy), used once."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_factor_hash", "factor_id", "code_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    factor_id: Mapped[int] = mapped_column(ForeignKey("second_factors.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The code's place in the set as shown (1 to 10), for nobody but a curious support agent.
    position: Mapped[int] = mapped_column(Integer, default=0)

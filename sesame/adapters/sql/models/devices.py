"""The phone app: devices, activations under way, and the approval requests devices answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base, JsonDoc
from sesame.adapters.sql.types import UtcDateTime


class DeviceRow(Base):
    __tablename__ = "devices"

    #: Public and random ("dv_..."): it names the device in every call of the device API.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    #: The EC P-256 public key as a JWK (kty, crv, x, y).
    public_key: Mapped[dict[str, str]] = mapped_column(JsonDoc)
    #: HMAC-SHA256 (server pepper) of the 4-digit code bound to the device id, hex.
    pin_digest: Mapped[str] = mapped_column(String(128))
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str] = mapped_column(String(100), default="")


class DeviceActivationRow(Base):
    __tablename__ = "device_activations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the activation's bearer token (high entropy: no pepper needed).
    token_hash: Mapped[str] = mapped_column(String(64))
    code_digest: Mapped[str] = mapped_column(String(128))
    code_sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    code_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    code_tries: Mapped[int] = mapped_column(Integer, default=0)
    code_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApprovalRequestRow(Base):
    __tablename__ = "approval_requests"
    __table_args__ = (Index("ix_approval_requests_account_status", "account_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: None for a number nobody uses: the request only times out.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    service_name: Mapped[str] = mapped_column(String(200))
    binding_code: Mapped[str] = mapped_column(String(200))
    binding_mode: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str] = mapped_column(String(64))
    poll_handle_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    acr_requested: Mapped[str | None] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(500), default="")
    client_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(50), default="")
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

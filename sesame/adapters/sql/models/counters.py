"""Counters for rate limits and lockouts (the embedded adapter; Redis replaces it when configured)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from sesame.adapters.sql.models.base import Base
from sesame.adapters.sql.types import UtcDateTime


class CounterRow(Base):
    __tablename__ = "counters"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

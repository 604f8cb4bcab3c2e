"""States and typed context of the email change flow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class EmailChangeState(StrEnum):
    ENTER_EMAIL = "enter_email"
    ENTER_CODE = "enter_code"
    DONE = "done"


class EmailChangeContext(BaseModel):
    #: The logged-in account that started the flow: another one cannot continue it.
    account_id: int = 0
    new_email: str = ""
    #: When the last code was sent (for the resend cooldown), and how many times it was resent.
    sent_at: datetime | None = None
    resends: int = 0

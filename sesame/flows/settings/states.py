"""States and typed context of the settings (password change) flow."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class SettingsState(StrEnum):
    CHANGE_PASSWORD = "change_password"  # noqa: S105 (a state name, not a secret)
    DONE = "done"


class SettingsContext(BaseModel):
    #: The logged-in account that started the flow: another one cannot continue it.
    account_id: int = 0
    sessions_ended: int = 0

"""States and typed context of the reference flow."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class HelloState(StrEnum):
    ASK_NAME = "ask_name"
    CONFIRM = "confirm"
    DONE = "done"


class HelloContext(BaseModel):
    name: str = ""
    modifications: int = 0

"""States and typed context of the keypad login flow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from sesame.domain.keypad import KeypadLayout


class KeypadLoginState(StrEnum):
    CREDENTIALS = "credentials"
    NEW_CODE = "new_code"
    CONFIRM_CODE = "confirm_code"
    DONE = "done"
    SECURED = "secured"


class KeypadIntent(StrEnum):
    #: Open a session (``/{tenant}/login``).
    LOGIN = "login"
    #: Block the access and send a new code by post ("secure my access", from the login page).
    SECURE = "secure"


class KeypadLoginContext(BaseModel):
    intent: KeypadIntent = KeypadIntent.LOGIN
    #: What was typed in the customer number field, to keep it there (an identifier, not a secret).
    customer_number: str = ""
    #: The keys of the next attempt; a new one is drawn after every validated attempt.
    layout: KeypadLayout | None = None
    #: Keys pressed one submit at a time, without JavaScript: references of ``layout``, until
    #: the person validates (with JavaScript the page keeps them, and this stays empty).
    pending: list[str] = Field(default_factory=list)
    #: Set once the code was right; the states after CREDENTIALS act for this account only.
    account_id: int | None = None
    #: The code was a one-time code sent by post: used up when the new code is saved.
    recovery_token_id: int | None = None
    #: Keyed hash of the new code's first entry (bound to this flow), compared with the second.
    new_code_digest: str | None = None
    #: The opened session's id (the SHA-256 of its cookie value), once DONE.
    session_id: str | None = None
    #: For one page: what went wrong with the last attempt, and its details.
    error: str | None = None
    retry_at: datetime | None = None
    remaining_attempts: int | None = None
    problems: list[str] = Field(default_factory=list)

    def clear_feedback(self) -> None:
        self.error = None
        self.retry_at = None
        self.remaining_attempts = None
        self.problems = []

    @property
    def dots(self) -> int:
        """How many digits were pressed so far without JavaScript (a dot each on the page)."""
        return len(self.pending)

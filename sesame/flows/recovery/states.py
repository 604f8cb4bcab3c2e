"""States and typed context of the recovery flow (see states.mmd beside this file)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from sesame.services.recovery import RECOVERY_LIFETIME


class RecoveryState(StrEnum):
    REQUEST = "request"  # the person types their email address
    SENT = "sent"  # "if an account exists, we sent a link and a code": type the code, or resend
    NEW_PASSWORD = "new_password"  # noqa: S105 (a state name) the address is proven: choose a new password
    DONE = "done"  # changed: go and log in


class RecoveryContext(BaseModel):
    """What the flow remembers between steps. Never shown as is: ``account_id`` is None for an
    unknown address, and the pages must look the same either way."""

    #: The address as typed (normalized), shown back on the "email sent" page.
    email: str = ""
    #: The account behind the address, when there is one; proven only from NEW_PASSWORD on.
    account_id: int | None = None
    #: When the current link and code were sent (the resend cooldown and the code's expiry).
    sent_at: datetime | None = None
    #: Emails sent by this flow (the page says "a new email was sent" after a resend).
    sends: int = 0
    #: The flow's failed attempts when the current code was sent: wrong codes since are the rest.
    failures_at_send: int = 0
    #: How the address was proven: "code" or "link".
    verified_by: str = ""
    #: Set at DONE: the password changed but support's lock stays (the page says whom to contact).
    account_locked: bool = False

    @property
    def code_expires_at(self) -> datetime | None:
        """When the link and code of the latest email stop working (the page says until when)."""
        return self.sent_at + RECOVERY_LIFETIME if self.sent_at else None

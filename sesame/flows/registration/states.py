"""States and typed context of the registration flow (see states.mmd beside this file)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from sesame.services.registration import Registration


class RegistrationState(StrEnum):
    FORM = "form"
    CHECK_EMAIL = "check_email"
    DONE = "done"


class RegistrationContext(BaseModel):
    """What the journey remembers between pages (never the password, nor the code)."""

    given_name: str = ""
    family_name: str = ""
    #: The address as typed and cleaned, shown on the "check your email" page.
    email: str = ""
    marketing_email: bool = False
    marketing_partners: bool = False
    #: The unconfirmed account this journey created, or the owner notified when the address was
    #: taken; the pages never show which.
    account_id: int | None = None
    owner_id: int | None = None
    #: Emails sent by this journey (the number of the current code: its tries are counted per email).
    emails_sent: int = 0
    sent_at: datetime | None = None
    resend_after: datetime | None = None

    @property
    def registration(self) -> Registration:
        return Registration(account_id=self.account_id, owner_id=self.owner_id)

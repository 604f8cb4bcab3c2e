"""Messages the outbox stores and delivers: emails, SMS and postal letters to people, and HTTP
notifications to partner services (back-channel logout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    #: A form POSTed to a partner service (recipient: the URL; body: the form fields as JSON).
    HTTP = "http"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up after the last attempt; reported to operators


@dataclass(slots=True, frozen=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class SmsMessage:
    to: str  # E.164
    text: str


@dataclass(slots=True, frozen=True)
class Letter:
    """A postal letter: the address block, the text, and its rendering as PDF."""

    recipient: str  # name and postal address, one line each
    subject: str
    text: str
    pdf: bytes
    reference: str = ""


@dataclass(slots=True)
class OutboundMessage:
    """A message ready to be stored in the outbox, already rendered in the recipient's language."""

    tenant_id: int | None
    channel: Channel
    recipient: str
    template: str
    locale: str
    subject: str
    body_text: str
    body_html: str | None = None
    pdf: bytes | None = None
    not_before: datetime | None = None
    #: Contains a secret (a code, a link): the body is scrubbed once delivered outside dev mode.
    sensitive: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StoredMessage:
    id: int
    tenant_id: int | None
    channel: Channel
    recipient: str
    template: str
    locale: str
    subject: str
    body_text: str | None
    body_html: str | None
    pdf: bytes | None
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    sensitive: bool
    metadata: dict[str, Any] = field(default_factory=dict)

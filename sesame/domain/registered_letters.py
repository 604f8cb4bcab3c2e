"""Registered electronic letters (lettre recommandée électronique, LRE): a letter a tenant sends to
one of its account holders, whose first opening is the acknowledgement of receipt.

The content (subject, text, an optional action link) is sealed at rest and shown only to the
logged-in recipient on the letter's page; the notification email says that a letter waits, never
what it says (it may hold an activation code). A letter goes ``sent -> opened`` (the first opening
is the acknowledgement; later ones change nothing) or ``sent -> refused`` ("I am not this person").
The tenant signs proofs of sending and of receipt (sesame/services/registered_letters.py); this
module says what they state.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sesame.domain.audit import utc_text
from sesame.domain.errors import DomainError, InvalidInput, NotFound

#: Crockford's base32 (no I, L, O, U: nothing to misread when a person types or reads it out).
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 16 characters, 80 random bits, shown in groups of four: ``K3M9-Q2PX-W4D7-H8J2``.
REFERENCE_GROUPS = 4
REFERENCE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}$")
SUBJECT_MAX = 200
BODY_MAX = 20_000
ACTION_LABEL_MAX = 100
ACTION_URL_MAX = 2000
#: What the letter is for, as the sender's code knows it: ``proofing:42``, ``contract.termination``.
PURPOSE_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")
#: Version of the content document (its canonical JSON is what the proofs' hash covers).
CONTENT_VERSION = 1
SALT_BYTES = 16
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class LetterStatus(StrEnum):
    SENT = "sent"
    #: Opened by the recipient: ``opened_at`` is the acknowledgement of receipt.
    OPENED = "opened"
    #: The recipient declared "I am not this person" before opening it.
    REFUSED = "refused"


class ProofKind(StrEnum):
    SENDING = "sending"
    #: Of receipt: the opening (acknowledgement) or the refusal.
    RECEIPT = "receipt"


class LetterNotFound(NotFound):
    """No such letter for this person: unknown, of another tenant, or addressed to someone else
    (the same answer for all three, so nobody learns that a letter exists)."""

    code = "letter_not_found"


class LetterStateError(DomainError):
    """The letter's state does not allow this (open a refused letter, a receipt before opening)."""

    code = "letter_state"


# -- references ----------------------------------------------------------------------------------


def new_reference() -> str:
    """A fresh public reference: random (80 bits), so it tells nothing about other letters."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4 * REFERENCE_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def normalize_reference(raw: str) -> str | None:
    """The reference as stored (upper case, grouped), or None if ``raw`` cannot be one."""
    if len(raw) > 40:
        return None
    compact = raw.strip().upper().replace("-", "").replace(" ", "")
    if len(compact) != 4 * REFERENCE_GROUPS:
        return None
    grouped = "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return grouped if REFERENCE_RE.fullmatch(grouped) else None


# -- content -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LetterAction:
    """A button under the letter's text ("Continue to the video identification")."""

    label: str
    url: str

    def checked(self) -> LetterAction:
        label = " ".join(self.label.split())
        if not label or len(label) > ACTION_LABEL_MAX or not label.isprintable():
            raise InvalidInput("an action's label is one line of at most 100 characters", field="action")
        return LetterAction(label, _checked_url(self.url))


def _checked_url(url: str) -> str:
    """An https/http URL or a path of this site: never ``javascript:``, never ``//other.site``."""
    url = url.strip()
    if not url or len(url) > ACTION_URL_MAX or not url.isprintable() or " " in url:
        raise InvalidInput("an action's URL is one link of at most 2000 characters", field="action")
    if url.startswith("/"):
        if url.startswith(("//", "/\\")):
            raise InvalidInput("an action's URL is a path of this site or an http(s) URL", field="action")
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("an action's URL is a path of this site or an http(s) URL", field="action")
    return url


def _checked_subject(subject: str) -> str:
    cleaned = " ".join(subject.split())
    if not cleaned or len(cleaned) > SUBJECT_MAX or not cleaned.isprintable():
        raise InvalidInput("a letter's subject is one line of 1 to 200 characters", field="subject")
    return cleaned


def _checked_body(body: str) -> str:
    cleaned = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned or len(cleaned) > BODY_MAX or _CONTROL_RE.search(cleaned):
        raise InvalidInput("a letter's text is 1 to 20,000 characters of text", field="body")
    return cleaned


def check_purpose(purpose: str) -> str:
    if not PURPOSE_RE.fullmatch(purpose):
        raise InvalidInput("a letter's purpose is a short code such as 'proofing:42'", field="purpose")
    return purpose


@dataclass(frozen=True, slots=True)
class LetterContent:
    """What the recipient reads. Its canonical JSON is sealed at rest and hashed into the proofs;
    the random salt keeps the hash from giving away a short secret in the text (a 6-digit code
    would otherwise be found by trying the million texts that differ only by it)."""

    reference: str
    sender: str
    subject: str
    body: str
    action: LetterAction | None
    salt: str

    @classmethod
    def create(cls, reference: str, sender: str, subject: str, body: str, action: LetterAction | None) -> LetterContent:
        """Checked and cleaned content with a fresh salt; ``InvalidInput`` naming the bad field."""
        return cls(
            reference=reference,
            sender=sender,
            subject=_checked_subject(subject),
            body=_checked_body(body),
            action=action.checked() if action is not None else None,
            salt=secrets.token_hex(SALT_BYTES),
        )

    def document(self) -> dict[str, Any]:
        action = {"label": self.action.label, "url": self.action.url} if self.action else None
        return {
            "v": CONTENT_VERSION,
            "reference": self.reference,
            "sender": self.sender,
            "subject": self.subject,
            "body": self.body,
            "action": action,
            "salt": self.salt,
        }

    def canonical_bytes(self) -> bytes:
        """Sorted keys, no spaces, UTF-8: the exact bytes of ``content_sha256``."""
        return json.dumps(self.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LetterContent:
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("v") != CONTENT_VERSION:
            raise ValueError("not a registered letter's content")
        action = document.get("action")
        return cls(
            reference=str(document["reference"]),
            sender=str(document["sender"]),
            subject=str(document["subject"]),
            body=str(document["body"]),
            action=LetterAction(str(action["label"]), str(action["url"])) if isinstance(action, dict) else None,
            salt=str(document["salt"]),
        )

    def paragraphs(self) -> list[list[str]]:
        """The text as paragraphs of lines, for a page to show without any markup from the text."""
        return [block.split("\n") for block in re.split(r"\n\s*\n", self.body) if block.strip()]


# -- the letter ----------------------------------------------------------------------------------


@dataclass(slots=True)
class RegisteredLetter:
    reference: str
    tenant_id: int
    #: The tenant's name when it sent the letter.
    sender_name: str
    #: None once the account was deleted (the letter is kept as evidence).
    recipient_account_id: int | None
    #: The recipient as they were at sending time.
    recipient_email: str
    recipient_name: str
    subject: str
    content_sha256: str
    #: The content, encrypted (see ``LetterSealer`` in the service).
    sealed_content: str
    purpose: str
    status: LetterStatus
    sent_at: datetime
    #: When the outbox delivered the notification email (None: not yet, or not known).
    notified_at: datetime | None = None
    opened_at: datetime | None = None
    refused_at: datetime | None = None
    notification_message_id: int | None = None
    id: int = 0

    def addressed_to(self, account_id: int) -> bool:
        return self.recipient_account_id is not None and self.recipient_account_id == account_id

    @property
    def received_at(self) -> datetime | None:
        """The time of the receipt: the opening or the refusal."""
        return self.opened_at or self.refused_at

    def acknowledge(self, now: datetime) -> bool:
        """Record the opening: True the first time (``now`` is the acknowledgement of receipt),
        False later (the first time stays). A refused letter does not open."""
        if self.status is LetterStatus.OPENED:
            return False
        if self.status is LetterStatus.REFUSED:
            raise LetterStateError(f"letter {self.reference} was refused by its recipient")
        self.status = LetterStatus.OPENED
        self.opened_at = now
        return True

    def refuse(self, now: datetime) -> bool:
        """ "I am not this person": True the first time, False if already refused; an opened letter
        was acknowledged and can no longer be refused."""
        if self.status is LetterStatus.REFUSED:
            return False
        if self.status is LetterStatus.OPENED:
            raise LetterStateError(f"letter {self.reference} was already opened")
        self.status = LetterStatus.REFUSED
        self.refused_at = now
        return True


def mask_name(name: str) -> str:
    """``Marie Dupont`` -> ``M*** D***``: enough for the owner to recognise, little for anyone else."""
    return " ".join(f"{word[0]}***" for word in name.split()) or "***"


def proof_claims(
    letter: RegisteredLetter,
    kind: ProofKind,
    *,
    issuer: str,
    tenant_slug: str,
    recipient_sub: str | None,
    proof_id: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """What a proof states: the letter, its sender and recipient, the hash of its content and its
    times. A proof of receipt exists once the letter was opened or refused."""
    if kind is ProofKind.RECEIPT and letter.received_at is None:
        raise LetterStateError(f"letter {letter.reference} was neither opened nor refused yet")
    recipient: dict[str, str] = {"email": letter.recipient_email}
    if recipient_sub is not None:
        recipient["sub"] = recipient_sub
    claims: dict[str, Any] = {
        "iss": issuer,
        "iat": int(issued_at.timestamp()),
        "jti": proof_id,
        "proof": kind.value,
        "ref": letter.reference,
        "sender": {"tenant": tenant_slug, "name": letter.sender_name},
        "recipient": recipient,
        "subject": letter.subject,
        "content_sha256": letter.content_sha256,
        "sent_at": utc_text(letter.sent_at),
    }
    if letter.notified_at is not None:
        claims["notified_at"] = utc_text(letter.notified_at)
    if kind is ProofKind.RECEIPT:
        claims["status"] = letter.status.value
        if letter.opened_at is not None:
            claims["opened_at"] = utc_text(letter.opened_at)
        if letter.refused_at is not None:
            claims["refused_at"] = utc_text(letter.refused_at)
    return claims


def check_proof_claims(claims: Mapping[str, Any], issuer: str) -> ProofKind:
    """The kind of a proof whose claims are well formed and issued by ``issuer``; ``ValueError``
    otherwise (the signature was checked before)."""
    if claims.get("iss") != issuer:
        raise ValueError("issued by another issuer")
    for name in ("ref", "content_sha256", "sent_at", "jti", "subject"):
        if not isinstance(claims.get(name), str):
            raise ValueError(f"no {name}")
    kind = ProofKind(str(claims.get("proof")))
    if kind is ProofKind.RECEIPT and not isinstance(claims.get("opened_at") or claims.get("refused_at"), str):
        raise ValueError("a receipt without its time")
    return kind

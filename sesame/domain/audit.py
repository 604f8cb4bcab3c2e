"""The audit log: append-only events, hash-chained per tenant.

Each record's hash covers its content and the previous record's hash, so changing, removing
or reordering a row breaks the chain at that point, which ``sesame audit verify`` reports.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sesame.domain.errors import InvalidInput

GENESIS_HASH = "0" * 64


def utc_text(moment: datetime) -> str:
    """A time as stable text whatever the database did to its time zone (naive means UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True, frozen=True)
class AuditEvent:
    tenant_id: int | None
    type: str  # e.g. "login.succeeded", "tenant.created"
    occurred_at: datetime
    actor: str = ""  # who did it: "user:42", "cli", "agent:7", "system"
    subject: str = ""  # what it was done to: "user:42", "flow:abc"
    ip: str = ""
    correlation_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class AuditRecord:
    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str


def canonical_bytes(seq: int, event: AuditEvent, prev_hash: str) -> bytes:
    """The exact bytes hashed for one record: sorted-key JSON, UTC times, no whitespace."""
    payload = {
        "seq": seq,
        "tenant_id": event.tenant_id,
        "type": event.type,
        "occurred_at": utc_text(event.occurred_at),
        "actor": event.actor,
        "subject": event.subject,
        "ip": event.ip,
        "correlation_id": event.correlation_id,
        "details": event.details,
        "prev_hash": prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(seq: int, event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256(canonical_bytes(seq, event, prev_hash)).hexdigest()


# -- what may be written -------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Column widths of the audit table: checked here so that SQLite (which ignores them) and
#: PostgreSQL (which refuses longer text) accept and refuse the same events.
FIELD_LIMITS = {"type": 80, "actor": 200, "subject": 200, "ip": 64, "correlation_id": 64}

#: What names a secret. A details key containing one of these ("new_password", "otpCode", "tokens")
#: is refused unless its value is visibly redacted: secrets never reach the log. Long stems are
#: found inside words ("newpassword"); short words only whole ("pin" is inside "shipping").
SECRET_STEMS = ("password", "passwd", "passphrase", "passcode", "secret", "token")
SECRET_WORDS = _words("code codes otp otps totp hotp pin pins cvv")
#: Words that, put before "code", make it a harmless classification ("error_code", "country_code").
HARMLESS_CODE_QUALIFIERS = _words("error status reason response http country postal zip language currency")
#: Last words that make a key describe a secret without holding it ("token_id", "code_length").
METADATA_WORDS = _words(
    "id ids kind type length count expires expiry at hint status version policy attempts tries failures"
)
_REDACTED_TEXT = re.compile(r"^(?:[*•xX#]*|\[redacted\]|<redacted>|redacted)$", re.IGNORECASE)
_WORD_BOUNDARY = re.compile(r"[^a-zA-Z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class AuditEventRejected(InvalidInput):
    """An event the audit log refuses: a secret in its details, text too long, a value JSON alters."""

    code = "audit_event_rejected"


def check_event(event: AuditEvent) -> None:
    """Refuse an event that would leak a secret or not survive the database unchanged.

    Raises :class:`AuditEventRejected`; appending code calls this before hashing.
    """
    if event.occurred_at.tzinfo is None:
        raise AuditEventRejected("audit times must be timezone-aware (UTC)")
    if not event.type:
        raise AuditEventRejected("an audit event needs a type")
    for name, limit in FIELD_LIMITS.items():
        if len(getattr(event, name)) > limit:
            raise AuditEventRejected(f"audit field {name} is longer than {limit} characters")
    _check_details(event.details, path="details")


def looks_secret(key: str) -> bool:
    """Whether a details key names a secret ("password", "otp", "smsCode", "OTPCode"), by its words."""
    words = [word.lower() for word in _WORD_BOUNDARY.split(key) if word]
    if not words or words[-1] in METADATA_WORDS:
        return False
    for index, word in enumerate(words):
        if word == "code" and index > 0 and words[index - 1] in HARMLESS_CODE_QUALIFIERS:
            continue
        if word in SECRET_WORDS or any(stem in word for stem in SECRET_STEMS):
            return True
    return False


def is_redacted(value: object) -> bool:
    """A value that visibly holds no secret: None, a boolean, "", "****" or "[redacted]"."""
    if value is None or isinstance(value, bool):
        return True
    return isinstance(value, str) and bool(_REDACTED_TEXT.fullmatch(value))


def _check_details(value: object, path: str) -> None:
    # Only what JSON (and PostgreSQL's JSONB) gives back unchanged, so that the hash computed
    # now is the hash recomputed when the row is read back: no floats (JSONB rewrites 1e+20),
    # no tuples or dates (they come back as lists and strings).
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditEventRejected(f"{path}: keys must be strings")
            if looks_secret(key) and not is_redacted(item):
                raise AuditEventRejected(
                    f"{path}.{key} looks like a secret: redact it (secrets never go in the audit log)"
                )
            _check_details(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_details(item, f"{path}[{index}]")
    elif value is not None and not isinstance(value, str | int | bool):
        raise AuditEventRejected(f"{path} is a {type(value).__name__}: use strings, integers, booleans, lists, dicts")
    if isinstance(value, str) and "\x00" in value:
        raise AuditEventRejected(f"{path} contains a NUL character")


# -- verification ----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ChainHead:
    """The end of a chain as the head row records it: its last seq and that record's hash."""

    seq: int
    last_hash: str


class BreakReason(StrEnum):
    HASH_MISMATCH = "hash_mismatch"
    PREV_HASH_MISMATCH = "prev_hash_mismatch"
    SEQ_GAP = "seq_gap"
    WRONG_CHAIN = "wrong_chain"
    HEAD_MISMATCH = "head_mismatch"


@dataclass(slots=True, frozen=True)
class VerificationResult:
    """The verdict on one chain: intact, or the first seq where it breaks and why."""

    tenant_id: int | None
    records: int
    last_seq: int
    broken_at: int | None = None
    reason: BreakReason | None = None
    detail: str = ""
    #: Filled in by the service for display; the domain only knows ids.
    tenant_slug: str | None = None
    #: The hash of the last record read: keep a copy elsewhere to detect a chain rewritten whole.
    last_hash: str = GENESIS_HASH

    @property
    def intact(self) -> bool:
        return self.reason is None

    @property
    def chain_name(self) -> str:
        if self.tenant_id is None:
            return "server-wide chain"
        return f"tenant {self.tenant_slug}" if self.tenant_slug else f"tenant #{self.tenant_id}"


class ChainVerifier:
    """Checks one chain record by record, so that a log of any size streams through it.

    Feed the records in seq order, then call :meth:`finish`. Reading a live chain: read the
    head *before* the records (``head``, given here) and again *after* them (to
    :meth:`finish`). Every record up to the first head was committed before the records were
    read, so it must be there; a record past the second head was written by no append (appends
    move the head in the same transaction), so someone inserted it by hand.

    A hash chain shows edits made by someone who did not also recompute every later hash and
    the head; an attacker with write access who does all of that is caught only by comparing
    the head with a copy kept elsewhere (``sesame audit verify --json`` prints it).
    """

    def __init__(self, tenant_id: int | None, head: ChainHead | None) -> None:
        self._tenant_id = tenant_id
        self._head = head
        self._records = 0
        self._last_seq = 0
        self._last_hash = GENESIS_HASH
        self._hash_at_head: str | None = None
        self._break: tuple[int, BreakReason, str] | None = None

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def broken(self) -> bool:
        return self._break is not None

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False once the chain is broken (stop feeding then)."""
        if self._break is None:
            self._break = self._check(record)
            self._records += 1
            self._last_seq, self._last_hash = record.seq, record.hash
            if self._head is not None and record.seq == self._head.seq:
                self._hash_at_head = record.hash
        return self._break is None

    def _check(self, record: AuditRecord) -> tuple[int, BreakReason, str] | None:
        expected = self._last_seq + 1
        if record.seq != expected:
            what = f"seq {expected} is missing" if record.seq > expected else f"seq {record.seq} comes again"
            return (expected, BreakReason.SEQ_GAP, f"{what} (records deleted, renumbered or reordered)")
        if record.event.tenant_id != self._tenant_id:
            return (record.seq, BreakReason.WRONG_CHAIN, f"the record belongs to tenant {record.event.tenant_id}")
        if record.prev_hash != self._last_hash:
            return (record.seq, BreakReason.PREV_HASH_MISMATCH, "it does not follow the previous record")
        if chain_hash(record.seq, record.event, record.prev_hash) != record.hash:
            return (record.seq, BreakReason.HASH_MISMATCH, "its content no longer matches its hash (edited)")
        return None

    def finish(self, head_after: ChainHead | None = None) -> VerificationResult:
        """The verdict, checking the records against the head(s); ``head_after`` defaults to the first."""
        found = self._break or self._check_heads(self._head, head_after or self._head)
        if found is None:
            return VerificationResult(self._tenant_id, self._records, self._last_seq, last_hash=self._last_hash)
        seq, reason, detail = found
        return VerificationResult(
            self._tenant_id, self._records, self._last_seq, seq, reason, detail, last_hash=self._last_hash
        )

    def _check_heads(self, before: ChainHead | None, after: ChainHead | None) -> tuple[int, BreakReason, str] | None:
        before_seq = before.seq if before else 0
        after_seq = after.seq if after else 0
        if self._last_seq < before_seq:
            return (
                self._last_seq + 1,
                BreakReason.HEAD_MISMATCH,
                f"the head says the chain ends at seq {before_seq} (records deleted from the end)",
            )
        if before is not None and self._hash_at_head != before.last_hash:
            return (before.seq, BreakReason.HEAD_MISMATCH, "the record's hash differs from the one the head kept")
        if self._last_seq > after_seq:
            return (
                after_seq + 1,
                BreakReason.HEAD_MISMATCH,
                f"the head says the chain ends at seq {after_seq} (records added by hand)",
            )
        if after is not None and self._last_seq == after.seq and self._last_hash != after.last_hash:
            return (after.seq, BreakReason.HEAD_MISMATCH, "the record's hash differs from the one the head kept")
        return None


def verify_chain(tenant_id: int | None, records: Iterable[AuditRecord], head: ChainHead | None) -> VerificationResult:
    """Verify a whole chain read in one consistent snapshot (records in seq order)."""
    verifier = ChainVerifier(tenant_id, head)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.finish()

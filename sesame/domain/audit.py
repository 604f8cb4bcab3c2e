"""The audit log: append-only events, hash-chained per tenant.

Each record's hash covers its content and the previous record's hash, so changing, removing
or reordering a row breaks the chain at that point, which ``sesame audit verify`` reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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

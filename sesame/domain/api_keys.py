"""Admin API keys: how a company's own systems call our JSON API (the bank enrolling customers).

A key reads ``sk_<id>_<secret>``: the id (public, 12 hex digits) finds the row, the secret (256
random bits) is compared through a keyed hash, so the database alone never holds a usable key.
A key belongs to one tenant and is shown once, when created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

API_KEY_PREFIX = "sk_"
KEY_ID_HEX = 12
#: ``sk_`` + 12 hex + ``_`` + token_urlsafe(32) (43 characters).
API_KEY_RE = re.compile(r"^sk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
LABEL_MAX = 100


@dataclass(slots=True)
class ApiKey:
    id: int
    tenant_id: int
    key_id: str
    #: Keyed hash (server pepper) of the whole key; the key itself is never stored.
    secret_hash: str
    label: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def key_id_of(presented: str) -> str | None:
    """The id part of a presented key, or None when it cannot be one of ours."""
    match = API_KEY_RE.fullmatch(presented)
    return match.group(1) if match else None

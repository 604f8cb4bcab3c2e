"""Flows: self-service journeys as persisted state machines (Ory Kratos is the model).

A flow is a row: an id carried in the URL, a tenant, a kind, a state, a typed context, an
expiry checked against an injected clock, a CSRF binding to the browser that started it, and
a counter of failed attempts. This module holds the record and its pure rules; the machinery
that runs flows is ``sesame.flows.base``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sesame.domain.errors import FlowCsrfMismatch, FlowExpired, TooManyAttempts


def csrf_binding_of(browser_token: str) -> str:
    """What a flow stores about the browser's CSRF cookie: its SHA-256, never the token itself."""
    return hashlib.sha256(browser_token.encode()).hexdigest()


@dataclass(slots=True)
class FlowRecord:
    id: str
    tenant_id: int
    kind: str
    state: str
    context: dict[str, Any]
    csrf_binding: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    attempts: int = 0
    max_attempts: int = 10
    version: int = 1
    #: Set by a flow's final step; the web layer redirects there.
    return_to: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def check_open(self, now: datetime) -> None:
        """Raise unless the flow can still take a step."""
        if self.is_expired(now):
            raise FlowExpired(f"flow {self.kind} expired at {self.expires_at.isoformat()}")
        if self.attempts >= self.max_attempts:
            raise TooManyAttempts(f"flow {self.kind} used its {self.max_attempts} attempts")

    def check_browser(self, browser_token: str | None) -> None:
        """Raise unless the step comes from the browser that started the flow."""
        if not browser_token or not hmac.compare_digest(csrf_binding_of(browser_token), self.csrf_binding):
            raise FlowCsrfMismatch("flow submitted from another browser or without its CSRF cookie")

    def record_failure(self) -> None:
        self.attempts += 1

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_attempts - self.attempts)

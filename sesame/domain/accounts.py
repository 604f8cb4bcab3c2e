"""Accounts: a person's login at one tenant, with their consents and the state of their access."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AccountStatus(StrEnum):
    ACTIVE = "active"
    #: Closed to logins until support or the recovery path reopens it (lockout cap, "secure my access").
    LOCKED = "locked"
    CLOSED = "closed"


class TokenPurpose(StrEnum):
    CONFIRM_EMAIL = "confirm_email"
    RECOVERY = "recovery"
    CHANGE_EMAIL = "change_email"


@dataclass(slots=True)
class Account:
    id: int
    tenant_id: int
    email: str | None
    email_verified_at: datetime | None
    given_name: str
    family_name: str
    status: AccountStatus
    locale: str
    created_at: datetime
    updated_at: datetime
    customer_number: str | None = None
    status_reason: str | None = None
    password_change_required: bool = False
    profile_review_required: bool = False
    terms_version: str | None = None
    terms_accepted_at: datetime | None = None
    marketing_email: bool = False
    marketing_email_changed_at: datetime | None = None
    marketing_partners: bool = False
    marketing_partners_changed_at: datetime | None = None
    last_login_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.given_name, self.family_name) if part)

    @property
    def can_log_in(self) -> bool:
        return self.status is AccountStatus.ACTIVE


@dataclass(slots=True)
class Credential:
    id: int
    account_id: int
    kind: str
    secret_hash: str
    created_at: datetime
    updated_at: datetime
    label: str = ""
    last_used_at: datetime | None = None
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class BrowserSession:
    """A logged-in browser. ``id`` is the SHA-256 of the cookie value, never the value itself."""

    id: str
    account_id: int
    tenant_id: int
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    auth_time: datetime
    acr: str
    amr: list[str]
    ip: str
    user_agent: str
    ended_at: datetime | None = None
    end_reason: str | None = None

    def is_active(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.idle_expires_at and now < self.expires_at


@dataclass(slots=True)
class AccountToken:
    """A one-time link (and its 6-digit code) sent to the person."""

    id: int
    account_id: int
    purpose: TokenPurpose
    link_hash: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    target: str | None = None
    used_at: datetime | None = None
    code_attempts: int = 0

    def usable(self, now: datetime, max_code_attempts: int) -> bool:
        return self.used_at is None and now < self.expires_at and self.code_attempts < max_code_attempts


def normalize_email(email: str) -> str:
    """The lookup key of an address: trimmed and lower-cased (domains are case-insensitive, and no
    mail provider we serve treats local parts by case)."""
    return email.strip().lower()

"""Tenants and their policies.

A tenant is a company with its own issuer, users and rules. Its rules are data
(:class:`TenantPolicy`), validated here, stored as JSON, so that a new company with other
rules needs configuration, not a fork.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
#: Path segments a tenant slug may not take, because the server uses them itself.
RESERVED_SLUGS = frozenset(
    {
        "_dev",
        "static",
        "healthz",
        "metrics",
        "api",
        "backoffice",
        "app",
        "docs",
        "openapi.json",
        "redoc",
        "favicon.ico",
        "well-known",
        "robots.txt",
    }
)


class IdentifierKind(StrEnum):
    """What a person types to say who they are."""

    EMAIL = "email"
    CUSTOMER_NUMBER = "customer_number"  # 10 digits with a check digit (the bank)


class CredentialKind(StrEnum):
    """The credentials a tenant lets its users log in with."""

    PASSWORD = "password"  # noqa: S105 (a credential kind, not a secret)
    KEYPAD_CODE = "keypad_code"  # 6 digits on a randomized keypad
    APP = "app"  # the Sésame phone app, 4-digit code
    TOTP = "totp"
    PASSKEY = "passkey"
    RECOVERY_CODE = "recovery_code"


class IdentityDocumentKind(StrEnum):
    NATIONAL_ID_CARD = "national_id_card"
    PASSPORT = "passport"
    RESIDENCE_PERMIT = "residence_permit"


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PasswordPolicy(_Policy):
    """Password rules. The default follows NIST SP 800-63B-4: length first, no composition rules."""

    min_length: Annotated[int, Field(ge=4, le=128)] = 15
    max_length: Annotated[int, Field(ge=64, le=1024)] = 128
    require_upper: bool = False
    require_lower: bool = False
    require_digit: bool = False
    require_symbol: bool = False
    reject_blocklisted: bool = True
    reject_personal_data: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> PasswordPolicy:
        if self.min_length > self.max_length:
            raise ValueError("min_length is greater than max_length")
        return self


class LockoutPolicy(_Policy):
    """How failed logins are counted and punished, per account, across every entry point."""

    max_failures: Annotated[int, Field(ge=1, le=100)] = 10
    failure_window_seconds: Annotated[int, Field(ge=60)] = 15 * 60
    suspension_seconds: Annotated[int, Field(ge=1)] = 15 * 60
    #: After this many suspensions, access stays locked until support or recovery reopens it.
    max_suspensions: Annotated[int, Field(ge=1)] = 10
    #: Requests per client IP per minute on login endpoints (throttling, not lockout).
    ip_requests_per_minute: Annotated[int, Field(ge=1)] = 60


class SessionPolicy(_Policy):
    idle_timeout_seconds: Annotated[int, Field(ge=60)] = 30 * 60
    absolute_timeout_seconds: Annotated[int, Field(ge=300)] = 12 * 3600


class FlowPolicy(_Policy):
    """How long a self-service journey stays open, and how many failed steps it tolerates."""

    lifetime_seconds: Annotated[int, Field(ge=60)] = 3600
    max_attempts: Annotated[int, Field(ge=1)] = 10


class IdentityPolicy(_Policy):
    """Digital identity (proofing) rules; ``enabled`` is false for tenants that do not offer one."""

    enabled: bool = False
    accepted_documents: tuple[IdentityDocumentKind, ...] = (
        IdentityDocumentKind.NATIONAL_ID_CARD,
        IdentityDocumentKind.PASSPORT,
        IdentityDocumentKind.RESIDENCE_PERMIT,
    )
    minimum_age: Annotated[int, Field(ge=0)] = 18
    evidence_retention_days: Annotated[int, Field(ge=1)] = 7 * 365
    closed_account_retention_days: Annotated[int, Field(ge=1)] = 3 * 365
    #: Uploaded document images (recto, verso, the online path's photo), each.
    document_max_bytes: Annotated[int, Field(ge=100_000, le=20_000_000)] = 3 * 1024 * 1024
    #: SMS code that verifies the mobile: lifetime, and the wait before "resend".
    sms_code_ttl_seconds: Annotated[int, Field(ge=60)] = 10 * 60
    sms_resend_after_seconds: Annotated[int, Field(ge=10)] = 60
    sms_max_tries: Annotated[int, Field(ge=1, le=20)] = 5
    #: Verification methods offered (seed 001: postman, post office, 100 % online).
    verification_methods: tuple[str, ...] = ("postman", "post_office", "online")
    #: The online path: reviewer service level, and the block after failed video attempts.
    review_sla_hours: Annotated[int, Field(ge=1)] = 48
    video_max_failures: Annotated[int, Field(ge=1)] = 2
    video_block_seconds: Annotated[int, Field(ge=60)] = 6 * 3600
    #: The activation code that completes the identity.
    activation_code_ttl_days: Annotated[int, Field(ge=1)] = 30
    activation_max_tries: Annotated[int, Field(ge=1, le=20)] = 10
    #: An unfinished enrolment is abandoned (and its images deleted) after this many days.
    enrolment_ttl_days: Annotated[int, Field(ge=1)] = 90


class MfaPolicy(_Policy):
    """Second factors a tenant offers besides the phone app (issue 7): TOTP, passkeys, recovery codes."""

    #: Which of "totp", "passkey", "recovery_codes" the account page offers.
    second_factors: tuple[str, ...] = ("totp", "passkey", "recovery_codes")
    #: Ask for a second factor at every login of an account that has one.
    require_when_enrolled: bool = True
    #: How recent (seconds) the last authentication must be to add or remove a factor.
    fresh_auth_seconds: Annotated[int, Field(ge=30)] = 5 * 60


class Branding(_Policy):
    """What a tenant's pages look like. Colours are checked for contrast against white text."""

    display_name: str = "Sésame"
    primary_color: str = "#1f3a93"
    accent_color: str = "#ffcc00"
    logo_text: str = ""
    support_url: str = ""

    @field_validator("primary_color", "accent_color")
    @classmethod
    def _hex_color(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError("colours are written #rrggbb")
        return value.lower()


class Languages(_Policy):
    default: str = "fr"
    available: tuple[str, ...] = ("fr", "en")

    @model_validator(mode="after")
    def _default_available(self) -> Languages:
        if self.default not in self.available:
            raise ValueError("the default language must be one of the available ones")
        return self


class TenantPolicy(_Policy):
    """Everything that differs from one company to the next."""

    identifier: IdentifierKind = IdentifierKind.EMAIL
    credentials: tuple[CredentialKind, ...] = (CredentialKind.PASSWORD,)
    password: PasswordPolicy = PasswordPolicy()
    lockout: LockoutPolicy = LockoutPolicy()
    session: SessionPolicy = SessionPolicy()
    flows: FlowPolicy = FlowPolicy()
    identity: IdentityPolicy = IdentityPolicy()
    mfa: MfaPolicy = MfaPolicy()
    branding: Branding = Branding()
    languages: Languages = Languages()
    terms_version: str = "1"
    require_confirmed_email: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> TenantPolicy:
        if not self.credentials:
            raise ValueError("a tenant needs at least one credential kind")
        if self.identifier is IdentifierKind.CUSTOMER_NUMBER and CredentialKind.KEYPAD_CODE not in self.credentials:
            raise ValueError("customer-number tenants log in with the keypad code")
        return self


class Tenant(BaseModel):
    """A company hosted by this server."""

    model_config = ConfigDict(frozen=True)

    id: int
    slug: str
    name: str
    policy: TenantPolicy
    created_at: datetime
    updated_at: datetime


def validate_slug(slug: str) -> str:
    """A tenant slug is a lower-case URL path segment that the server does not use itself."""
    if not SLUG_RE.fullmatch(slug):
        raise ValueError("a tenant slug is 1 to 40 lower-case letters, digits or dashes")
    if slug in RESERVED_SLUGS:
        raise ValueError(f"'{slug}' is reserved by the server")
    return slug

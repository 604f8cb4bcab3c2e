"""States and typed context of the login flow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class LoginState(StrEnum):
    CREDENTIALS = "credentials"
    SECOND_FACTOR = "second_factor"
    CONFIRM_EMAIL = "confirm_email"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 (a state name, not a secret)
    REVIEW_PROFILE = "review_profile"
    DONE = "done"


class LoginContext(BaseModel):
    #: What the person typed (or the ``login_hint``), to keep in the field; never the password.
    identifier: str = ""
    #: Set once the password was right; the states after CREDENTIALS act for this account only.
    account_id: int | None = None
    #: The methods used so far (RFC 8176: "pwd", "otp", "hwk", "swk", "mfa"): the session's amr.
    amr: list[str] = Field(default_factory=list)
    #: How the person said who they are: "password", or "passkey" (passwordless).
    first_factor: str = ""
    #: The kinds of second factor the account can use ("totp", "passkey", "recovery_codes").
    factor_kinds: list[str] = Field(default_factory=list)
    #: Set once the login has two factors (a second factor given, or a passkey that verified the person).
    second_factor_done: bool = False
    #: Which second factor finished the login (for the audit log).
    second_factor: str | None = None
    #: The WebAuthn challenge of the current state (base64url), used once, and the options that
    #: carry it to the browser: any passkey of this site (CREDENTIALS), the account's (SECOND_FACTOR).
    passkey_challenge: str | None = None
    passkey_options: str | None = None
    #: The opened session's id (the SHA-256 of its cookie value), once DONE.
    session_id: str | None = None
    #: The names as they are, shown for review (REVIEW_PROFILE); the email is ``identifier``.
    given_name: str = ""
    family_name: str = ""
    #: When the last confirmation email was sent from this flow (shown as "sent").
    email_sent_at: datetime | None = None
    #: Shown with a refused step only: a refusal does not save the context, so these live for
    #: one response (when the person may try again, the remaining attempts, the failed rules).
    retry_at: datetime | None = None
    remaining_attempts: int | None = None
    failed_rules: list[str] = Field(default_factory=list)
    #: A refused passkey or second factor ("wrong", "suspended", "locked", "throttled"), and the
    #: kind it was: those refusals stay on the same state with a new challenge, so they are saved.
    factor_error: str | None = None
    factor_error_kind: str | None = None
    #: Where "Use the Digital Identity" leads (the phone app's login, keeping the flow's
    #: return_to), or "" where the tenant does not offer the app. Set when the flow starts.
    app_login_url: str = ""

    def clear_feedback(self) -> None:
        self.retry_at = None
        self.remaining_attempts = None
        self.failed_rules = []
        self.factor_error = None
        self.factor_error_kind = None

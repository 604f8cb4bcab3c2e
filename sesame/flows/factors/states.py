"""States and typed context of the factors flow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class FactorsState(StrEnum):
    #: Just started: the page submits it at once, to go where the session's freshness says.
    BEGIN = "begin"
    REAUTHENTICATE = "reauthenticate"
    ENROL_TOTP = "enrol_totp"
    REGISTER_PASSKEY = "register_passkey"
    RECOVERY_CODES = "recovery_codes"
    CONFIRM_REMOVAL = "confirm_removal"
    DONE = "done"


class FactorIntent(StrEnum):
    """What the person came to do (the start URL says it)."""

    ADD_TOTP = "totp"
    ADD_PASSKEY = "passkey"
    RECOVERY_CODES = "recovery_codes"
    REMOVE = "remove"
    #: Removing one of the phone app's devices (the account page's "Digital identity" section).
    REMOVE_DEVICE = "remove_device"


class FactorsContext(BaseModel):
    #: The logged-in account that started the flow: another one cannot continue it.
    account_id: int = 0
    intent: FactorIntent = FactorIntent.ADD_TOTP
    #: Removal: the factor, and what the page says of it.
    factor_id: int | None = None
    factor_kind: str = ""
    factor_label: str = ""
    #: Removal of a phone app device: its id, and whether it is the account's last active one
    #: (the identity then cannot reach eidas2 until the app is activated again).
    device_id: str | None = None
    last_device: bool = False
    #: When the password was typed again in this flow (the session's auth_time counts too).
    reauthenticated_at: datetime | None = None
    #: TOTP enrolment: the new seed, encrypted under the server secret (never in clear here).
    totp_seed: str | None = None
    #: Passkey registration: the challenge (used once) and the options the browser gets.
    passkey_challenge: str | None = None
    passkey_options: str | None = None
    #: A refusal shown on the same state ("wrong_code", "passkey_refused", "already_registered").
    error: str | None = None
    #: Once DONE: what was done (the page's message) and how many recovery codes were made.
    done_kind: str = ""
    codes_count: int = 0

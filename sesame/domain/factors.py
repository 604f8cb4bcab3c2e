"""Second factors: TOTP apps, passkeys and recovery codes, and the rules that use them (pure).

A :class:`SecondFactor` is one thing a person enrolled from the account page: an authenticator
app (TOTP, RFC 6238), a passkey (WebAuthn), or a set of ten recovery codes. Whether a login
asks for one, what a session's ``amr`` says about the methods used (RFC 8176), and how fresh
a login must be to change them are tenant policy (:class:`~sesame.domain.tenants.MfaPolicy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sesame.domain.tenants import MfaPolicy


class FactorKind(StrEnum):
    """The kinds of second factor; the values are those of ``MfaPolicy.second_factors``."""

    TOTP = "totp"
    PASSKEY = "passkey"
    RECOVERY_CODES = "recovery_codes"


#: Factors that make a login ask for a second factor. Recovery codes alone do not: they are
#: the way back in when the app or the key is lost, not a factor of their own.
PRIMARY_KINDS = frozenset({FactorKind.TOTP, FactorKind.PASSKEY})
#: Longest label a person may give a factor ("Téléphone de Marie", "YubiKey bleue").
LABEL_MAX = 60


class PasskeyDeviceType(StrEnum):
    """WebAuthn's backup eligibility: a device-bound key, or one synced between devices."""

    SINGLE_DEVICE = "single_device"
    MULTI_DEVICE = "multi_device"


@dataclass(slots=True)
class SecondFactor:
    """One enrolled factor. Secrets are never here in clear: the TOTP seed is encrypted, a
    passkey has only its public key, recovery codes live as keyed hashes beside it."""

    id: int
    account_id: int
    tenant_id: int
    kind: FactorKind
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    #: TOTP: the seed, encrypted under a key derived from the server secret.
    secret_encrypted: str | None = None
    #: TOTP: the last time step accepted (RFC 6238 §5.2: a code is accepted once only).
    last_step: int | None = None
    #: Passkey: the credential id and its COSE public key, base64url.
    credential_id: str | None = None
    public_key: str | None = None
    #: Passkey: the authenticator's signature counter (a counter that goes back is a clone).
    sign_count: int = 0
    device_type: PasskeyDeviceType | None = None
    backed_up: bool = False
    transports: list[str] = field(default_factory=list)
    aaguid: str = ""
    #: Recovery codes: how many of the set are still unused (filled by the repository).
    codes_left: int = 0

    @property
    def usable_at_login(self) -> bool:
        return self.kind is not FactorKind.RECOVERY_CODES or self.codes_left > 0


# -- RFC 8176 authentication method references -------------------------------------------------------

AMR_PASSWORD = "pwd"  # noqa: S105 (a method name, not a secret)
#: One-time password: a TOTP code, or a recovery code (a single-use look-up secret).
AMR_OTP = "otp"
#: Proof of possession of a hardware-secured key (a passkey bound to its device).
AMR_HARDWARE_KEY = "hwk"
#: Proof of possession of a software-secured key (a passkey synced between devices).
AMR_SOFTWARE_KEY = "swk"
#: Multiple-factor authentication: listed whenever two independent factors were used.
AMR_MFA = "mfa"


def passkey_amr(device_type: PasskeyDeviceType | None) -> str:
    """ "hwk" for a key that cannot leave its authenticator, "swk" for a synced one."""
    return AMR_SOFTWARE_KEY if device_type is PasskeyDeviceType.MULTI_DEVICE else AMR_HARDWARE_KEY


def factor_amr(kind: FactorKind, device_type: PasskeyDeviceType | None = None) -> str:
    """The method reference a successful use of a factor of ``kind`` adds."""
    return passkey_amr(device_type) if kind is FactorKind.PASSKEY else AMR_OTP


def combined_amr(methods: Iterable[str]) -> list[str]:
    """The session's ``amr``: the methods in order, without repeats, and "mfa" when two
    independent factors were used (a password and a code or key)."""
    ordered: list[str] = []
    for method in methods:
        if method not in ordered and method != AMR_MFA:
            ordered.append(method)
    knowledge = AMR_PASSWORD in ordered
    possession = any(m in ordered for m in (AMR_OTP, AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY))
    if knowledge and possession:
        ordered.append(AMR_MFA)
    return ordered


def passwordless_amr(device_type: PasskeyDeviceType | None, user_verified: bool) -> list[str]:
    """A passkey login without a password: the key, and "mfa" when the authenticator verified the
    person (a PIN or biometrics unlocks the key: possession plus knowledge or inherence)."""
    key = passkey_amr(device_type)
    return [key, AMR_MFA] if user_verified else [key]


def is_multi_factor(amr: Sequence[str]) -> bool:
    """Whether a session's ``amr`` says two factors were used (what "substantial" needs)."""
    return AMR_MFA in amr


# -- policy ------------------------------------------------------------------------------------------


def offered_kinds(policy: MfaPolicy) -> tuple[FactorKind, ...]:
    """The kinds the account page offers, in the policy's order (unknown names ignored)."""
    known = {kind.value: kind for kind in FactorKind}
    return tuple(known[name] for name in policy.second_factors if name in known)


def login_kinds(factors: Iterable[SecondFactor]) -> list[FactorKind]:
    """The kinds a person can use to finish a login, in a fixed order (app, key, codes)."""
    present = {factor.kind for factor in factors if factor.usable_at_login}
    return [kind for kind in (FactorKind.TOTP, FactorKind.PASSKEY, FactorKind.RECOVERY_CODES) if kind in present]


def second_factor_required(policy: MfaPolicy, factors: Iterable[SecondFactor]) -> bool:
    """A login with a password goes on to a second factor when the account has an app or a key
    and the tenant asks for it. Every enrolled factor counts, even of a kind the tenant no
    longer offers: withdrawing an offer must not silently weaken existing accounts."""
    return policy.require_when_enrolled and any(factor.kind in PRIMARY_KINDS for factor in factors)


def is_fresh(auth_time: datetime | None, now: datetime, policy: MfaPolicy) -> bool:
    """Whether an authentication made at ``auth_time`` is recent enough to change factors."""
    return auth_time is not None and now - auth_time <= timedelta(seconds=policy.fresh_auth_seconds)


def clean_label(raw: str, default: str = "") -> str:
    """A factor's label: trimmed, printable, at most :data:`LABEL_MAX` characters, or ``default``
    (pages then name the factor by its kind, in the reader's language)."""
    label = " ".join(raw.split())
    label = "".join(ch for ch in label if ch.isprintable())[:LABEL_MAX].strip()
    return label or default

"""The phone app: devices that hold a key and a 4-digit code, and the approval requests they answer.

Seeds 000 and 001: the person activates the app, chooses a 4-digit secret code, and from then on
approves logins in the app. A :class:`Device` is one activated app: an ECDSA P-256 public key
(the private key never leaves the phone: WebCrypto, non-extractable) and the keyed hash of its
4-digit code. An :class:`ApprovalRequest` is one "is this you?" sent to the account's devices: a
website's decoupled login, an OpenID CIBA request, a step-up. The device answers by signing
:func:`decision_signing_input` (the request, the service it names, the binding code the person
compared or typed, the decision and a server nonce) and sending its code, which the server checks.

Everything here is pure: ids, nonces and codes arrive already drawn, hashes already computed,
times given. Verifying an ES256 signature is computation, not I/O, so it lives here too.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pydantic import BaseModel, ConfigDict, Field

from sesame.domain.errors import InvalidInput
from sesame.domain.tenants import TenantPolicy

# -- policy -----------------------------------------------------------------------------------------


class AppPolicy(BaseModel):
    """The phone app's rules. A constant default for now (:data:`DEFAULT_APP_POLICY`); a tenant
    policy may carry its own as ``TenantPolicy.app`` later (:func:`app_policy` reads it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Wrong 4-digit codes in a row that disable the device (issue 7: 10).
    max_pin_failures: Annotated[int, Field(ge=3, le=100)] = 10
    #: How long an approval request waits for the app (seed 000's login: 2 minutes).
    approval_ttl_seconds: Annotated[int, Field(ge=30, le=900)] = 120
    #: Requests per mobile number per window: no "push bombing" of a phone.
    requests_per_number: Annotated[int, Field(ge=1, le=50)] = 3
    requests_window_seconds: Annotated[int, Field(ge=60)] = 10 * 60
    #: The activation: how long it stays open, its SMS code's lifetime and tries, SMS per account.
    activation_ttl_seconds: Annotated[int, Field(ge=120)] = 20 * 60
    activation_code_ttl_seconds: Annotated[int, Field(ge=60)] = 10 * 60
    activation_code_max_tries: Annotated[int, Field(ge=1, le=20)] = 5
    activation_resend_after_seconds: Annotated[int, Field(ge=10)] = 60
    activation_sms_per_hour: Annotated[int, Field(ge=1, le=50)] = 5
    #: Active devices an account may have at once (a phone and a computer, say).
    max_active_devices: Annotated[int, Field(ge=1, le=50)] = 5
    #: How far a device's clock may be from ours when it signs a timestamp.
    signature_skew_seconds: Annotated[int, Field(ge=30, le=3600)] = 300


DEFAULT_APP_POLICY = AppPolicy()


def app_policy(policy: TenantPolicy) -> AppPolicy:
    """The tenant's app policy: its own once ``TenantPolicy`` has an ``app`` field, else the default."""
    own = getattr(policy, "app", None)
    return own if isinstance(own, AppPolicy) else DEFAULT_APP_POLICY


# -- methods (RFC 8176) --------------------------------------------------------------------------------

#: Proof of possession of a key: the device's signature. RFC 8176 "pop" rather than "hwk"/"swk":
#: nothing attests where the key lives (a browser's non-extractable key, or the CLI's file).
AMR_POSSESSION = "pop"
#: The 4-digit code, checked by the server.
AMR_PIN = "pin"
AMR_MFA = "mfa"
#: An approval in the app is two factors: the device's key and the code (ADR 0008).
APP_AMR: tuple[str, ...] = (AMR_POSSESSION, AMR_PIN, AMR_MFA)


# -- the 4-digit code -----------------------------------------------------------------------------------

PIN_LENGTH = 4
#: The keyed hash's purpose (HMAC with the server's pepper): a stolen database alone cannot try
#: the 10 000 codes, and the digest is bound to its device id, so two devices never share one.
PIN_KEYED_PURPOSE = "device-pin"
#: The twenty codes people choose most (DataGenetics' study of 3.4 million PINs).
COMMON_PINS = frozenset(
    [
        "1234",
        "1111",
        "0000",
        "1212",
        "7777",
        "1004",
        "2000",
        "4444",
        "2222",
        "6969",
        "9999",
        "3333",
        "5555",
        "6666",
        "1122",
        "1313",
        "8888",
        "4321",
        "2001",
        "1010",
    ]
)


class PinRejection(StrEnum):
    FORMAT = "pin_format"  # not four digits
    REPEATED = "pin_repeated"  # 0000, 7777
    SEQUENCE = "pin_sequence"  # 1234, 8765, 7890
    PATTERN = "pin_pattern"  # 1212, 1122
    COMMON = "pin_common"  # among the most chosen codes
    BIRTH_DATE = "pin_birth_date"  # the year, or day and month, of the person's birth


class PinRejected(InvalidInput):
    """A chosen code refused; ``reason`` says why (the page turns it into a sentence)."""

    code = "pin_rejected"

    def __init__(self, reason: PinRejection) -> None:
        super().__init__(str(reason), reason=str(reason))
        self.reason = reason


def pin_well_formed(pin: str) -> bool:
    """Exactly four ASCII digits (not "١٢٣٤": ``str.isdigit`` accepts other scripts)."""
    return len(pin) == PIN_LENGTH and all("0" <= ch <= "9" for ch in pin)


def _is_sequence(pin: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {9})  # up or down by one, wrapping (7890, 2109)


def pin_problem(pin: str, birth_date: date | None = None) -> PinRejection | None:
    """Why ``pin`` is too easy to guess, or None when it may be chosen."""
    if not pin_well_formed(pin):
        return PinRejection.FORMAT
    if len(set(pin)) == 1:
        return PinRejection.REPEATED
    if _is_sequence(pin):
        return PinRejection.SEQUENCE
    if pin[:2] == pin[2:] or (pin[0] == pin[1] and pin[2] == pin[3]):
        return PinRejection.PATTERN
    if pin in COMMON_PINS:
        return PinRejection.COMMON
    if birth_date is not None:
        day, month = f"{birth_date.day:02d}", f"{birth_date.month:02d}"
        if pin in (f"{birth_date.year:04d}", day + month, month + day):
            return PinRejection.BIRTH_DATE
    return None


def check_pin_choice(pin: str, birth_date: date | None = None) -> str:
    """The chosen code, or :class:`PinRejected` when it is trivial."""
    problem = pin_problem(pin, birth_date)
    if problem is not None:
        raise PinRejected(problem)
    return pin


def pin_message(device_id: str, pin: str) -> str:
    """What the keyed hash covers: the code bound to its device."""
    return f"{device_id}:{pin}"


# -- keys and signatures (ES256, as WebCrypto makes them) ---------------------------------------------

#: A P-256 coordinate is 32 bytes: 43 base64url characters without padding.
_COORDINATE_BYTES = 32
_SIGNATURE_BYTES = 64
#: A base64url signature is 86 characters; a little slack for padding.
SIGNATURE_MAX_CHARS = 100


class InvalidPublicKey(InvalidInput):
    code = "invalid_public_key"


def b64url_decode(value: str) -> bytes:
    """Decode base64url with or without padding; ``ValueError`` for anything else."""
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise ValueError("not base64url")
    if any(not (ch.isascii() and (ch.isalnum() or ch in "-_=")) for ch in value):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_public_jwk(jwk: Any) -> dict[str, str]:
    """An EC P-256 public key as a JWK (RFC 7517/7518), reduced to its members ``kty``, ``crv``,
    ``x``, ``y``; the point must lie on the curve. Raises :class:`InvalidPublicKey`."""
    if not isinstance(jwk, Mapping):
        raise InvalidPublicKey("the public key is a JWK object")
    if "d" in jwk:
        raise InvalidPublicKey("a private key was sent: only the public key leaves the device")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidPublicKey("the key is an EC key on P-256")
    try:
        x, y = b64url_decode(jwk.get("x", "")), b64url_decode(jwk.get("y", ""))
    except ValueError as error:
        raise InvalidPublicKey("x and y are base64url") from error
    if len(x) != _COORDINATE_BYTES or len(y) != _COORDINATE_BYTES:
        raise InvalidPublicKey("x and y are 32 bytes each")
    clean = {"kty": "EC", "crv": "P-256", "x": b64url_encode(x), "y": b64url_encode(y)}
    _public_key(clean)  # on the curve, or InvalidPublicKey
    return clean


def _public_key(jwk: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    x = int.from_bytes(b64url_decode(jwk["x"]), "big")
    y = int.from_bytes(b64url_decode(jwk["y"]), "big")
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError as error:
        raise InvalidPublicKey("the point is not on P-256") from error


def verify_signature(jwk: Mapping[str, str], message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64url of r||s, 64 bytes, as WebCrypto's ECDSA gives it) is the
    key's ES256 signature of ``message``. Anything malformed is simply not a valid signature."""
    if not isinstance(signature, str) or len(signature) > SIGNATURE_MAX_CHARS:
        return False
    try:
        raw = b64url_decode(signature)
        key = _public_key(jwk)
    except (ValueError, KeyError, InvalidPublicKey):
        return False
    if len(raw) != _SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: what ``JSON.stringify`` gives for an object built with its
    keys in sorted order, so the app and the server sign and check the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


def decision_signing_input(request_id: str, service: str, binding_code: str, decision: Decision, nonce: str) -> bytes:
    """The bytes a device signs to answer a request.

    The service named and the binding code are in it, so an approval shown for one service (or
    one code) cannot be replayed for another; the request id and the server's nonce tie it to
    one request, which can be decided once only.
    """
    return canonical_json(
        {
            "binding_code": binding_code,
            "decision": decision.value,
            "nonce": nonce,
            "request_id": request_id,
            "service": service,
        }
    )


def listing_signing_input(tenant: str, device_id: str, timestamp: int) -> bytes:
    """The bytes a device signs to list its pending requests: no bearer secret is stored on the
    phone, each call carries a fresh signature over the time (used once, within the skew)."""
    return canonical_json({"action": "pending", "device_id": device_id, "tenant": tenant, "timestamp": timestamp})


# -- devices --------------------------------------------------------------------------------------------

LABEL_MAX = 60


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    #: Too many wrong codes, or removed by the person: never active again (a new activation makes
    #: a new device, through the password and an SMS to the verified mobile: ADR 0008).
    DISABLED = "disabled"


@dataclass(slots=True)
class Device:
    """One activated app. ``id`` is public and random; it names the device in every call."""

    id: str
    tenant_id: int
    account_id: int
    label: str
    #: The device's public key as a JWK (EC, P-256): ``{"kty", "crv", "x", "y"}``.
    public_key: dict[str, str]
    #: ``KeyedHasher.digest(PIN_KEYED_PURPOSE, pin_message(id, pin))``.
    pin_digest: str
    created_at: datetime
    status: DeviceStatus = DeviceStatus.ACTIVE
    #: Wrong codes since the last right one.
    failed_pins: int = 0
    last_used_at: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str = ""

    @property
    def active(self) -> bool:
        return self.status is DeviceStatus.ACTIVE

    def pins_left(self, policy: AppPolicy) -> int:
        return max(0, policy.max_pin_failures - self.failed_pins)


def clean_device_label(raw: str, default: str) -> str:
    """A device's label: printable, single spaces, at most :data:`LABEL_MAX` characters."""
    label = "".join(ch for ch in " ".join(str(raw).split()) if ch.isprintable())[:LABEL_MAX].strip()
    return label or default


@dataclass(slots=True)
class DeviceActivation:
    """An activation under way: the password was right, an SMS code went to the verified mobile.

    The client holds ``id`` and a random token (kept here as its SHA-256): the activation's own
    bearer secret, short-lived and single-use, never stored on the phone afterwards.
    """

    id: str
    tenant_id: int
    account_id: int
    token_hash: str
    code_digest: str
    code_sent_at: datetime
    code_expires_at: datetime
    created_at: datetime
    expires_at: datetime
    code_tries: int = 0
    code_verified_at: datetime | None = None
    used_at: datetime | None = None

    def open(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at

    def code_usable(self, now: datetime, policy: AppPolicy) -> bool:
        return (
            self.open(now)
            and self.code_verified_at is None
            and now < self.code_expires_at
            and self.code_tries < policy.activation_code_max_tries
        )

    def resend_wait(self, now: datetime, policy: AppPolicy) -> int:
        """Seconds before another SMS may be sent (0: now)."""
        ready = self.code_sent_at + timedelta(seconds=policy.activation_resend_after_seconds)
        return max(0, int((ready - now).total_seconds() + 0.999))


# -- approval requests ------------------------------------------------------------------------------------


class ApprovalKind(StrEnum):
    WEB_LOGIN = "web_login"  # the website's "Utiliser l'Identité Numérique" (seed 000)
    CIBA = "ciba"  # OpenID Client-Initiated Backchannel Authentication (poll mode)
    STEP_UP = "step_up"  # a logged-in person asked for a higher level


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


FINAL_STATUSES = frozenset({ApprovalStatus.APPROVED, ApprovalStatus.DENIED, ApprovalStatus.EXPIRED})


class BindingMode(StrEnum):
    """How the person ties the request on the device to the screen that asked.

    ``enter``: the device does not know the code; the person types the number the website
    shows (number matching: a blind "approve" is not enough). ``compare``: the device shows the
    requester's ``binding_message`` (CIBA) and the person checks it is the one on the other screen.
    """

    ENTER = "enter"
    COMPARE = "compare"


#: A website's binding code: two digits (one chance in a hundred for a blind guess, and a wrong
#: number denies the request).
BINDING_DIGITS = 2
#: CIBA's binding_message: short enough for a phone's screen.
BINDING_MESSAGE_MAX = 100
SERVICE_NAME_MAX = 200


def normalise_binding(value: str) -> str:
    """What the person typed or saw, compared without surrounding or doubled spaces."""
    return " ".join(str(value).split())


@dataclass(slots=True)
class ApprovalRequest:
    """One "is this you?" for an account's devices. ``account_id`` is None for a number nobody
    uses: such a request is stored all the same and simply times out (no enumeration)."""

    id: str
    tenant_id: int
    account_id: int | None
    kind: ApprovalKind
    service_name: str
    binding_code: str
    binding_mode: BindingMode
    nonce: str
    #: SHA-256 of what the requester polls with (a browser's token, a CIBA auth_req_id).
    poll_handle_hash: str
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus = ApprovalStatus.PENDING
    acr_requested: str | None = None
    scope: str = ""
    client_id: str | None = None
    decided_at: datetime | None = None
    device_id: str | None = None
    #: Why a request was denied without the person saying so ("binding_mismatch", "account_barred").
    reason: str = ""
    #: When the requester used the approval (a session opened, tokens issued): once only.
    consumed_at: datetime | None = None

    def status_at(self, now: datetime) -> ApprovalStatus:
        """The status as the requester sees it: a pending request past its time has expired."""
        if self.status is ApprovalStatus.PENDING and now >= self.expires_at:
            return ApprovalStatus.EXPIRED
        return self.status

    def pending_at(self, now: datetime) -> bool:
        return self.status_at(now) is ApprovalStatus.PENDING

    @property
    def binding_message(self) -> str | None:
        """What the device shows to compare (compare mode); None when the person must type it."""
        return self.binding_code if self.binding_mode is BindingMode.COMPARE else None

    def binding_matches(self, presented: str) -> bool:
        return normalise_binding(presented) == normalise_binding(self.binding_code)

    def signing_input(self, binding_code: str, decision: Decision) -> bytes:
        """What the device must have signed for this answer (with the binding code it presents)."""
        return decision_signing_input(self.id, self.service_name, binding_code, decision, self.nonce)

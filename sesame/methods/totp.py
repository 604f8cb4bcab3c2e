"""TOTP (RFC 6238) through ``pyotp``: the seed, its QR code, and checking a code once only.

Enrolment (the account page): a new 160-bit seed, shown as a QR code (a PNG drawn here with
``qrcode`` and Pillow) and as text to type by hand; it is stored encrypted (the signing keys'
:class:`~sesame.oidc.keys.KeyEncryption`, under the server secret) once the person typed a
first code from their app. Login: a code of the current 30-second step or of the one either
side (clocks drift), and only from a step later than the last one accepted (RFC 6238 §5.2: a
code seen over someone's shoulder cannot be used again).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime

import pyotp
import qrcode  # type: ignore[import-untyped]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]
from qrcode.image.pil import PilImage  # type: ignore[import-untyped]

from sesame.oidc.keys import KeyDecryptionError, KeyEncryption

#: The steps either side of the current one still accepted (±30 s of clock drift).
VALID_WINDOW = 1
DIGITS = 6
#: A code may be typed with spaces ("123 456"); anything longer than this is not a code.
INPUT_MAX = 16
#: What the encrypted document says it holds: a signing key's document never passes for a seed.
PURPOSE = "totp-seed"


class SeedUnreadable(Exception):
    """A stored seed cannot be decrypted (another server secret) or is not a seed."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: the QR code (a ``data:`` PNG) and the seed to type."""

    qr_data_uri: str
    secret_text: str
    uri: str


def new_secret() -> str:
    """A new seed: 32 base32 characters, 160 bits (RFC 4226 §4 recommends at least that)."""
    return pyotp.random_base32()


class SeedBox:
    """Encrypts seeds for storage (in the database, or in an enrolment flow's context)."""

    def __init__(self, encryption: KeyEncryption) -> None:
        self._encryption = encryption

    def seal(self, secret: str) -> str:
        return self._encryption.encrypt({"purpose": PURPOSE, "secret": secret})

    def open(self, sealed: str) -> str:
        try:
            document = self._encryption.decrypt(sealed)
        except (KeyDecryptionError, ValueError) as error:
            raise SeedUnreadable("the TOTP seed cannot be decrypted") from error
        secret = document.get("secret")
        if document.get("purpose") != PURPOSE or not isinstance(secret, str):
            raise SeedUnreadable("the encrypted document is not a TOTP seed")
        return secret


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS).provisioning_uri(name=account_name, issuer_name=issuer)


def qr_png(data: str) -> bytes:
    """``data`` as a QR code, a PNG image (medium error correction, the standard quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=6, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(image_factory=PilImage).save(buffer, format="PNG")
    png: bytes = buffer.getvalue()
    return png


def enrolment(secret: str, account_name: str, issuer: str) -> Enrolment:
    uri = provisioning_uri(secret, account_name, issuer)
    png = base64.b64encode(qr_png(uri)).decode("ascii")
    return Enrolment(qr_data_uri=f"data:image/png;base64,{png}", secret_text=grouped(secret), uri=uri)


def grouped(secret: str) -> str:
    """The seed in groups of four, easier to copy by hand ("ABCD EFGH ...")."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalize_code(typed: str) -> str | None:
    """Six digits, spaces and dashes ignored; None when it cannot be a code."""
    if len(typed) > INPUT_MAX:
        return None
    code = "".join(ch for ch in typed if ch not in " -\u00a0\t")
    return code if len(code) == DIGITS and code.isascii() and code.isdigit() else None


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (within the window), if it is later than ``last_step``."""
    normalized = normalize_code(code)
    if normalized is None:
        return None
    try:
        step = pyotp.TOTP(secret, digits=DIGITS).verify_and_get_timecode(
            normalized, for_time=now, valid_window=VALID_WINDOW
        )
    except pyotp.OTPVerificationError:
        return None
    if last_step is not None and step <= last_step:
        return None  # replayed: this code, or an older one, was accepted already
    return step

"""Passkeys (WebAuthn Level 2/3) through ``webauthn`` (py_webauthn): registration and assertions.

The relying party is the server itself: its id is the host of ``SESAME_BASE_URL`` and the only
accepted origin is that URL's scheme, host and port, so a look-alike site cannot use a
response made for another (WebAuthn §7.1 steps 9 and 13, §7.2 steps 12 and 15). Challenges
are 64 random bytes drawn here, kept by the caller server-side (in the flow) and used once.

Registration asks for a discoverable credential (``residentKey: required``) so the key can
log in without a typed identifier; user verification is "preferred" when the key is a second
factor after a password, "required" when it replaces the password (then the key is two
factors by itself: possession, and the PIN or biometrics that unlocked it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, generate_challenge
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json
from webauthn.helpers.parse_registration_credential_json import parse_registration_credential_json
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sesame.domain.factors import PasskeyDeviceType, SecondFactor
from sesame.ports import KeyedHasher

#: A browser's response is a few hundred bytes; anything much bigger is not one.
RESPONSE_MAX = 16_384
#: How long the browser lets the person choose a key (a hint; the flow's expiry is the limit).
TIMEOUT_MS = 5 * 60 * 1000
#: The keyed hash purpose of user handles (WebAuthn ``user.id``): stable, opaque, no personal data.
USER_HANDLE_PURPOSE = "webauthn-user-handle"
USER_HANDLE_BYTES = 32
#: ES256 first (every platform authenticator), then Ed25519 and RS256 (Windows Hello).
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


class PasskeyRejected(Exception):
    """A browser's response that does not verify (wrong origin, challenge, signature, counter...)."""


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    name: str
    origin: str

    @classmethod
    def of(cls, base_url: str, name: str) -> RelyingParty:
        """The server at ``base_url`` (``https://login.example.fr`` -> id ``login.example.fr``)."""
        parts = urlsplit(base_url)
        if not parts.scheme or not parts.hostname:
            raise ValueError("the base URL needs a scheme and a host")
        return cls(id=parts.hostname, name=name, origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True, slots=True)
class Challenge:
    """A new challenge, as the flow stores it (base64url) and as the browser gets it (in the options)."""

    value: str
    options_json: str


@dataclass(frozen=True, slots=True)
class RegisteredPasskey:
    credential_id: str
    public_key: str
    sign_count: int
    device_type: PasskeyDeviceType
    backed_up: bool
    aaguid: str
    user_verified: bool
    transports: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Assertion:
    """What a login response claims before it is verified: which credential, which user."""

    credential_id: str
    user_handle: bytes | None


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    sign_count: int
    user_verified: bool
    device_type: PasskeyDeviceType


def user_handle(keyed: KeyedHasher, tenant_id: int, account_id: int) -> bytes:
    """The account's WebAuthn user handle: a keyed hash, so it says nothing about the account."""
    return bytes.fromhex(keyed.digest(USER_HANDLE_PURPOSE, f"{tenant_id}:{account_id}"))[:USER_HANDLE_BYTES]


def new_challenge() -> bytes:
    return generate_challenge()


def _descriptor(factor: SecondFactor) -> PublicKeyCredentialDescriptor:
    assert factor.credential_id is not None
    transports = [AuthenticatorTransport(t) for t in factor.transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(factor.credential_id), transports=transports or None)


_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


def registration_challenge(
    rp: RelyingParty, handle: bytes, user_name: str, display_name: str, existing: Sequence[SecondFactor]
) -> Challenge:
    """Options for ``navigator.credentials.create()``: a discoverable credential, not one of ``existing``."""
    challenge = new_challenge()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user_name,
        user_id=handle,
        user_display_name=display_name or user_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[_descriptor(f) for f in existing if f.credential_id],
        supported_pub_key_algs=ALGORITHMS,
    )
    return Challenge(bytes_to_base64url(challenge), options_to_json(options))


def authentication_challenge(
    rp: RelyingParty, allowed: Sequence[SecondFactor] = (), *, require_user_verification: bool = False
) -> Challenge:
    """Options for ``navigator.credentials.get()``: the account's keys, or any discoverable one
    of this site when ``allowed`` is empty (the passwordless login and its autofill)."""
    challenge = new_challenge()
    verification = (
        UserVerificationRequirement.REQUIRED if require_user_verification else UserVerificationRequirement.PREFERRED
    )
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(f) for f in allowed if f.credential_id],
        user_verification=verification,
    )
    return Challenge(bytes_to_base64url(challenge), options_to_json(options))


def _checked_size(response_json: str) -> str:
    if not response_json or len(response_json) > RESPONSE_MAX:
        raise PasskeyRejected("empty or oversized WebAuthn response")
    return response_json


def verify_registration(rp: RelyingParty, response_json: str, challenge: str) -> RegisteredPasskey:
    """Check ``navigator.credentials.create()``'s response against the challenge, origin and RP id."""
    try:
        credential = parse_registration_credential_json(_checked_size(response_json))
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_presence=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRejected(f"registration refused: {error}") from error
    transports = [t.value for t in credential.response.transports or []]
    return RegisteredPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        device_type=_device_type(verified.credential_device_type),
        backed_up=verified.credential_backed_up,
        aaguid=verified.aaguid,
        user_verified=verified.user_verified,
        transports=transports,
    )


def read_assertion(response_json: str) -> Assertion:
    """The credential id and user handle a login response names (unverified: to find the key)."""
    try:
        credential = parse_authentication_credential_json(_checked_size(response_json))
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRejected(f"malformed assertion: {error}") from error
    if bytes_to_base64url(credential.raw_id) != credential.id:
        raise PasskeyRejected("id and rawId differ")
    return Assertion(credential_id=credential.id, user_handle=credential.response.user_handle)


def verify_assertion(
    rp: RelyingParty,
    response_json: str,
    challenge: str,
    factor: SecondFactor,
    *,
    require_user_verification: bool = False,
) -> VerifiedAssertion:
    """Check a login response: challenge, origin, RP id, signature by the stored key, counter."""
    if factor.public_key is None or factor.credential_id is None:
        raise PasskeyRejected("not a passkey")
    try:
        verified = verify_authentication_response(
            credential=_checked_size(response_json),
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(factor.public_key),
            credential_current_sign_count=factor.sign_count,
            require_user_verification=require_user_verification,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRejected(f"assertion refused: {error}") from error
    if bytes_to_base64url(verified.credential_id) != factor.credential_id:
        raise PasskeyRejected("the response is for another credential")
    return VerifiedAssertion(
        sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
        device_type=_device_type(verified.credential_device_type),
    )


def _device_type(value: CredentialDeviceType) -> PasskeyDeviceType:
    if value == CredentialDeviceType.MULTI_DEVICE:
        return PasskeyDeviceType.MULTI_DEVICE
    return PasskeyDeviceType.SINGLE_DEVICE


def options_of(challenge: Challenge) -> dict[str, object]:
    """The options as a JSON object (for tests and for pages that embed them)."""
    loaded: dict[str, object] = json.loads(challenge.options_json)
    return loaded

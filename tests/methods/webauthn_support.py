"""A software WebAuthn authenticator for tests: real ES256 keys, real CBOR, real signatures.

It answers the server's own options (the JSON the pages give the browser) as a browser with a
platform authenticator would: ``none`` attestation, authenticator data with the RP id hash,
flags and counter, the COSE public key, and assertions signed over authenticatorData and the
SHA-256 of clientDataJSON (WebAuthn §6.1, §6.5, §7). Nothing of Sésame is used to build them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40
AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One passkey on one "device"; ``synced`` makes it backup eligible and backed up."""

    origin: str
    user_verifying: bool = True
    synced: bool = False
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_handle: bytes | None = None
    rp_id: str = ""

    def _flags(self, *, attested: bool) -> int:
        flags = FLAG_UP | (FLAG_UV if self.user_verifying else 0)
        if self.synced:
            flags |= FLAG_BE | FLAG_BS
        return flags | (FLAG_AT if attested else 0)

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        document = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(document).encode()

    def register(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None) -> str:
        """``navigator.credentials.create()``: the JSON a page sends back."""
        self.rp_id = rp_id or options["rp"]["id"]
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags(attested=True)])
            + struct.pack(">I", self.sign_count)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
            }
        )

    def assertion(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        count: int | None = None,
        with_user_handle: bool = True,
    ) -> str:
        """``navigator.credentials.get()``: signs the challenge; the counter grows unless ``count`` says."""
        self.sign_count = self.sign_count + 1 if count is None else count
        target = rp_id or options.get("rpId") or self.rp_id
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(target.encode()).digest()
            + bytes([self._flags(attested=False)])
            + struct.pack(">I", self.sign_count)
        )
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        handle = b64url(self.user_handle) if with_user_handle and self.user_handle else None
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": handle,
                },
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
            }
        )

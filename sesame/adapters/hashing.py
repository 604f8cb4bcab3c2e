"""Hashing of secrets: argon2id for passwords (argon2-cffi), HMAC-SHA256 with derived keys for codes.

Keys are derived from the server secret with HKDF (the ``cryptography`` package), one per
purpose, so that a digest made for one use can never be replayed for another. Secrets are
NFKC-normalized before argon2 (NIST SP 800-63B-4): the same password typed on a keyboard that
composes accents and on one that does not must verify, whichever caller hashes or verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sesame.domain.passwords import normalize


class Argon2PasswordHasher:
    """argon2id with the parameters of the settings; ``needs_rehash`` spots older parameters."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=argon2.Type.ID
        )
        # Verified against when the account does not exist, so both paths cost the same.
        self._dummy_hash = self._hasher.hash("sesame-dummy-password-for-timing")

    def hash(self, secret: str) -> str:
        return self._hasher.hash(normalize(secret))

    def verify(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash, normalize(secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, secret_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(secret_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self, secret: str) -> None:
        self.verify(self._dummy_hash, secret)


class HmacKeyedHasher:
    def __init__(self, server_secret: str) -> None:
        self._secret = server_secret.encode()

    @lru_cache(maxsize=64)  # noqa: B019 (a handful of purposes, one hasher per process)
    def _key(self, purpose: str) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sesame/keyed-hash/v1", info=purpose.encode())
        return hkdf.derive(self._secret)

    def digest(self, purpose: str, message: str) -> str:
        return hmac.new(self._key(purpose), message.encode(), hashlib.sha256).hexdigest()

    def matches(self, purpose: str, message: str, expected: str) -> bool:
        return hmac.compare_digest(self.digest(purpose, message), expected)

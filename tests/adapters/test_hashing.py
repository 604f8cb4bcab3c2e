"""argon2id for passwords (parameters from the settings, upgrades spotted) and the keyed HMAC hasher."""

from __future__ import annotations

import hmac
import unicodedata

import argon2
import pytest

from sesame.adapters import hashing
from sesame.adapters.hashing import Argon2PasswordHasher, HmacKeyedHasher
from sesame.bootstrap import Container

FAST = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(**FAST)


def test_hashes_are_argon2id_with_the_given_parameters(hasher: Argon2PasswordHasher) -> None:
    stored = hasher.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    parameters = argon2.extract_parameters(stored)
    assert (parameters.type, parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (
        argon2.Type.ID,
        1,
        1024,
        1,
    )
    assert "correct horse" not in stored
    assert hasher.hash("correct horse") != stored  # salted


def test_the_container_hashes_with_the_settings_parameters(container: Container) -> None:
    settings = container.settings
    stored = container.hasher.hash("any secret")
    expected = f"$argon2id$v=19$m={settings.argon2_memory_cost},t={settings.argon2_time_cost},"
    assert stored.startswith(expected + f"p={settings.argon2_parallelism}$")


def test_verify(hasher: Argon2PasswordHasher) -> None:
    stored = hasher.hash("Sesame-Demo-2026!")
    assert hasher.verify(stored, "Sesame-Demo-2026!")
    assert not hasher.verify(stored, "sesame-demo-2026!")
    assert not hasher.verify(stored, "")
    assert not hasher.verify("not a hash", "Sesame-Demo-2026!")
    assert not hasher.verify("", "Sesame-Demo-2026!")


def test_verification_is_nfkc_normalized(hasher: Argon2PasswordHasher) -> None:
    composed = unicodedata.normalize("NFC", "Noël à Zürich")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert hasher.verify(hasher.hash(composed), decomposed)
    assert hasher.verify(hasher.hash(decomposed), composed)
    assert hasher.verify(hasher.hash("ｐａｓｓ ｗｏｒｄ"), "pass word")  # full-width, as some phones type


def test_needs_rehash_spots_weaker_parameters(hasher: Argon2PasswordHasher) -> None:
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    old = hasher.hash("secret")
    assert not hasher.needs_rehash(old)
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, "secret")  # an old hash still verifies until it is upgraded
    assert not stronger.needs_rehash(stronger.hash("secret"))
    assert Argon2PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1).needs_rehash(old)
    assert hasher.needs_rehash("not an argon2 hash")


def test_dummy_verify_costs_a_real_verification(hasher: Argon2PasswordHasher) -> None:
    calls: list[str] = []

    class Recording(argon2.PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            calls.append(str(hash))
            return super().verify(hash, password)

    hasher._hasher = Recording(**FAST, type=argon2.Type.ID)
    hasher.dummy_verify("whatever was typed")
    (dummy,) = calls
    assert dummy.startswith("$argon2id$v=19$m=1024,t=1,p=1$")  # the same cost as a real account's hash


# -- HMAC with derived keys ---------------------------------------------------------------------


def test_keyed_digests_depend_on_purpose_and_server_secret() -> None:
    keyed = HmacKeyedHasher("server-secret-one")
    digest = keyed.digest("one-time-code", "confirm_email:42:123456")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert keyed.digest("one-time-code", "confirm_email:42:123456") == digest  # deterministic
    assert keyed.digest("pin", "confirm_email:42:123456") != digest
    assert keyed.digest("one-time-code", "confirm_email:42:123457") != digest
    assert HmacKeyedHasher("server-secret-two").digest("one-time-code", "confirm_email:42:123456") != digest
    assert "123456" not in digest


def test_keyed_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    keyed = HmacKeyedHasher("server-secret-one")
    expected = keyed.digest("one-time-code", "message")
    compared: list[tuple[str, str]] = []
    real_compare = hmac.compare_digest

    def recording_compare(a: str, b: str) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hashing.hmac, "compare_digest", recording_compare)
    assert keyed.matches("one-time-code", "message", expected)
    assert not keyed.matches("one-time-code", "other message", expected)
    assert not keyed.matches("pin", "message", expected)
    assert not keyed.matches("one-time-code", "message", "")
    # Every comparison went through the constant-time comparison, none through ==.
    assert len(compared) == 4
    assert compared[0] == (expected, expected)

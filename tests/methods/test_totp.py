"""TOTP: the seed sealed under the server secret, the QR code, and codes accepted once, ±1 step."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from PIL import Image

from sesame.methods import totp
from sesame.oidc.keys import KeyEncryption

SECRET_KEY = "totp-test-secret-key-0123456789abcdefghij"
NOW = datetime(2026, 1, 15, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step


@pytest.fixture
def box() -> totp.SeedBox:
    return totp.SeedBox(KeyEncryption(SECRET_KEY))


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def test_a_new_seed_has_160_bits() -> None:
    seeds = {totp.new_secret() for _ in range(20)}
    assert len(seeds) == 20
    assert all(len(base64.b32decode(seed)) == 20 for seed in seeds)


def test_a_sealed_seed_opens_with_the_same_server_secret_only(box: totp.SeedBox) -> None:
    secret = totp.new_secret()
    sealed = box.seal(secret)
    assert secret not in sealed
    assert box.open(sealed) == secret
    with pytest.raises(totp.SeedUnreadable):
        totp.SeedBox(KeyEncryption("another-server-secret-0123456789abcdefgh")).open(sealed)


def test_a_signing_key_document_does_not_pass_for_a_seed() -> None:
    encryption = KeyEncryption(SECRET_KEY)
    with pytest.raises(totp.SeedUnreadable):
        totp.SeedBox(encryption).open(encryption.encrypt({"kty": "EC", "d": "private"}))


def test_the_enrolment_qr_code_is_a_png_of_the_otpauth_uri() -> None:
    secret = totp.new_secret()
    enrolment = totp.enrolment(secret, "marie.dupont@example.fr", "La Poste")
    assert enrolment.qr_data_uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(enrolment.qr_data_uri.split(",", 1)[1])))
    assert image.format == "PNG" and image.width == image.height >= 150
    uri = urlsplit(enrolment.uri)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [secret] and parse_qs(uri.query)["issuer"] == ["La Poste"]
    assert enrolment.secret_text.replace(" ", "") == secret
    assert all(len(group) == 4 for group in enrolment.secret_text.split())


@pytest.mark.parametrize("offset", [-30, 0, 30])
def test_a_code_of_this_step_or_the_next_or_the_previous_is_accepted(offset: int) -> None:
    secret = totp.new_secret()
    code = code_at(secret, NOW + timedelta(seconds=offset))
    assert totp.matching_step(secret, code, NOW, None) == pyotp.TOTP(secret).timecode(NOW) + offset // 30


@pytest.mark.parametrize("offset", [-60, 60, 3600])
def test_a_code_two_steps_away_is_refused(offset: int) -> None:
    secret = totp.new_secret()
    assert totp.matching_step(secret, code_at(secret, NOW + timedelta(seconds=offset)), NOW, None) is None


def test_a_code_is_accepted_once_and_older_steps_never_again() -> None:
    secret = totp.new_secret()
    code = code_at(secret, NOW)
    step = totp.matching_step(secret, code, NOW, None)
    assert step is not None
    assert totp.matching_step(secret, code, NOW, step) is None  # replay
    previous = code_at(secret, NOW - timedelta(seconds=30))
    assert totp.matching_step(secret, previous, NOW, step) is None  # an older step after a newer one
    following = code_at(secret, NOW + timedelta(seconds=30))
    assert totp.matching_step(secret, following, NOW + timedelta(seconds=30), step) == step + 1


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "１２３４５６", "1" * 40])
def test_what_cannot_be_a_code_is_refused(typed: str) -> None:
    assert totp.normalize_code(typed) is None
    assert totp.matching_step(totp.new_secret(), typed, NOW, None) is None


def test_spaces_and_dashes_in_a_code_are_ignored() -> None:
    secret = totp.new_secret()
    code = code_at(secret, NOW)
    assert totp.matching_step(secret, f" {code[:3]} {code[3:]} ", NOW, None) is not None
    assert totp.normalize_code(f"{code[:3]}-{code[3:]}") == code

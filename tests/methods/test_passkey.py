"""Passkeys through py_webauthn, against a software authenticator with real keys and signatures.

Registration and assertion succeed for the right origin, RP id and challenge; every other
answer is refused: another origin, another RP id, another challenge, a tampered signature, a
counter that does not grow, no user verification where it is required, malformed JSON.
"""

from __future__ import annotations

import json

import pytest

from sesame.adapters.hashing import HmacKeyedHasher
from sesame.domain.factors import FactorKind, PasskeyDeviceType, SecondFactor
from sesame.methods import passkey
from tests.methods.webauthn_support import SoftAuthenticator, b64url, unb64url

ORIGIN = "https://login.example.fr"
RP = passkey.RelyingParty.of(ORIGIN + "/", "La Poste")
KEYED = HmacKeyedHasher("passkey-test-secret-0123456789abcdefghijk")


def registration(device: SoftAuthenticator, existing: list[SecondFactor] | None = None) -> tuple[str, str]:
    handle = passkey.user_handle(KEYED, 1, 42)
    challenge = passkey.registration_challenge(RP, handle, "marie@example.fr", "Marie Dupont", existing or [])
    return challenge.value, device.register(json.loads(challenge.options_json))


def stored(device: SoftAuthenticator) -> SecondFactor:
    """Register ``device`` and return the factor as the service would store it."""
    challenge, response = registration(device)
    registered = passkey.verify_registration(RP, response, challenge)
    return SecondFactor(
        id=7,
        account_id=42,
        tenant_id=1,
        kind=FactorKind.PASSKEY,
        label="",
        created_at=None,  # type: ignore[arg-type]
        credential_id=registered.credential_id,
        public_key=registered.public_key,
        sign_count=registered.sign_count,
        device_type=registered.device_type,
    )


def test_the_relying_party_is_the_base_url_host_and_origin() -> None:
    rp = passkey.RelyingParty.of("http://localhost:8000/", "Sésame")
    assert (rp.id, rp.origin) == ("localhost", "http://localhost:8000")
    assert (RP.id, RP.origin) == ("login.example.fr", "https://login.example.fr")


def test_registration_options_ask_for_a_discoverable_credential() -> None:
    handle = passkey.user_handle(KEYED, 1, 42)
    options = json.loads(passkey.registration_challenge(RP, handle, "m@example.fr", "Marie", []).options_json)
    assert options["rp"] == {"id": "login.example.fr", "name": "La Poste"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"
    assert unb64url(options["user"]["id"]) == handle and len(handle) == 32
    assert len(unb64url(options["challenge"])) >= 32
    assert {p["alg"] for p in options["pubKeyCredParams"]} == {-7, -8, -257}


def test_the_user_handle_is_stable_opaque_and_per_account() -> None:
    assert passkey.user_handle(KEYED, 1, 42) == passkey.user_handle(KEYED, 1, 42)
    assert passkey.user_handle(KEYED, 1, 42) != passkey.user_handle(KEYED, 1, 43)
    assert b"42" not in passkey.user_handle(KEYED, 1, 42)


def test_a_registration_verifies_and_gives_the_public_key() -> None:
    device = SoftAuthenticator(ORIGIN)
    challenge, response = registration(device)
    registered = passkey.verify_registration(RP, response, challenge)
    assert registered.credential_id == b64url(device.credential_id)
    assert unb64url(registered.public_key) == device.cose_key()
    assert registered.device_type is PasskeyDeviceType.SINGLE_DEVICE and registered.user_verified
    assert registered.transports == ["internal"]


def test_a_synced_passkey_is_multi_device() -> None:
    challenge, response = registration(SoftAuthenticator(ORIGIN, synced=True))
    registered = passkey.verify_registration(RP, response, challenge)
    assert registered.device_type is PasskeyDeviceType.MULTI_DEVICE and registered.backed_up


def test_existing_keys_are_excluded_from_a_new_registration() -> None:
    factor = stored(SoftAuthenticator(ORIGIN))
    options = json.loads(passkey.registration_challenge(RP, b"h" * 32, "m@example.fr", "Marie", [factor]).options_json)
    assert [c["id"] for c in options["excludeCredentials"]] == [factor.credential_id]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda d, o: d.register(o, origin="https://evil.example"), id="other-origin"),
        pytest.param(lambda d, o: d.register(o, rp_id="evil.example"), id="other-rp-id"),
        pytest.param(lambda d, o: d.register({**o, "challenge": b64url(b"x" * 64)}), id="other-challenge"),
        pytest.param(lambda d, o: "{not json", id="malformed"),
        pytest.param(lambda d, o: "x" * (passkey.RESPONSE_MAX + 1), id="oversized"),
    ],
)
def test_a_registration_for_another_origin_rp_or_challenge_is_refused(tamper: object) -> None:
    device = SoftAuthenticator(ORIGIN)
    handle = passkey.user_handle(KEYED, 1, 42)
    challenge = passkey.registration_challenge(RP, handle, "m@example.fr", "Marie", [])
    response = tamper(device, json.loads(challenge.options_json))  # type: ignore[operator]
    with pytest.raises(passkey.PasskeyRejected):
        passkey.verify_registration(RP, response, challenge.value)


def test_an_assertion_verifies_and_reports_the_counter() -> None:
    device = SoftAuthenticator(ORIGIN)
    factor = stored(device)
    challenge = passkey.authentication_challenge(RP, [factor])
    options = json.loads(challenge.options_json)
    assert [c["id"] for c in options["allowCredentials"]] == [factor.credential_id]
    response = device.assertion(options)
    claimed = passkey.read_assertion(response)
    assert claimed.credential_id == factor.credential_id and claimed.user_handle == device.user_handle
    verified = passkey.verify_assertion(RP, response, challenge.value, factor)
    assert verified.sign_count == 1 and verified.user_verified


def test_a_passwordless_challenge_lists_no_key_and_requires_user_verification() -> None:
    options = json.loads(passkey.authentication_challenge(RP, require_user_verification=True).options_json)
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    assert options["rpId"] == "login.example.fr"


def test_without_user_verification_a_passwordless_assertion_is_refused() -> None:
    device = SoftAuthenticator(ORIGIN, user_verifying=False)
    factor = stored(device)
    challenge = passkey.authentication_challenge(RP, require_user_verification=True)
    response = device.assertion(json.loads(challenge.options_json))
    with pytest.raises(passkey.PasskeyRejected):
        passkey.verify_assertion(RP, response, challenge.value, factor, require_user_verification=True)
    assert passkey.verify_assertion(RP, response, challenge.value, factor).user_verified is False


def test_a_counter_that_does_not_grow_is_refused() -> None:
    device = SoftAuthenticator(ORIGIN)
    factor = stored(device)
    factor.sign_count = 5
    challenge = passkey.authentication_challenge(RP, [factor])
    with pytest.raises(passkey.PasskeyRejected):
        passkey.verify_assertion(
            RP, device.assertion(json.loads(challenge.options_json), count=5), challenge.value, factor
        )
    assert (
        passkey.verify_assertion(
            RP, device.assertion(json.loads(challenge.options_json), count=6), challenge.value, factor
        ).sign_count
        == 6
    )


@pytest.mark.parametrize("case", ["origin", "rp_id", "challenge", "signature", "other_key"])
def test_an_assertion_for_anything_else_is_refused(case: str) -> None:
    device = SoftAuthenticator(ORIGIN)
    factor = stored(device)
    challenge = passkey.authentication_challenge(RP, [factor])
    options = json.loads(challenge.options_json)
    if case == "origin":
        response = device.assertion(options, origin="https://login.example.fr.evil.example")
    elif case == "rp_id":
        response = device.assertion(options, rp_id="example.fr")
    elif case == "challenge":
        response = device.assertion({**options, "challenge": b64url(b"y" * 64)})
    elif case == "signature":
        document = json.loads(device.assertion(options))
        signature = bytearray(unb64url(document["response"]["signature"]))
        signature[-1] ^= 1
        document["response"]["signature"] = b64url(bytes(signature))
        response = json.dumps(document)
    else:  # another device signs for the stored credential id
        impostor = SoftAuthenticator(ORIGIN, credential_id=device.credential_id)
        impostor.user_handle = device.user_handle
        response = impostor.assertion(options, rp_id=RP.id)
    with pytest.raises(passkey.PasskeyRejected):
        passkey.verify_assertion(RP, response, challenge.value, factor)


@pytest.mark.parametrize("response", ["", "null", "[]", '{"id": 1}', "x" * (passkey.RESPONSE_MAX + 1)])
def test_a_malformed_assertion_is_refused(response: str) -> None:
    with pytest.raises(passkey.PasskeyRejected):
        passkey.read_assertion(response)

"""The phone app's domain: 4-digit code rules, keys and ES256 signatures, the bytes a device signs,
approval requests' status, and the app policy."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sesame.domain.devices import (
    APP_AMR,
    DEFAULT_APP_POLICY,
    AppPolicy,
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    BindingMode,
    Decision,
    Device,
    DeviceActivation,
    InvalidPublicKey,
    PinRejected,
    PinRejection,
    app_policy,
    b64url_encode,
    check_pin_choice,
    clean_device_label,
    decision_signing_input,
    listing_signing_input,
    parse_public_jwk,
    pin_message,
    pin_problem,
    verify_signature,
)
from sesame.domain.tenants import TenantPolicy
from tests.app_support import SoftDevice

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# -- the 4-digit code ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("", PinRejection.FORMAT),
        ("123", PinRejection.FORMAT),
        ("12345", PinRejection.FORMAT),
        ("12a4", PinRejection.FORMAT),
        ("١٢٣٤", PinRejection.FORMAT),  # Arabic-Indic digits: isdigit() but not ours
        (" 258", PinRejection.FORMAT),
        ("0000", PinRejection.REPEATED),
        ("7777", PinRejection.REPEATED),
        ("1234", PinRejection.SEQUENCE),
        ("4567", PinRejection.SEQUENCE),
        ("9876", PinRejection.SEQUENCE),
        ("4321", PinRejection.SEQUENCE),
        ("7890", PinRejection.SEQUENCE),
        ("2109", PinRejection.SEQUENCE),
        ("1212", PinRejection.PATTERN),
        ("3939", PinRejection.PATTERN),
        ("1122", PinRejection.PATTERN),
        ("5588", PinRejection.PATTERN),
        ("1004", PinRejection.COMMON),
        ("6969", PinRejection.PATTERN),
        ("2001", PinRejection.COMMON),
        ("2000", PinRejection.COMMON),
        ("1313", PinRejection.PATTERN),
    ],
)
def test_trivial_codes_are_refused(pin: str, reason: PinRejection) -> None:
    assert pin_problem(pin) is reason
    with pytest.raises(PinRejected) as raised:
        check_pin_choice(pin)
    assert raised.value.reason is reason
    assert raised.value.code == "pin_rejected"


@pytest.mark.parametrize("pin", ["2580", "0852", "7391", "4085", "1357", "2468", "9024"])
def test_ordinary_codes_are_accepted(pin: str) -> None:
    assert pin_problem(pin) is None
    assert check_pin_choice(pin) == pin


def test_the_birth_date_is_refused_when_known() -> None:
    birth = date(1985, 6, 14)
    for pin in ("1985", "1406", "0614"):
        assert pin_problem(pin) is None, "without a birth date these are fine"
        assert pin_problem(pin, birth) is PinRejection.BIRTH_DATE
    assert pin_problem("1986", birth) is None


def test_the_pin_hash_is_bound_to_its_device() -> None:
    assert pin_message("dv_a", "2580") != pin_message("dv_b", "2580")


# -- keys and signatures --------------------------------------------------------------------------------


def test_a_public_jwk_is_reduced_to_its_members_and_checked_on_the_curve() -> None:
    soft = SoftDevice()
    jwk = {**soft.jwk, "alg": "ES256", "key_ops": ["verify"], "ext": True}
    assert parse_public_jwk(jwk) == soft.jwk


@pytest.mark.parametrize(
    "mutate",
    [
        lambda jwk: "not a dict",
        lambda jwk: {**jwk, "kty": "RSA"},
        lambda jwk: {**jwk, "crv": "P-384"},
        lambda jwk: {**jwk, "x": jwk["x"][:-2]},
        lambda jwk: {**jwk, "y": "!!!"},
        lambda jwk: {**jwk, "d": "c2VjcmV0"},  # a private key must never leave the device
        lambda jwk: {**jwk, "y": b64url_encode((int.from_bytes(b"\x01" * 32, "big")).to_bytes(32, "big"))},
        lambda jwk: {key: value for key, value in jwk.items() if key != "x"},
    ],
)
def test_bad_public_keys_are_refused(mutate: object) -> None:
    jwk = SoftDevice().jwk
    with pytest.raises(InvalidPublicKey):
        parse_public_jwk(mutate(jwk))  # type: ignore[operator]


def test_a_webcrypto_signature_verifies_and_a_tampered_one_does_not() -> None:
    soft = SoftDevice()
    message = b'{"hello":"world"}'
    signature = soft.sign(message)
    assert verify_signature(soft.jwk, message, signature)
    assert not verify_signature(soft.jwk, message + b" ", signature)
    assert not verify_signature(SoftDevice().jwk, message, signature), "another key"
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert not verify_signature(soft.jwk, message, flipped)
    assert not verify_signature(soft.jwk, message, signature[:40])
    assert not verify_signature(soft.jwk, message, "not base64url!")
    assert not verify_signature(soft.jwk, message, "")
    assert not verify_signature(soft.jwk, message, "A" * 500)


def test_a_der_signature_is_not_accepted() -> None:
    """WebCrypto gives raw r||s: a DER signature (what OpenSSL gives) is something else."""
    soft = SoftDevice()
    der = soft.key.sign(b"x", ec.ECDSA(hashes.SHA256()))
    assert not verify_signature(soft.jwk, b"x", b64url_encode(der))


# -- what a device signs ------------------------------------------------------------------------------


def test_the_decision_bytes_are_canonical_json() -> None:
    signed = decision_signing_input("ar_1", "La Poste", "42", Decision.APPROVE, "n0nce")
    assert signed == (
        b'{"binding_code":"42","decision":"approve","nonce":"n0nce","request_id":"ar_1","service":"La Poste"}'
    )
    assert json.loads(signed)["service"] == "La Poste"
    accented = decision_signing_input("ar_1", "Sécurité Sociale", "42", Decision.DENY, "n")
    assert "Sécurité".encode() in accented, "UTF-8 as JSON.stringify then TextEncoder give it"


def test_each_signed_field_changes_the_bytes() -> None:
    base = ("ar_1", "La Poste", "42", Decision.APPROVE, "n0nce")
    reference = decision_signing_input(*base)
    for index, other in enumerate(("ar_2", "La Banque", "43", Decision.DENY, "other")):
        changed = list(base)
        changed[index] = other
        assert decision_signing_input(*changed) != reference  # type: ignore[arg-type]


def test_listing_bytes_name_the_tenant_the_device_and_the_time() -> None:
    assert listing_signing_input("laposte", "dv_1", 1700000000) == (
        b'{"action":"pending","device_id":"dv_1","tenant":"laposte","timestamp":1700000000}'
    )


# -- devices, activations, requests ------------------------------------------------------------------------


def test_a_device_counts_the_codes_left() -> None:
    device = Device("dv_1", 1, 7, "Phone", SoftDevice().jwk, "digest", NOW, failed_pins=7)
    assert device.active
    assert device.pins_left(DEFAULT_APP_POLICY) == 3
    assert device.pins_left(AppPolicy(max_pin_failures=5)) == 0


def test_labels_are_tidied() -> None:
    assert clean_device_label("  Mon   téléphone\n", "x") == "Mon téléphone"
    assert clean_device_label("\x00\x07", "Sésame") == "Sésame"
    assert len(clean_device_label("a" * 500, "x")) == 60


def test_an_activation_code_is_usable_while_open_fresh_and_untried() -> None:
    policy = DEFAULT_APP_POLICY
    activation = DeviceActivation(
        "da_1", 1, 7, "hash", "digest", NOW, NOW + timedelta(minutes=10), NOW, NOW + timedelta(minutes=20)
    )
    assert activation.code_usable(NOW, policy)
    assert not activation.code_usable(NOW + timedelta(minutes=10), policy)
    assert activation.open(NOW + timedelta(minutes=15))
    assert not activation.open(NOW + timedelta(minutes=20))
    assert activation.resend_wait(NOW + timedelta(seconds=20), policy) == 40
    assert activation.resend_wait(NOW + timedelta(minutes=2), policy) == 0
    activation.code_tries = policy.activation_code_max_tries
    assert not activation.code_usable(NOW, policy)


def _request(**changes: object) -> ApprovalRequest:
    values: dict[str, object] = {
        "id": "ar_1",
        "tenant_id": 1,
        "account_id": 7,
        "kind": ApprovalKind.WEB_LOGIN,
        "service_name": "La Poste",
        "binding_code": "42",
        "binding_mode": BindingMode.ENTER,
        "nonce": "n0nce",
        "poll_handle_hash": "h",
        "created_at": NOW,
        "expires_at": NOW + timedelta(seconds=DEFAULT_APP_POLICY.approval_ttl_seconds),
    }
    values.update(changes)
    return ApprovalRequest(**values)  # type: ignore[arg-type]


def test_a_pending_request_expires_after_two_minutes_by_default() -> None:
    request = _request()
    assert request.expires_at - request.created_at == timedelta(minutes=2)
    assert request.status_at(NOW + timedelta(seconds=119)) is ApprovalStatus.PENDING
    assert request.status_at(NOW + timedelta(seconds=120)) is ApprovalStatus.EXPIRED
    request.status = ApprovalStatus.APPROVED
    assert request.status_at(NOW + timedelta(hours=1)) is ApprovalStatus.APPROVED, "a decision stays"


def test_number_matching_and_the_binding_message() -> None:
    entered = _request()
    assert entered.binding_message is None, "the device must not know the number to type"
    assert entered.binding_matches(" 42 ")
    assert not entered.binding_matches("24")
    compared = _request(binding_code="Virement de 30 €", binding_mode=BindingMode.COMPARE)
    assert compared.binding_message == "Virement de 30 €"
    assert compared.binding_matches("Virement  de 30 €")


def test_a_request_signs_its_own_fields() -> None:
    request = _request()
    assert request.signing_input("42", Decision.APPROVE) == decision_signing_input(
        "ar_1", "La Poste", "42", Decision.APPROVE, "n0nce"
    )


def test_the_app_login_is_two_factors() -> None:
    assert APP_AMR == ("pop", "pin", "mfa")


def test_the_default_policy_and_a_tenant_override() -> None:
    assert DEFAULT_APP_POLICY.max_pin_failures == 10
    assert app_policy(TenantPolicy()) is DEFAULT_APP_POLICY
    with pytest.raises(ValueError, match="max_pin_failures"):
        AppPolicy(max_pin_failures=1)

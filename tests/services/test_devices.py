"""Activating the phone app on the real test database: the password, the SMS code to the verified
mobile, the 4-digit code, the key; and how an activated device proves itself when it calls."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.devices import PIN_KEYED_PURPOSE, DeviceStatus, pin_message
from sesame.domain.identity import VerifiedIdentity
from sesame.domain.tenants import Tenant
from sesame.services.context import RequestContext
from sesame.services.devices import DeviceError, DeviceService
from sesame.services.outbox import list_messages
from tests.app_support import (
    CTX,
    MOBILE,
    PASSWORD,
    PIN,
    SoftDevice,
    activate,
    identity_of,
    sms_codes,
    verified_account,
)
from tests.services.accounts_support import audit_events, create_account, demo_tenant

EMAIL = "marie.app@example.fr"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return demo_tenant(container)


@pytest.fixture
def verified(container: Container, tenant: Tenant) -> tuple[Account, VerifiedIdentity]:
    return verified_account(container, tenant, EMAIL)


@pytest.fixture
def devices(container: Container) -> DeviceService:
    return container.devices


def emails(container: Container, template: str) -> list[str]:
    return [
        entry.message.recipient
        for entry in list_messages(container.uow, limit=500)
        if entry.message.template == template
    ]


def errors_of(call: object) -> DeviceError:
    with pytest.raises(DeviceError) as raised:
        call()  # type: ignore[operator]
    return raised.value


# -- activation -----------------------------------------------------------------------------------------


def test_activation_registers_the_key_and_makes_the_identity_usable_at_eidas2(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    account, identity = verified
    assert not identity.usable_for_eidas2
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    assert started.mobile_masked == "+33 6 •• •• •• 78"
    codes = sms_codes(container)
    assert len(codes) == 1, "one SMS to the identity's verified mobile"
    devices.verify_code(tenant, started.activation_id, started.token, codes[0], CTX)
    soft = SoftDevice()
    device = devices.register(tenant, started.activation_id, started.token, soft.jwk, PIN, "Mon téléphone", CTX)
    assert device.status is DeviceStatus.ACTIVE and device.account_id == account.id
    assert device.public_key == soft.jwk
    # The code is kept as a keyed hash bound to the device (a digest holds any 4 digits by chance
    # about once in a thousand: the digest itself is checked, not its substrings).
    assert re.fullmatch(r"[0-9a-f]{64}", device.pin_digest)
    assert device.pin_digest == container.keyed.digest(PIN_KEYED_PURPOSE, pin_message(device.id, PIN))
    after = identity_of(container, account.id)
    assert after is not None and after.app_activated_at == container.clock.now() and after.usable_for_eidas2
    assert emails(container, "device_activated") == [EMAIL]
    types = [record.event.type for record in audit_events(container, tenant, "device.")]
    assert types == ["device.activation_started", "device.activation_code_verified", "device.registered"]
    # The SMS is scrubbable (it carries a code), and the code is nowhere in the audit log.
    sms = next(e.message for e in list_messages(container.uow) if e.message.template == "device_activation_code")
    assert sms.sensitive
    assert all(codes[0] not in str(record.event.details) for record in audit_events(container, tenant))


def test_the_activation_is_single_use(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    devices.verify_code(tenant, started.activation_id, started.token, sms_codes(container)[0], CTX)
    devices.register(tenant, started.activation_id, started.token, SoftDevice().jwk, PIN, "A", CTX)
    error = errors_of(
        lambda: devices.register(tenant, started.activation_id, started.token, SoftDevice().jwk, PIN, "B", CTX)
    )
    assert error.code == "activation_used"
    assert len(devices.devices_of(verified[0].id)) == 1


def test_the_password_is_checked_with_the_login_rules(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    wrong = errors_of(lambda: devices.start_activation(tenant, EMAIL, "Wrong-Password-1", CTX))
    unknown = errors_of(lambda: devices.start_activation(tenant, "nobody@example.fr", "Wrong-Password-1", CTX))
    assert wrong.code == unknown.code == "invalid_credentials"
    assert sms_codes(container) == []
    # laposte suspends after 5 failures (its lockout policy), here too
    for _ in range(4):
        errors_of(lambda: devices.start_activation(tenant, EMAIL, "Wrong-Password-1", CTX))
    suspended = errors_of(lambda: devices.start_activation(tenant, EMAIL, PASSWORD, CTX))
    assert suspended.code == "suspended" and suspended.retry_at is not None


def test_a_locked_account_cannot_activate(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    container.accounts.lock(tenant, EMAIL, "fraud", RequestContext(actor="support:alice"))
    assert errors_of(lambda: devices.start_activation(tenant, EMAIL, PASSWORD, CTX)).code == "locked"
    assert sms_codes(container) == []


def test_an_account_without_a_verified_identity_cannot_activate(
    container: Container, tenant: Tenant, devices: DeviceService
) -> None:
    create_account(container, tenant, "sans.identite@example.fr", PASSWORD)
    error = errors_of(lambda: devices.start_activation(tenant, "sans.identite@example.fr", PASSWORD, CTX))
    assert error.code == "no_identity"
    assert [r.event.details["reason"] for r in audit_events(container, tenant, "device.activation_refused")] == [
        "no_identity"
    ]


def test_a_tenant_without_the_app_offers_no_activation(container: Container, devices: DeviceService) -> None:
    other = demo_tenant(container, "poste-ch")
    assert errors_of(lambda: devices.start_activation(other, EMAIL, PASSWORD, CTX)).code == "app_unavailable"


def test_wrong_sms_codes_are_counted_and_end_the_activation(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    right = sms_codes(container)[0]
    wrong = "000000" if right != "000000" else "111111"
    remaining = []
    for _ in range(4):
        error = errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, wrong, CTX))
        assert error.code == "code_wrong"
        remaining.append(error.remaining)
    assert remaining == [4, 3, 2, 1]
    assert errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, "abc", CTX)).code == (
        "code_locked"
    )
    locked = errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, right, CTX))
    assert locked.code == "code_locked", "no try left, even for the right code"
    assert (
        errors_of(
            lambda: devices.register(tenant, started.activation_id, started.token, SoftDevice().jwk, PIN, "x", CTX)
        ).code
        == "code_not_verified"
    )


def test_an_expired_code_and_an_expired_activation(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    verified: tuple[Account, VerifiedIdentity],
    devices: DeviceService,
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    code = sms_codes(container)[0]
    clock.advance(minutes=10)
    assert errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, code, CTX)).code == (
        "code_expired"
    )
    clock.advance(minutes=10)
    assert errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, code, CTX)).code == (
        "activation_expired"
    )


def test_resending_waits_keeps_the_tries_and_replaces_the_code(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    verified: tuple[Account, VerifiedIdentity],
    devices: DeviceService,
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    first = sms_codes(container)[0]
    too_soon = errors_of(lambda: devices.resend_code(tenant, started.activation_id, started.token, CTX))
    assert too_soon.code == "resend_too_soon" and too_soon.retry_at == clock.now() + timedelta(seconds=60)
    wrong = "000000" if first != "000000" else "111111"
    errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, wrong, CTX))
    clock.advance(seconds=60)
    devices.resend_code(tenant, started.activation_id, started.token, CTX)
    second = sms_codes(container)[0]
    if second != first:
        old = errors_of(lambda: devices.verify_code(tenant, started.activation_id, started.token, first, CTX))
        assert old.code == "code_wrong" and old.remaining == 3, "the tries made before the resend still count"
    devices.verify_code(tenant, started.activation_id, started.token, second, CTX)


def test_sms_are_limited_per_account(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    verified: tuple[Account, VerifiedIdentity],
    devices: DeviceService,
) -> None:
    for _ in range(5):
        devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    error = errors_of(lambda: devices.start_activation(tenant, EMAIL, PASSWORD, CTX))
    assert error.code == "too_many_sms" and error.retry_at is not None
    assert len(sms_codes(container)) == 5
    clock.advance(hours=1)
    devices.start_activation(tenant, EMAIL, PASSWORD, CTX)


def test_a_wrong_activation_token_is_refused(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    code = sms_codes(container)[0]
    for activation_id, token in (
        (started.activation_id, "x" * 43),
        ("da_unknown", started.token),
        ("", ""),
        ("a" * 500, "b"),
    ):
        assert errors_of(lambda: devices.verify_code(tenant, activation_id, token, code, CTX)).code == (  # noqa: B023
            "activation_invalid"
        )
    other = demo_tenant(container, "poste-ch")
    assert errors_of(lambda: devices.verify_code(other, started.activation_id, started.token, code, CTX)).code == (
        "activation_invalid"
    )


@pytest.mark.parametrize(
    ("pin", "reason"), [("1234", "pin_sequence"), ("1985", "pin_birth_date"), ("12", "pin_format")]
)
def test_trivial_codes_are_refused_and_the_activation_stays_usable(
    container: Container,
    tenant: Tenant,
    verified: tuple[Account, VerifiedIdentity],
    devices: DeviceService,
    pin: str,
    reason: str,
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    devices.verify_code(tenant, started.activation_id, started.token, sms_codes(container)[0], CTX)
    error = errors_of(
        lambda: devices.register(tenant, started.activation_id, started.token, SoftDevice().jwk, pin, "x", CTX)
    )
    assert error.code == "pin_rejected" and error.reason == reason
    devices.register(tenant, started.activation_id, started.token, SoftDevice().jwk, PIN, "x", CTX)


def test_a_bad_public_key_is_refused(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity], devices: DeviceService
) -> None:
    started = devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    devices.verify_code(tenant, started.activation_id, started.token, sms_codes(container)[0], CTX)
    bad = {**SoftDevice().jwk, "crv": "P-521"}
    error = errors_of(lambda: devices.register(tenant, started.activation_id, started.token, bad, PIN, "x", CTX))
    assert error.code == "invalid_public_key"


def test_an_account_has_a_limited_number_of_active_devices(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity]
) -> None:
    for _ in range(5):
        activate(container, tenant, EMAIL)
    error = errors_of(lambda: activate(container, tenant, EMAIL))
    assert error.code == "too_many_devices"


# -- an activated device calls -----------------------------------------------------------------------------


def test_a_device_proves_itself_with_a_fresh_signature_used_once(
    container: Container, clock: FrozenClock, tenant: Tenant, verified: tuple[Account, VerifiedIdentity]
) -> None:
    device, soft = activate(container, tenant, EMAIL)
    devices = container.devices
    now = int(clock.now().timestamp())
    timestamp, signature = soft.listing(tenant, now)
    assert devices.authenticate_device(tenant, device.id, timestamp, signature).id == device.id
    assert errors_of(lambda: devices.authenticate_device(tenant, device.id, timestamp, signature)).code == (
        "replayed_signature"
    )
    stale = soft.listing(tenant, now - 301)
    assert errors_of(lambda: devices.authenticate_device(tenant, device.id, *stale)).code == "stale_signature"
    other_key = SoftDevice()
    other_key.device_id = device.id
    forged = other_key.listing(tenant, now)
    assert errors_of(lambda: devices.authenticate_device(tenant, device.id, *forged)).code == "bad_signature"
    wrong_time = (now + 1, soft.listing(tenant, now)[1])
    assert errors_of(lambda: devices.authenticate_device(tenant, device.id, *wrong_time)).code == "bad_signature"
    assert errors_of(lambda: devices.authenticate_device(tenant, "dv_unknown", *soft.listing(tenant, now))).code == (
        "unknown_device"
    )
    other = demo_tenant(container, "poste-ch")
    assert errors_of(lambda: devices.authenticate_device(other, device.id, *soft.listing(tenant, now))).code == (
        "unknown_device"
    )


def test_removing_the_last_device_ends_the_identity_s_eidas2_use(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity]
) -> None:
    account, _ = verified
    first, soft = activate(container, tenant, EMAIL)
    second, _ = activate(container, tenant, EMAIL)
    devices = container.devices
    assert devices.remove(tenant, account.id, first.id, CTX)
    assert not devices.remove(tenant, account.id, first.id, CTX), "removed already"
    still = identity_of(container, account.id)
    assert still is not None and still.usable_for_eidas2, "another device is active"
    assert devices.remove(tenant, account.id, second.id, CTX)
    after = identity_of(container, account.id)
    assert after is not None and after.app_activated_at is None and not after.usable_for_eidas2
    error = errors_of(
        lambda: devices.authenticate_device(
            tenant, first.id, *soft.listing(tenant, int(container.clock.now().timestamp()))
        )
    )
    assert error.code == "device_disabled"
    assert emails(container, "device_disabled") == [EMAIL, EMAIL]
    # Activating again (password + SMS to the verified mobile) makes a new device.
    third, _ = activate(container, tenant, EMAIL)
    assert third.id not in (first.id, second.id)
    again = identity_of(container, account.id)
    assert again is not None and again.usable_for_eidas2
    assert again.mobile == MOBILE


def test_remove_in_writes_in_the_callers_transaction_and_only_for_the_owner(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity]
) -> None:
    account, _ = verified
    device, _ = activate(container, tenant, EMAIL)
    stranger = create_account(container, tenant, "someone.else@example.fr")
    devices = container.devices
    with container.uow() as uow:
        for account_id, device_id in ((stranger.id, device.id), (account.id, "dv_unknown"), (account.id, "x" * 500)):
            assert not devices.remove_in(uow, tenant, account_id, device_id, CTX)
        assert devices.remove_in(uow, tenant, account.id, device.id, CTX)
        uow.rollback()  # the caller's step failed: nothing of it stays
    with container.uow(readonly=True) as uow:
        kept = uow.devices.get(device.id)
    assert kept is not None and kept.status is DeviceStatus.ACTIVE
    assert emails(container, "device_disabled") == []
    with container.uow() as uow:
        assert devices.remove_in(uow, tenant, account.id, device.id, CTX)
        uow.commit()
    with container.uow(readonly=True) as uow:
        removed = uow.devices.get(device.id)
    assert removed is not None and removed.status is DeviceStatus.DISABLED and removed.disabled_reason == "removed"
    assert emails(container, "device_disabled") == [EMAIL]
    assert [r.event.details["reason"] for r in audit_events(container, tenant, "device.disabled")] == ["removed"]

"""Devices, activations and approval requests round-trip through SQL; every "one winner" change
is a conditional UPDATE (a second decision, consumption or use changes nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.devices import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    BindingMode,
    Device,
    DeviceActivation,
    DeviceStatus,
)
from sesame.domain.tenants import TenantPolicy
from tests.app_support import SoftDevice
from tests.identity_support import NOW


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


@pytest.fixture
def ids(uow: SqlUnitOfWorkFactory) -> tuple[int, int]:
    """(tenant id, account id)."""
    with uow() as tx:
        tenant = tx.tenants.add("laposte", "La Poste", TenantPolicy(), NOW)
        account = Account(
            id=0,
            tenant_id=tenant.id,
            email="a@example.fr",
            email_verified_at=NOW,
            given_name="A",
            family_name="B",
            status=AccountStatus.ACTIVE,
            locale="fr",
            created_at=NOW,
            updated_at=NOW,
        )
        account_id = tx.accounts.add(account).id
        tx.commit()
    return tenant.id, account_id


def _device(ids: tuple[int, int], device_id: str = "dv_1") -> Device:
    return Device(device_id, ids[0], ids[1], "Téléphone", SoftDevice().jwk, "f" * 64, NOW)


def _request(ids: tuple[int, int], request_id: str = "ar_1", account: bool = True) -> ApprovalRequest:
    return ApprovalRequest(
        id=request_id,
        tenant_id=ids[0],
        account_id=ids[1] if account else None,
        kind=ApprovalKind.CIBA,
        service_name="Assurance Maladie",
        binding_code="Code 7F3K",
        binding_mode=BindingMode.COMPARE,
        nonce="nonce",
        poll_handle_hash="h" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=2),
        acr_requested="eidas2",
        scope="openid profile",
        client_id="ameli",
    )


def test_a_device_round_trips_and_counts_wrong_codes(uow: SqlUnitOfWorkFactory, ids: tuple[int, int]) -> None:
    device = _device(ids)
    with uow() as tx:
        tx.devices.add(device)
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.devices.get("dv_1") == device
        assert tx.devices.of_account(ids[1]) == [device]
        assert tx.devices.count_active(ids[1]) == 1
    with uow() as tx:
        assert tx.devices.count_pin_failure("dv_1", 3, NOW, "pin_failures") == (1, False)
        assert tx.devices.count_pin_failure("dv_1", 3, NOW, "pin_failures") == (2, False)
        tx.devices.pin_succeeded("dv_1", NOW)
        assert [tx.devices.count_pin_failure("dv_1", 3, NOW, "pin_failures") for _ in range(3)] == [
            (1, False),
            (2, False),
            (3, True),
        ]
        assert tx.devices.count_pin_failure("dv_1", 3, NOW, "pin_failures") == (0, False), "disabled: not counted"
        assert not tx.devices.disable("dv_1", NOW, "removed"), "disabled already"
        tx.commit()
    with uow(readonly=True) as tx:
        disabled = tx.devices.get("dv_1")
        assert disabled is not None and disabled.status is DeviceStatus.DISABLED
        assert disabled.disabled_reason == "pin_failures" and disabled.disabled_at == NOW
        assert tx.devices.count_active(ids[1]) == 0


def test_an_activation_is_tried_verified_and_used_once(uow: SqlUnitOfWorkFactory, ids: tuple[int, int]) -> None:
    activation = DeviceActivation(
        "da_1", ids[0], ids[1], "t" * 64, "d" * 64, NOW, NOW + timedelta(minutes=10), NOW, NOW + timedelta(minutes=20)
    )
    with uow() as tx:
        tx.devices.add_activation(activation)
        assert not tx.devices.use_activation("da_1", NOW), "not verified yet"
        assert tx.devices.count_activation_try("da_1", 2)
        assert tx.devices.count_activation_try("da_1", 2)
        assert not tx.devices.count_activation_try("da_1", 2)
        assert tx.devices.verify_activation_code("da_1", NOW)
        assert not tx.devices.verify_activation_code("da_1", NOW)
        assert tx.devices.use_activation("da_1", NOW)
        assert not tx.devices.use_activation("da_1", NOW)
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.devices.get_activation("da_1")
        assert stored is not None and stored.code_tries == 2 and stored.used_at == NOW
    with uow() as tx:
        assert tx.devices.delete_expired_activations(NOW + timedelta(hours=1)) == 1
        tx.commit()


def test_a_request_is_decided_once_and_consumed_once(uow: SqlUnitOfWorkFactory, ids: tuple[int, int]) -> None:
    request = _request(ids)
    with uow() as tx:
        tx.devices.add(_device(ids))
        tx.approvals.add(request)
        tx.approvals.add(_request(ids, "ar_nobody", account=False))
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.approvals.get("ar_1") == request
        assert tx.approvals.by_poll_handle("h" * 64) is not None
        assert [r.id for r in tx.approvals.pending_for_account(ids[1], NOW)] == ["ar_1"]
        assert tx.approvals.pending_for_account(ids[1], NOW + timedelta(minutes=2)) == []
    with uow() as tx:
        assert not tx.approvals.consume("ar_1", NOW), "not approved yet"
        assert not tx.approvals.decide("ar_1", ApprovalStatus.APPROVED, NOW + timedelta(minutes=2), device_id="dv_1")
        assert tx.approvals.decide("ar_1", ApprovalStatus.APPROVED, NOW, device_id="dv_1")
        assert not tx.approvals.decide("ar_1", ApprovalStatus.DENIED, NOW, device_id="dv_1"), "one winner"
        assert tx.approvals.consume("ar_1", NOW)
        assert not tx.approvals.consume("ar_1", NOW)
        with pytest.raises(ValueError, match="approved or denied"):
            tx.approvals.decide("ar_nobody", ApprovalStatus.EXPIRED, NOW, device_id=None)
        tx.commit()
    with uow(readonly=True) as tx:
        decided = tx.approvals.get("ar_1")
        assert decided is not None and decided.status is ApprovalStatus.APPROVED
        assert decided.device_id == "dv_1" and decided.decided_at == NOW and decided.consumed_at == NOW
        nobody = tx.approvals.get("ar_nobody")
        assert nobody is not None and nobody.account_id is None
    with uow() as tx:
        assert tx.approvals.delete_before(NOW + timedelta(hours=1)) == 2
        tx.commit()


def test_by_poll_handle_settles_a_tie_the_same_way(uow: SqlUnitOfWorkFactory, ids: tuple[int, int]) -> None:
    """The newest request of a handle; of two of the same instant, always the same one (the
    greatest id). "ar_c" is written first and rewritten (on PostgreSQL its row moves to the end)."""
    older = _request(ids, "ar_d")
    older.created_at = NOW - timedelta(seconds=1)
    with uow() as tx:
        for request in (_request(ids, "ar_c"), _request(ids, "ar_a"), older, _request(ids, "ar_b")):
            tx.approvals.add(request)
        tx.commit()
    with uow() as tx:
        assert tx.approvals.decide("ar_c", ApprovalStatus.DENIED, NOW, device_id=None)
        tx.commit()
    with uow(readonly=True) as tx:
        found = tx.approvals.by_poll_handle("h" * 64)
        assert found is not None and found.id == "ar_c"

"""The SQL repository of second factors: one winner for every "use", codes gone with their set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.errors import AlreadyExists
from sesame.domain.factors import FactorKind, PasskeyDeviceType, SecondFactor
from sesame.domain.tenants import TenantPolicy

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


@pytest.fixture
def account(uow: SqlUnitOfWorkFactory) -> Account:
    with uow() as tx:
        tenant = tx.tenants.add("acme", "ACME", TenantPolicy(), NOW)
        account = tx.accounts.add(
            Account(
                id=0,
                tenant_id=tenant.id,
                email="zoe@example.fr",
                email_verified_at=NOW,
                given_name="Zoé",
                family_name="Lefèvre",
                status=AccountStatus.ACTIVE,
                locale="fr",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        tx.commit()
    return account


def factor(account: Account, kind: FactorKind, **fields: object) -> SecondFactor:
    fields.setdefault("label", "")
    return SecondFactor(id=0, account_id=account.id, tenant_id=account.tenant_id, kind=kind, created_at=NOW, **fields)  # type: ignore[arg-type]


def add(uow: SqlUnitOfWorkFactory, new: SecondFactor) -> SecondFactor:
    with uow() as tx:
        stored = tx.factors.add(new)
        tx.commit()
    return stored


def test_factors_round_trip(uow: SqlUnitOfWorkFactory, account: Account) -> None:
    key = add(
        uow,
        factor(
            account,
            FactorKind.PASSKEY,
            credential_id="Y3JlZA",
            public_key="cHVi",
            sign_count=3,
            device_type=PasskeyDeviceType.MULTI_DEVICE,
            backed_up=True,
            transports=["internal", "hybrid"],
            aaguid="00000000-0000-0000-0000-000000000000",
        ),
    )
    app = add(uow, factor(account, FactorKind.TOTP, secret_encrypted="sealed", last_step=10, label="Téléphone"))
    with uow(readonly=True) as tx:
        listed = tx.factors.of_account(account.id)
        found = tx.factors.by_credential_id("Y3JlZA")
    assert [f.id for f in listed] == [key.id, app.id]
    assert found == listed[0] and found.transports == ["internal", "hybrid"] and found.backed_up
    assert listed[1].secret_encrypted == "sealed" and listed[1].label == "Téléphone"


def test_a_credential_id_is_registered_once(uow: SqlUnitOfWorkFactory, account: Account) -> None:
    add(uow, factor(account, FactorKind.PASSKEY, credential_id="c2FtZQ", public_key="a"))
    with pytest.raises(AlreadyExists):
        add(uow, factor(account, FactorKind.PASSKEY, credential_id="c2FtZQ", public_key="b"))


def test_a_totp_step_is_used_once_and_never_an_older_one(uow: SqlUnitOfWorkFactory, account: Account) -> None:
    app = add(uow, factor(account, FactorKind.TOTP, secret_encrypted="sealed"))
    with uow() as tx:
        assert tx.factors.use_totp_step(app.id, 100, NOW)
        assert not tx.factors.use_totp_step(app.id, 100, LATER)
        assert not tx.factors.use_totp_step(app.id, 99, LATER)
        assert tx.factors.use_totp_step(app.id, 101, LATER)
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.factors.get(app.id)
    assert stored is not None and stored.last_step == 101 and stored.last_used_at == LATER


def test_a_passkey_counter_must_grow_unless_the_key_has_none(uow: SqlUnitOfWorkFactory, account: Account) -> None:
    counting = add(uow, factor(account, FactorKind.PASSKEY, credential_id="a2V5MQ", public_key="a", sign_count=5))
    silent = add(uow, factor(account, FactorKind.PASSKEY, credential_id="a2V5Mg", public_key="b"))
    with uow() as tx:
        assert not tx.factors.use_passkey(counting.id, 5, NOW)
        assert not tx.factors.use_passkey(counting.id, 0, NOW)
        assert tx.factors.use_passkey(counting.id, 6, NOW)
        assert tx.factors.use_passkey(silent.id, 0, NOW) and tx.factors.use_passkey(silent.id, 0, LATER)
        tx.commit()


def test_recovery_codes_are_single_use_and_go_with_their_set(uow: SqlUnitOfWorkFactory, account: Account) -> None:
    codes = add(uow, factor(account, FactorKind.RECOVERY_CODES))
    with uow() as tx:
        tx.factors.add_recovery_codes(codes.id, ["h1", "h2", "h3"])
        tx.commit()
    with uow() as tx:
        assert tx.factors.use_recovery_code(codes.id, "h2", NOW)
        assert not tx.factors.use_recovery_code(codes.id, "h2", LATER)
        assert not tx.factors.use_recovery_code(codes.id, "nope", LATER)
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.factors.get(codes.id)
    assert stored is not None and stored.codes_left == 2 and stored.last_used_at == NOW
    with uow() as tx:
        assert tx.factors.remove(codes.id)
        assert not tx.factors.remove(codes.id)
        tx.commit()
    with uow() as tx:
        assert tx.factors.of_account(account.id) == []
        assert not tx.factors.use_recovery_code(codes.id, "h1", LATER)

"""The SQL repositories of customers' postal profiles and admin API keys (SQLite, or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.api_keys import ApiKey
from sesame.domain.customers import CustomerProfile
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.domain.tenants import TenantPolicy

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


@pytest.fixture
def account_id(uow: SqlUnitOfWorkFactory) -> int:
    with uow() as tx:
        tenant = tx.tenants.add("bank", "Bank", TenantPolicy(), NOW)
        account = tx.accounts.add(
            Account(
                id=0,
                tenant_id=tenant.id,
                email=None,
                email_verified_at=None,
                given_name="Zoé",
                family_name="Lefèvre",
                status=AccountStatus.ACTIVE,
                locale="fr",
                created_at=NOW,
                updated_at=NOW,
                customer_number="7992739875",
            )
        )
        tx.commit()
    return account.id


def test_profiles_round_trip(uow: SqlUnitOfWorkFactory, account_id: int) -> None:
    profile = CustomerProfile(account_id, ["12 rue des Lilas", "75011 Paris"], NOW, NOW, birth_date=date(1985, 4, 7))
    with uow() as tx:
        tx.customers.add(profile)
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.customers.get(account_id) == profile
        assert tx.customers.get(account_id + 1) is None
    with uow() as tx, pytest.raises(AlreadyExists):
        tx.customers.add(profile)
    profile.address_lines = ["1 place de la Gare", "69002 Lyon"]
    profile.updated_at = NOW + timedelta(days=1)
    with uow() as tx:
        tx.customers.save(profile)
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.customers.get(account_id)
    assert stored is not None and stored.address_lines == ["1 place de la Gare", "69002 Lyon"]
    with uow() as tx, pytest.raises(NotFound):
        tx.customers.save(CustomerProfile(account_id + 1, ["x"], NOW, NOW))


def test_api_keys(uow: SqlUnitOfWorkFactory, account_id: int) -> None:
    with uow(readonly=True) as tx:
        tenant_id = tx.tenants.get_by_slug("bank").id  # type: ignore[union-attr]
    key = ApiKey(0, tenant_id, "0123456789ab", "f" * 64, "Back office", NOW, "cli")
    with uow() as tx:
        assert tx.api_keys.add(key).id > 0
        tx.commit()
    with uow() as tx, pytest.raises(AlreadyExists):
        tx.api_keys.add(ApiKey(0, tenant_id, "0123456789ab", "e" * 64, "Twice", NOW, "cli"))
    with uow() as tx:
        tx.api_keys.touch("0123456789ab", NOW + timedelta(hours=1))
        assert not tx.api_keys.revoke(tenant_id + 1, "0123456789ab", NOW)  # another tenant's: no
        assert tx.api_keys.revoke(tenant_id, "0123456789ab", NOW + timedelta(hours=2))
        assert not tx.api_keys.revoke(tenant_id, "0123456789ab", NOW + timedelta(hours=3))  # once
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.api_keys.by_key_id("0123456789ab")
        assert tx.api_keys.by_key_id("ba9876543210") is None
        assert [k.key_id for k in tx.api_keys.list(tenant_id)] == ["0123456789ab"]
    assert stored is not None and not stored.active
    assert (stored.last_used_at, stored.revoked_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=2))

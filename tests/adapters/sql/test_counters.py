"""What is particular to the database counters: one row per key, purging, living beside transactions.

The shared semantics (and the 8-process exactness test) are in tests/adapters/test_counters_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from sesame.adapters.sql.counters import SqlCounters
from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import CounterRow
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    built = Database(database_url)
    yield built
    built.dispose()


@pytest.fixture
def counters(database: Database) -> SqlCounters:
    return SqlCounters(database)


def rows(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(CounterRow)).scalar_one())


def test_a_restarted_counter_reuses_its_row(counters: SqlCounters, database: Database) -> None:
    counters.increment("k", 60, T0)
    counters.increment("k", 60, T0 + timedelta(minutes=5))
    assert rows(database) == 1
    assert counters.get("k", T0 + timedelta(minutes=5)) == 1


def test_purge_expired(counters: SqlCounters, database: Database) -> None:
    counters.increment("short", 60, T0)
    counters.increment("long", 3600, T0)
    counters.set_until("suspended", 1, T0 + timedelta(minutes=2), T0)
    assert counters.purge_expired(T0 + timedelta(seconds=59)) == 0
    assert counters.purge_expired(T0 + timedelta(minutes=2)) == 2
    assert rows(database) == 1
    assert counters.get("long", T0 + timedelta(minutes=2)) == 1


def test_counts_are_committed_at_once_whatever_the_business_transaction_does(
    counters: SqlCounters, database: Database
) -> None:
    uow = SqlUnitOfWorkFactory(database)
    with uow(readonly=True) as unit:
        unit.tenants.list()  # a read transaction is open (SQLite WAL: it blocks no writer)
        assert counters.increment("login:failures", 60, T0) == 1
    # The login's own transaction ended without commit; the failure stays counted.
    with database.read_engine.connect() as connection:
        stored = connection.execute(text("SELECT value FROM counters WHERE key = 'login:failures'")).scalar_one()
    assert stored == 1

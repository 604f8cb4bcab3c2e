"""The SQL audit log: chains per tenant, exact round trips, no fork under concurrent appends."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event

import pytest
from sqlalchemy import text

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import AuditHeadRow
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.audit import GENESIS_HASH, AuditEvent, AuditEventRejected, ChainHead, verify_chain

T0 = datetime(2026, 1, 15, 9, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    built = Database(database_url)
    yield built
    built.dispose()


@pytest.fixture
def uow(database: Database) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(database)


def event(tenant_id: int | None, type: str = "login.failed", **fields: object) -> AuditEvent:
    return AuditEvent(tenant_id=tenant_id, type=type, occurred_at=T0, **fields)  # type: ignore[arg-type]


def append(uow: SqlUnitOfWorkFactory, *events: AuditEvent) -> None:
    with uow() as unit:
        for one in events:
            unit.audit.append(one)
        unit.commit()


def test_appends_build_a_chain_that_reads_back_exactly(uow: SqlUnitOfWorkFactory) -> None:
    moment = datetime(2026, 3, 29, 1, 30, 59, 999999, tzinfo=UTC)
    written = []
    with uow() as unit:
        for n in range(3):
            written.append(
                unit.audit.append(
                    AuditEvent(
                        tenant_id=4,
                        type="login.failed",
                        occurred_at=moment + timedelta(microseconds=n),
                        actor="user:42",
                        subject="account:42",
                        ip="2001:db8::1",
                        correlation_id="req-1",
                        details={"method": "password", "nested": {"list": [1, "é", None, True]}},
                    )
                )
            )
        unit.commit()
    with uow(readonly=True) as unit:
        read = list(unit.audit.chain(4))
        head = unit.audit.head(4)
    assert read == written
    assert [r.seq for r in read] == [1, 2, 3]
    assert read[0].prev_hash == GENESIS_HASH
    assert read[2].event.occurred_at == moment + timedelta(microseconds=2)
    assert read[2].event.occurred_at.tzinfo is not None
    assert head == ChainHead(seq=3, last_hash=read[-1].hash)
    assert verify_chain(4, read, head).intact


def test_tenants_have_independent_chains(uow: SqlUnitOfWorkFactory) -> None:
    append(uow, event(1), event(2), event(1), event(None), event(2), event(1))
    with uow(readonly=True) as unit:
        assert [r.seq for r in unit.audit.chain(1)] == [1, 2, 3]
        assert [r.seq for r in unit.audit.chain(2)] == [1, 2]
        assert [r.seq for r in unit.audit.chain(None)] == [1]
        assert unit.audit.chain(2)[0].prev_hash == GENESIS_HASH
        assert list(unit.audit.chains()) == [None, 1, 2]
        for tenant_id in (None, 1, 2):
            assert verify_chain(tenant_id, unit.audit.chain(tenant_id), unit.audit.head(tenant_id)).intact


def test_chain_pages_by_seq(uow: SqlUnitOfWorkFactory) -> None:
    append(uow, *[event(3) for _ in range(7)])
    with uow(readonly=True) as unit:
        assert [r.seq for r in unit.audit.chain(3, after_seq=2, limit=3)] == [3, 4, 5]
        assert [r.seq for r in unit.audit.chain(3, after_seq=5, limit=3)] == [6, 7]


def test_a_rolled_back_append_leaves_no_trace(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as unit:
        unit.audit.append(event(1))  # no commit
    append(uow, event(1))
    with uow(readonly=True) as unit:
        assert [r.seq for r in unit.audit.chain(1)] == [1]
        assert unit.audit.head(1) == ChainHead(1, unit.audit.chain(1)[0].hash)


def test_an_append_writes_the_sessions_pending_rows_first(uow: SqlUnitOfWorkFactory) -> None:
    # An append runs Core statements, past the ORM: it must still flush what the session holds
    # (as an ORM statement would), or that row would be written after the record, here colliding.
    with uow() as unit:
        assert unit.session is not None
        unit.session.add(AuditHeadRow(chain=7, seq=0, last_hash=GENESIS_HASH))
        record = unit.audit.append(event(7))
        assert not unit.session.new
        unit.commit()
    assert (record.seq, record.prev_hash) == (1, GENESIS_HASH)
    with uow(readonly=True) as unit:
        assert verify_chain(7, unit.audit.chain(7), unit.audit.head(7)).intact
        assert unit.audit.head(7) == ChainHead(1, record.hash)


def test_a_secret_is_refused_and_nothing_is_written(uow: SqlUnitOfWorkFactory) -> None:
    with pytest.raises(AuditEventRejected), uow() as unit:
        unit.audit.append(event(1, details={"password": "hunter2"}))
    with uow(readonly=True) as unit:
        assert unit.audit.head(1) is None
        assert list(unit.audit.chains()) == []


def test_recent_filters_and_orders_newest_first(uow: SqlUnitOfWorkFactory) -> None:
    append(uow, event(1, "a"), event(2, "b"), event(1, "b"), event(None, "b"))
    with uow(readonly=True) as unit:
        assert [(r.event.tenant_id, r.event.type) for r in unit.audit.recent(10)] == [
            (None, "b"),
            (1, "b"),
            (2, "b"),
            (1, "a"),
        ]
        assert [r.event.type for r in unit.audit.recent(10, tenant_ids=[1])] == ["b", "a"]
        assert [r.event.tenant_id for r in unit.audit.recent(10, type="b", tenant_ids=[None, 2])] == [None, 2]
        assert len(unit.audit.recent(2)) == 2


def test_chains_include_rows_without_a_head(uow: SqlUnitOfWorkFactory, database: Database) -> None:
    append(uow, event(1))
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (chain, seq, tenant_id, occurred_at, type, actor, subject, ip,"
                " correlation_id, details, prev_hash, hash) VALUES (9, 1, 9, :at, 'forged', '', '', '', '', '{}',"
                " :genesis, :genesis)"
            ),
            {"at": T0.replace(tzinfo=None), "genesis": GENESIS_HASH},
        )
    with uow(readonly=True) as unit:
        assert list(unit.audit.chains()) == [1, 9]
        assert unit.audit.head(9) is None


# -- concurrency: several processes append to one chain --------------------------------------------

PROCESSES = 6
APPENDS = 25


def append_many(url: str, worker: int, start: Event) -> None:
    """One worker process: its own engine, one transaction per append, as a web worker does."""
    database = Database(url)
    uow = SqlUnitOfWorkFactory(database)
    start.wait(30)
    try:
        for n in range(APPENDS):
            append(uow, event(1, actor=f"worker:{worker}", details={"n": n}))
    finally:
        database.dispose()


def run_concurrent_appends(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=append_many, args=(url, w, start)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * PROCESSES


def assert_one_unbroken_chain(url: str) -> None:
    database = Database(url)
    try:
        with SqlUnitOfWorkFactory(database)(readonly=True) as unit:
            records = list(unit.audit.chain(1, limit=10_000))
            head = unit.audit.head(1)
    finally:
        database.dispose()
    assert [r.seq for r in records] == list(range(1, PROCESSES * APPENDS + 1))
    assert verify_chain(1, records, head).intact
    per_worker = {
        w: sorted(r.event.details["n"] for r in records if r.event.actor == f"worker:{w}") for w in range(PROCESSES)
    }
    assert per_worker == {w: list(range(APPENDS)) for w in range(PROCESSES)}


@pytest.mark.slow
def test_concurrent_processes_never_fork_a_sqlite_chain(sqlite_url: str) -> None:
    run_concurrent_appends(sqlite_url)
    assert_one_unbroken_chain(sqlite_url)


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_processes_never_fork_a_postgres_chain(postgres_url: str) -> None:
    run_concurrent_appends(postgres_url)
    assert_one_unbroken_chain(postgres_url)

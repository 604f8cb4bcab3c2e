"""Engines and transactions: two processes writing the same SQLite file at once (two workers of
``sesame serve``) take turns and never fail with "database is locked"."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sesame.adapters.sql.db import Database, is_sqlite, writer_gate
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.audit import AuditEvent
from sesame.domain.errors import AlreadyExists
from sesame.domain.tenants import TenantPolicy
from sesame.oidc.models import Grant, RefreshToken
from sesame.services.audit import AuditService
from tests.adapters.sql.test_oidc_repository import client

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
TRANSACTIONS = 60


def worker(url: str, name: str, tenant_id: int) -> int:
    """What one worker does per token exchange: a write transaction (rotate a refresh token, add
    its successor, append to the audit chain) and reads around it. Returns the transactions done."""
    database = Database(url)
    uow = SqlUnitOfWorkFactory(database)
    try:
        for n in range(TRANSACTIONS):
            with uow(readonly=True) as tx:
                tx.oidc.get_refresh_token(f"{name}-{n:04d}".ljust(64, "0"))
            with uow() as tx:
                tx.oidc.rotate_refresh_token(f"{name}-{n:04d}".ljust(64, "0"), NOW)
                tx.oidc.add_refresh_token(
                    RefreshToken(
                        token_hash=f"{name}-{n + 1:04d}".ljust(64, "0"),
                        grant_id="g1",
                        client_id="client-a",
                        created_at=NOW,
                        expires_at=NOW + timedelta(days=1),
                    )
                )
                tx.audit.append(
                    AuditEvent(tenant_id=tenant_id, type="test.exchange", occurred_at=NOW, actor=name, details={"n": n})
                )
                tx.commit()
        return TRANSACTIONS
    finally:
        database.dispose()


@pytest.mark.slow
def test_two_processes_write_at_once_without_database_is_locked(database_url: str) -> None:
    if not is_sqlite(database_url):
        pytest.skip("SQLite's single writer is what this is about")
    database = Database(database_url)
    uow = SqlUnitOfWorkFactory(database)
    with uow() as tx:
        tenant = tx.tenants.add("one", "One", TenantPolicy(), NOW)
        tx.oidc.add_client(client(tenant.id))
        tx.oidc.add_grant(
            Grant(
                id="g1",
                tenant_id=tenant.id,
                client_id="client-a",
                scope="openid",
                created_at=NOW,
                expires_at=NOW + timedelta(days=1),
            )
        )
        tx.commit()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        done = pool.starmap(worker, [(database_url, "a", tenant.id), (database_url, "b", tenant.id)])
    assert done == [TRANSACTIONS, TRANSACTIONS]
    [verdict] = AuditService(uow, _Clock()).verify("one")
    database.dispose()
    assert verdict.broken_at is None and verdict.records >= 2 * TRANSACTIONS  # one chain, never forked


class _Clock:
    def now(self) -> datetime:
        return NOW


def test_the_writer_gate_opens_after_every_kind_of_ending(database_url: str) -> None:
    """Committed, rolled back, failed: after each, another thread writes at once (a gate left
    closed would keep it waiting for the busy timeout, 30 s)."""
    if not is_sqlite(database_url):
        pytest.skip("the gate is SQLite's")
    database = Database(database_url)
    uow = SqlUnitOfWorkFactory(database)

    def write(name: str) -> None:
        with uow() as tx:
            tx.tenants.add(name, name, TenantPolicy(), NOW)
            tx.commit()

    def in_another_thread(name: str) -> None:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(write, name).result(timeout=5)

    write("committed")
    in_another_thread("after-commit")
    with uow() as tx:
        tx.tenants.add("rolled-back", "x", TenantPolicy(), NOW)  # left without commit
    in_another_thread("after-rollback")
    with pytest.raises(AlreadyExists), uow() as tx:
        tx.tenants.add("committed", "again", TenantPolicy(), NOW)  # fails inside the transaction
    in_another_thread("after-failure")
    with uow(readonly=True) as tx:
        names = {t.slug for t in tx.tenants.list()}
    database.dispose()
    assert names == {"committed", "after-commit", "after-rollback", "after-failure"}
    assert Path(database_url.removeprefix("sqlite:///") + "-writer.lock").exists()


def test_the_writer_gate_can_be_tried_without_waiting_long(database_url: str) -> None:
    """The event loop's way in (``try_enter_for``): it waits for a turn that ends within its
    patience, gives up quickly on one that does not, and holds nothing after giving up."""
    if not is_sqlite(database_url):
        pytest.skip("the gate is SQLite's")
    database = Database(database_url)
    gate = writer_gate(database.engine)
    assert gate is not None and writer_gate(database.read_engine) is None  # readers need no turn
    mine, theirs = object(), object()
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        assert gate.try_enter_for(theirs, patience=5)
        holding.set()
        release.wait(30)
        gate.leave_for(theirs)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        assert gate.try_enter_for(mine, patience=0.05) is False  # a long turn: give up
        assert time.monotonic() - started < 5
        threading.Timer(0.2, release.set).start()
        assert gate.try_enter_for(mine, patience=20) is True  # a turn that ends soon: wait for it
        gate.leave_for(mine)
    finally:
        release.set()
        thread.join(10)
        database.dispose()

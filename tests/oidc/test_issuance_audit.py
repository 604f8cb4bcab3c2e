"""Successful client_credentials issuances counted in memory, written as one audit event per
client, scope and window (ADR 0006), on a real database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.adapters.sql import migrate
from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.bootstrap import Container
from sesame.domain.audit import AuditEvent
from sesame.domain.tenants import Tenant
from sesame.oidc.issuance_audit import EVENT_TYPE, MAX_IPS, ClientTokenTally
from sesame.services.audit import AuditService


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


def summaries(container: Container, tenant: Tenant) -> list[AuditEvent]:
    with container.uow(readonly=True) as uow:
        return [r.event for r in uow.audit.chain(tenant.id) if r.event.type == EVENT_TYPE]


def test_one_event_per_client_and_scope(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    tally = ClientTokenTally(container.uow, clock)
    tally.record(tenant.id, "batch", "", ip="192.0.2.1", correlation_id="first-request")
    clock.advance(seconds=5)
    tally.record(tenant.id, "batch", "", ip="192.0.2.2", correlation_id="second")
    tally.record(tenant.id, "batch", "", ip="192.0.2.1", correlation_id="third")
    tally.record(tenant.id, "batch", "read", ip="192.0.2.1", correlation_id="other-scope")
    assert tally.pending() == 4
    assert tally.flush() == 2 and tally.pending() == 0
    events = {e.details["scope"]: e for e in summaries(container, tenant)}
    batch = events[""]
    assert batch.details["count"] == 3 and batch.details["ips"] == ["192.0.2.1", "192.0.2.2"]
    assert batch.occurred_at == clock.now() - timedelta(seconds=5)
    assert batch.details["last_at"] == clock.now().isoformat() and batch.details["more_ips"] is False
    assert (batch.actor, batch.subject, batch.ip, batch.correlation_id) == (
        "client:batch",
        "client:batch",
        "192.0.2.1",
        "first-request",
    )
    assert events["read"].details["count"] == 1
    [verdict] = AuditService(container.uow, clock).verify(tenant.slug)
    assert verdict.broken_at is None  # links of the tenant's chain like any event


def test_a_client_behind_many_addresses_is_flagged_not_listed(
    container: Container, clock: FrozenClock, tenant: Tenant
) -> None:
    tally = ClientTokenTally(container.uow, clock)
    for n in range(MAX_IPS + 5):
        tally.record(tenant.id, "batch", "", ip=f"198.51.100.{n}", correlation_id="c")
    tally.flush()
    (event,) = summaries(container, tenant)
    assert event.details["count"] == MAX_IPS + 5
    assert len(event.details["ips"]) == MAX_IPS and event.details["more_ips"] is True


def test_nothing_to_write_writes_nothing(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    tally = ClientTokenTally(container.uow, clock)
    assert tally.flush() == 0
    tally.close()
    assert summaries(container, tenant) == []


def test_counts_survive_a_failed_write(
    tmp_path: Path, container: Container, clock: FrozenClock, tenant: Tenant
) -> None:
    """The database is unusable at the first flush (no schema yet): the counts stay, merged with
    what came meanwhile, and the next flush writes them all."""
    url = f"sqlite:///{tmp_path / 'later.db'}"
    database = Database(url)
    tally = ClientTokenTally(SqlUnitOfWorkFactory(database), clock)
    tally.record(tenant.id, "batch", "", ip="192.0.2.1", correlation_id="c")
    with pytest.raises(Exception, match="no such table"):
        tally.flush()
    tally.flush_quietly()  # logs instead of raising
    tally.record(tenant.id, "batch", "", ip="192.0.2.9", correlation_id="d")
    assert tally.pending() == 2
    migrate.upgrade(url)
    with SqlUnitOfWorkFactory(database)() as uow:
        uow.tenants.add(tenant.slug, tenant.name, tenant.policy, clock.now())
        uow.commit()
    assert tally.flush() == 1
    with SqlUnitOfWorkFactory(database)(readonly=True) as uow:
        (record,) = [r for r in uow.audit.chain(tenant.id) if r.event.type == EVENT_TYPE]
    database.dispose()
    assert record.event.details["count"] == 2 and record.event.details["ips"] == ["192.0.2.1", "192.0.2.9"]

"""Audit service on the real test database: record, list, and verify after tampering with rows."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, update

from sesame.adapters.clock import FrozenClock
from sesame.adapters.sql.models import AuditEventRow, AuditHeadRow
from sesame.bootstrap import Container
from sesame.domain.audit import AuditEvent, AuditEventRejected, BreakReason, chain_hash
from sesame.domain.errors import NotFound
from sesame.domain.tenants import Tenant
from sesame.services.audit import AuditService, audit_event


@pytest.fixture
def service(container: Container) -> AuditService:
    return AuditService(container.uow, container.clock)


@pytest.fixture
def tenants(container: Container, service: AuditService) -> dict[str, Tenant]:
    """Two tenants with five events each (tenant.created and four logins), one server event."""
    made = {slug: container.tenants.create(slug, slug.title()) for slug in ("laposte", "banque")}
    for tenant in made.values():
        for n in range(4):
            service.record("login.failed", tenant_id=tenant.id, actor=f"user:{n}", details={"attempt": n})
    service.record("server.started")
    return made


def tamper(container: Container, tenant: Tenant, at_seq: int, **values: object) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(
            update(AuditEventRow).where(AuditEventRow.chain == tenant.id, AuditEventRow.seq == at_seq).values(**values)
        )


def only_broken(service: AuditService) -> list[tuple[str | None, int | None, BreakReason | None]]:
    return [(r.tenant_slug, r.broken_at, r.reason) for r in service.verify() if not r.intact]


def test_an_untouched_log_verifies(service: AuditService, tenants: dict[str, Tenant]) -> None:
    results = service.verify()
    assert [(r.tenant_slug, r.records, r.intact) for r in results] == [
        (None, 1, True),
        ("laposte", 5, True),
        ("banque", 5, True),
    ]
    assert results[0].chain_name == "server-wide chain"


def test_record_uses_the_clock(service: AuditService, container: Container, clock: FrozenClock) -> None:
    clock.advance(minutes=5)
    record = service.record("server.started", actor="cli", details={"version": "1"})
    assert record.event.occurred_at == clock.now()
    assert service.list()[0] == record


@pytest.mark.parametrize(
    "values",
    [{"details": {"attempt": 99}}, {"type": "login.succeeded"}, {"ip": "198.51.100.7"}],
    ids=["details", "type", "ip"],
)
def test_a_changed_field_is_found(
    service: AuditService, container: Container, tenants: dict[str, Tenant], values: dict[str, object]
) -> None:
    tamper(container, tenants["banque"], 3, **values)
    assert only_broken(service) == [("banque", 3, BreakReason.HASH_MISMATCH)]


def test_a_changed_time_is_found_to_the_microsecond(
    service: AuditService, container: Container, clock: FrozenClock, tenants: dict[str, Tenant]
) -> None:
    tamper(container, tenants["laposte"], 2, occurred_at=clock.now() + timedelta(microseconds=1))
    assert only_broken(service) == [("laposte", 2, BreakReason.HASH_MISMATCH)]


def test_a_deleted_row_is_found(service: AuditService, container: Container, tenants: dict[str, Tenant]) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(
            delete(AuditEventRow).where(AuditEventRow.chain == tenants["banque"].id, AuditEventRow.seq == 2)
        )
    assert only_broken(service) == [("banque", 2, BreakReason.SEQ_GAP)]


def test_a_deleted_last_row_is_found(service: AuditService, container: Container, tenants: dict[str, Tenant]) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(
            delete(AuditEventRow).where(AuditEventRow.chain == tenants["banque"].id, AuditEventRow.seq == 5)
        )
    assert only_broken(service) == [("banque", 5, BreakReason.HEAD_MISMATCH)]


def test_swapped_rows_are_found(service: AuditService, container: Container, tenants: dict[str, Tenant]) -> None:
    banque = tenants["banque"]
    tamper(container, banque, 2, seq=1000)  # the (chain, seq) constraint needs a spare number
    tamper(container, banque, 3, seq=2)
    tamper(container, banque, 1000, seq=3)
    assert only_broken(service) == [("banque", 2, BreakReason.PREV_HASH_MISMATCH)]


def test_a_row_inserted_by_hand_is_found(
    service: AuditService, container: Container, clock: FrozenClock, tenants: dict[str, Tenant]
) -> None:
    # The forger even computes a valid hash after the last record; only the head disagrees.
    banque = tenants["banque"]
    last = service.list("banque", limit=1)[0]
    forged = AuditEvent(tenant_id=banque.id, type="login.succeeded", occurred_at=clock.now(), actor="user:0")
    with container.database.engine.begin() as connection:
        connection.execute(
            insert(AuditEventRow).values(
                chain=banque.id,
                seq=6,
                tenant_id=banque.id,
                occurred_at=forged.occurred_at,
                type=forged.type,
                actor=forged.actor,
                subject="",
                ip="",
                correlation_id="",
                details={},
                prev_hash=last.hash,
                hash=chain_hash(6, forged, last.hash),
            )
        )
    assert only_broken(service) == [("banque", 6, BreakReason.HEAD_MISMATCH)]


def test_a_rewritten_head_is_found(service: AuditService, container: Container, tenants: dict[str, Tenant]) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(
            update(AuditHeadRow).where(AuditHeadRow.chain == tenants["laposte"].id).values(last_hash="a" * 64)
        )
    assert only_broken(service) == [("laposte", 5, BreakReason.HEAD_MISMATCH)]


def test_verify_one_tenant(service: AuditService, container: Container, tenants: dict[str, Tenant]) -> None:
    tamper(container, tenants["banque"], 1, actor="someone")
    [laposte] = service.verify("laposte")
    assert (laposte.tenant_slug, laposte.intact, laposte.records) == ("laposte", True, 5)
    [banque] = service.verify("banque")
    assert (banque.broken_at, banque.reason) == (1, BreakReason.HASH_MISMATCH)
    with pytest.raises(NotFound):
        service.verify("nobody")


def test_verification_streams_in_batches(container: Container, tenants: dict[str, Tenant]) -> None:
    small = AuditService(container.uow, container.clock, batch_size=2)
    assert all(r.intact for r in small.verify())
    tamper(container, tenants["banque"], 5, details={})
    [banque] = small.verify("banque")
    assert (banque.broken_at, banque.reason, banque.records) == (5, BreakReason.HASH_MISMATCH, 5)


def test_audit_event_commits_with_its_unit_of_work(container: Container, service: AuditService) -> None:
    with container.uow() as uow:
        audit_event(uow, container.clock, None, "cli.used", actor="cli", details={"command": "x"})
        # no commit: the business change failed, so its audit event never happened either
    assert service.list() == []
    with container.uow() as uow:
        record = audit_event(uow, container.clock, None, "cli.used", actor="cli")
        uow.commit()
    assert service.list() == [record]


def test_secrets_never_reach_the_log(service: AuditService) -> None:
    with pytest.raises(AuditEventRejected):
        service.record("login.failed", details={"password": "hunter2"})
    with pytest.raises(AuditEventRejected):
        service.record("sms.sent", details={"message": {"otp": "123456"}})
    assert service.list() == []
    service.record("login.failed", details={"password": "[redacted]"})
    assert len(service.list()) == 1


def test_list_filters(service: AuditService, tenants: dict[str, Tenant]) -> None:
    assert [r.event.type for r in service.list("banque", limit=2)] == ["login.failed", "login.failed"]
    assert [r.event.type for r in service.list("laposte", type="tenant.created")] == ["tenant.created"]
    assert len(service.list(type="login.failed")) == 8
    assert service.list()[0].event.type == "server.started"
    with pytest.raises(NotFound):
        service.list("nobody")


def test_appends_during_verification_are_not_reported(container: Container, tenants: dict[str, Tenant]) -> None:
    # On PostgreSQL each batch sees new commits: the head read before and after tells them apart.
    banque = tenants["banque"]
    writer = AuditService(container.uow, container.clock)
    reader = AuditService(container.uow, container.clock, batch_size=3)
    done = threading.Event()

    def keep_appending() -> None:
        try:
            for n in range(150):
                writer.record("login.failed", tenant_id=banque.id, details={"n": n})
        finally:
            done.set()

    thread = threading.Thread(target=keep_appending)
    thread.start()
    rounds = []
    while not done.is_set():
        rounds.append(reader.verify("banque")[0])
    thread.join()
    rounds.append(reader.verify("banque")[0])
    assert all(result.intact for result in rounds), [r for r in rounds if not r.intact][:1]
    assert rounds[-1].records == 155
    assert len(rounds) > 1

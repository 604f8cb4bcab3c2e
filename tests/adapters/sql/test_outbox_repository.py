"""The SQL outbox: storing, leasing due messages (with concurrent workers), recording outcomes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.errors import NotFound
from sesame.domain.messages import Channel, DeliveryStatus, OutboundMessage
from sesame.domain.tenants import TenantPolicy

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


def sms(text: str = "code 123456", **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {"tenant_id": None, "recipient": "+33612345678", "template": "code", "locale": "fr"}
    return OutboundMessage(channel=Channel.SMS, subject="", body_text=text, **{**values, **fields})


def add(uow: SqlUnitOfWorkFactory, *messages: OutboundMessage, now: datetime = NOW) -> list[int]:
    with uow() as tx:
        ids = [tx.outbox.add(m, now) for m in messages]
        tx.commit()
    return ids


def claim(uow: SqlUnitOfWorkFactory, now: datetime, limit: int = 10, owner: str = "w1") -> list[int]:
    with uow() as tx:
        ids = [m.id for m in tx.outbox.claim_due(now, limit, 300, owner)]
        tx.commit()
    return ids


def test_add_and_get_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    message = OutboundMessage(
        tenant_id=None, channel=Channel.LETTER, recipient="A\nB", template="generic", locale="en", subject="S",
        body_text="T", body_html=None, pdf=b"%PDF-1.3 x", sensitive=True, metadata={"reference": "R1"},
    )  # fmt: skip
    (message_id,) = add(uow, message)
    with uow(readonly=True) as tx:
        stored = tx.outbox.get(message_id)
        assert tx.outbox.get(message_id + 1000) is None
    assert stored is not None
    assert (stored.channel, stored.recipient, stored.pdf, stored.sensitive) == (
        Channel.LETTER,
        "A\nB",
        b"%PDF-1.3 x",
        True,
    )
    assert (stored.status, stored.attempts, stored.created_at, stored.next_attempt_at) == (
        DeliveryStatus.PENDING, 0, NOW, NOW,
    )  # fmt: skip
    assert stored.metadata == {"reference": "R1"} and stored.sent_at is None


def test_only_due_messages_are_claimed_oldest_first(uow: SqlUnitOfWorkFactory) -> None:
    later = add(uow, sms(not_before=NOW + timedelta(days=1)))[0]
    first, second = add(uow, sms("a"), sms("b"))
    assert claim(uow, NOW, limit=1) == [first]
    assert claim(uow, NOW) == [second]  # the first is leased; the scheduled one is not due
    assert claim(uow, NOW + timedelta(minutes=4)) == []
    assert claim(uow, NOW + timedelta(days=1) - timedelta(seconds=1), owner="w2") == [first, second]  # leases ended
    assert claim(uow, NOW + timedelta(days=1), owner="w3") == [later]


def test_lease_expires_when_a_worker_dies(uow: SqlUnitOfWorkFactory) -> None:
    (message_id,) = add(uow, sms())
    assert claim(uow, NOW, owner="dead-worker") == [message_id]
    assert claim(uow, NOW + timedelta(seconds=299), owner="w2") == []
    assert claim(uow, NOW + timedelta(seconds=300), owner="w2") == [message_id]


def test_outcomes_are_recorded(uow: SqlUnitOfWorkFactory) -> None:
    sent, retried, dead = add(uow, sms("1"), sms("2"), sms("3"))
    claim(uow, NOW)
    with uow() as tx:
        tx.outbox.mark_sent(sent, NOW + timedelta(seconds=1))
        tx.outbox.mark_failed(retried, NOW, "SMTPConnectError: refused", NOW + timedelta(seconds=30))
        tx.outbox.mark_failed(dead, NOW, "x" * 5000, None)
        with pytest.raises(NotFound):
            tx.outbox.mark_sent(9999, NOW)
        tx.commit()
    with uow(readonly=True) as tx:
        s, r, d = (tx.outbox.get(i) for i in (sent, retried, dead))
    assert s is not None and r is not None and d is not None
    assert (s.status, s.attempts, s.sent_at) == (DeliveryStatus.SENT, 1, NOW + timedelta(seconds=1))
    assert (r.status, r.attempts, r.next_attempt_at) == (DeliveryStatus.PENDING, 1, NOW + timedelta(seconds=30))
    assert r.last_error == "SMTPConnectError: refused"
    assert d.status is DeliveryStatus.DEAD and d.last_error is not None and len(d.last_error) == 2000
    # The retried one is due again at its time, and its old lease no longer matters.
    assert claim(uow, NOW + timedelta(seconds=29), owner="w2") == []
    assert claim(uow, NOW + timedelta(seconds=30), owner="w2") == [retried]


def test_scrub_forgets_bodies_but_keeps_the_record(uow: SqlUnitOfWorkFactory) -> None:
    (message_id,) = add(uow, sms(body_html="<p>123456</p>", pdf=b"%PDF"))
    with uow() as tx:
        tx.outbox.scrub(message_id)
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.outbox.get(message_id)
    assert stored is not None
    assert (stored.body_text, stored.body_html, stored.pdf) == (None, None, None)
    assert stored.recipient == "+33612345678" and stored.template == "code"


def test_list_newest_first_and_by_tenant(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as tx:
        tenant = tx.tenants.add("laposte", "La Poste", TenantPolicy(), NOW)
        tx.commit()
    ids = add(uow, sms("a"), sms("b", tenant_id=tenant.id), sms("c"))
    with uow(readonly=True) as tx:
        assert [m.id for m in tx.outbox.list()] == ids[::-1]
        assert [m.id for m in tx.outbox.list(limit=2)] == ids[:0:-1]
        assert [m.id for m in tx.outbox.list(tenant_id=tenant.id)] == [ids[1]]


def test_rolled_back_messages_do_not_exist(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as tx:
        tx.outbox.add(sms(), NOW)  # no commit: leaving the block rolls back
    with uow(readonly=True) as tx:
        assert tx.outbox.list() == []


def test_concurrent_workers_never_claim_the_same_message(database_url: str) -> None:
    """Several processes' worth of claimers (each its own engine) racing for the same rows."""
    workers, per_claim = 4, 7
    seed = SqlUnitOfWorkFactory(Database(database_url))
    all_ids = set(add(seed, *(sms(str(i)) for i in range(60))))
    seed.database.dispose()
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(workers)}
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(owner: str) -> None:
        database = Database(database_url)
        try:
            factory = SqlUnitOfWorkFactory(database)
            start.wait()
            for _ in range(60):  # bounded: a broken lease would otherwise hand rows out forever
                batch = claim(factory, NOW, limit=per_claim, owner=owner)
                if not batch:
                    break
                claimed[owner].extend(batch)
        except Exception as error:  # noqa: BLE001 (reported below: a thread's exception is otherwise lost)
            errors.append(error)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(owner,)) for owner in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    everything = [i for batch in claimed.values() for i in batch]
    assert len(everything) == len(set(everything)), "a message was leased to two workers"
    assert set(everything) == all_ids

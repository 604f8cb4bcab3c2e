"""The delivery worker: channels, retries with backoff, SMTP down then up, dead letters, leases.

Email goes to a real SMTP server (aiosmtpd on 127.0.0.1) or to the embedded store; time is
the FrozenClock, moved by hand to the next attempt.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import random
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.messages import Channel, DeliveryStatus, OutboundMessage, StoredMessage
from sesame.services import outbox
from sesame.services.outbox_worker import deliver_due, retry_delay, run_forever

ADDRESS = "M. Jean Dupont\n12 rue des Lilas\n75011 Paris"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Collector:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def headers(self, name: str) -> list[str]:
        return [str(email.message_from_bytes(e.content, policy=email.policy.default)[name]) for e in self.envelopes]


class SmtpServer:
    """aiosmtpd on a fixed port, started and stopped on demand (to simulate an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.collector = Collector()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def smtp_container(settings: Settings, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Container]:
    configured = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{smtp.port}?timeout=5"})
    built = build_container(configured, clock=clock)
    yield built
    built.close()


def queue_email(container: Container, to: str = "zoe@example.org", **fields: Any) -> int:
    with container.uow() as uow:
        message_id = outbox.queue_email(uow, None, "test", "fr", to, now=container.clock.now(), **fields)
        uow.commit()
    return message_id


def stored(container: Container, message_id: int) -> StoredMessage:
    return outbox.get_message(container.uow, message_id).message


# -- delivery -----------------------------------------------------------------------------------


async def test_delivers_every_channel_to_the_embedded_stores(container: Container, settings: Settings) -> None:
    now = container.clock.now()
    with container.uow() as uow:
        ids = [
            outbox.queue_email(uow, None, "test", "en", "zoe@example.org", now=now),
            outbox.queue_sms(uow, None, "code", "fr", "+33612345678", {"code": "123456"}, now=now),
            outbox.queue_letter(uow, None, "generic", "fr", ADDRESS, {"subject": "S", "body": "B", "reference": "L1"},
                                now=now),
        ]  # fmt: skip
        uow.commit()
    report = await deliver_due(container, owner="test")
    assert report.to_dict() == {"claimed": 3, "sent": 3, "retried": 0, "dead": 0}
    assert all(stored(container, i).status is DeliveryStatus.SENT for i in ids)
    assert stored(container, ids[0]).sent_at == now and stored(container, ids[0]).attempts == 1
    var = Path(settings.var_dir) / "outbox"
    (eml,) = (var / "email").glob("*.eml")
    assert f"-{ids[0]}-" in eml.name and b"Test message from" in eml.read_bytes()
    (sms,) = (var / "sms").glob("*.json")
    assert json.loads(sms.read_text(encoding="utf-8"))["text"].startswith("123456 est votre code")
    (pdf,) = (var / "letters").glob("*L1*.pdf")
    assert pdf.read_bytes() == stored(container, ids[2]).pdf
    assert (await deliver_due(container, owner="test")).claimed == 0


async def test_smtp_down_then_delivered_on_a_later_pass(
    smtp_container: Container, smtp: SmtpServer, clock: FrozenClock
) -> None:
    message_id = queue_email(smtp_container)
    first = await deliver_due(smtp_container, owner="w")  # nothing listens on the port yet
    assert (first.claimed, first.sent, first.retried) == (1, 0, 1)
    after_failure = stored(smtp_container, message_id)
    assert after_failure.status is DeliveryStatus.PENDING and after_failure.attempts == 1
    assert after_failure.last_error is not None and "SMTPConnect" in after_failure.last_error
    wait = after_failure.next_attempt_at - clock.now()
    assert timedelta(seconds=27) <= wait <= timedelta(seconds=33)
    assert (await deliver_due(smtp_container, owner="w")).claimed == 0  # not due yet

    smtp.start()
    clock.advance(seconds=wait.total_seconds())
    second = await deliver_due(smtp_container, owner="w")
    assert (second.claimed, second.sent) == (1, 1)
    delivered = stored(smtp_container, message_id)
    assert delivered.status is DeliveryStatus.SENT and delivered.attempts == 2 and delivered.sent_at == clock.now()
    assert smtp.collector.envelopes[0].rcpt_tos == ["zoe@example.org"]
    assert smtp.collector.headers("X-Sesame-Outbox-Id") == [str(message_id)]
    assert smtp.collector.headers("Message-ID")[0].startswith(f"<outbox.{message_id}.")


async def test_backoff_grows_then_the_message_is_dead(settings: Settings, clock: FrozenClock, smtp: SmtpServer) -> None:
    configured = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{smtp.port}?timeout=5", "outbox_max_attempts": 4}
    )
    container = build_container(configured, clock=clock)
    try:
        message_id = queue_email(container)
        waits = []
        with capture_logs() as logs:
            for _ in range(3):
                report = await deliver_due(container, owner="w", rng=random.Random(7))
                assert report.retried == 1
                due = stored(container, message_id).next_attempt_at
                waits.append((due - clock.now()).total_seconds())
                clock.set(due)
            final = await deliver_due(container, owner="w")
        assert final.dead == 1
        dead = stored(container, message_id)
        assert dead.status is DeliveryStatus.DEAD and dead.attempts == 4
        assert [round(w / base, 1) for w, base in zip(waits, (30, 60, 120), strict=True)] == [
            pytest.approx(1, abs=0.1)
        ] * 3
        errors = [entry for entry in logs if entry["log_level"] == "error"]
        assert [(e["event"], e["message_id"], e["attempts"]) for e in errors] == [("outbox.dead", message_id, 4)]
        clock.advance(days=1)
        assert (await deliver_due(container, owner="w")).claimed == 0  # dead is final
    finally:
        container.close()


def test_retry_delays_double_up_to_an_hour() -> None:
    rng = random.Random(1)
    for failures, base in [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3600), (30, 3600)]:
        delays = [retry_delay(failures, rng).total_seconds() for _ in range(50)]
        assert all(base * 0.9 <= d <= min(3600, base * 1.1) for d in delays)
        assert len(set(delays)) > 1  # jittered


async def test_not_before_is_respected(container: Container, clock: FrozenClock) -> None:
    tomorrow = clock.now() + timedelta(days=1)
    with container.uow() as uow:
        message_id = outbox.queue_letter(uow, None, "generic", "fr", ADDRESS, {"subject": "S", "body": "B"},
                                         now=clock.now(), not_before=tomorrow)  # fmt: skip
        uow.commit()
    assert (await deliver_due(container, owner="w")).claimed == 0
    clock.advance(hours=23, minutes=59)
    assert (await deliver_due(container, owner="w")).claimed == 0
    clock.set(tomorrow)
    assert (await deliver_due(container, owner="w")).sent == 1
    assert stored(container, message_id).status is DeliveryStatus.SENT


async def test_broken_message_is_dead_at_once(container: Container, clock: FrozenClock) -> None:
    broken = OutboundMessage(None, Channel.LETTER, ADDRESS, "generic", "fr", "S", "text", pdf=None)
    with container.uow() as uow:
        message_id = uow.outbox.add(broken, clock.now())  # bypasses queue()'s checks on purpose
        uow.commit()
    report = await deliver_due(container, owner="w")
    assert report.dead == 1
    message = stored(container, message_id)
    assert message.status is DeliveryStatus.DEAD and message.last_error == "UndeliverableMessage: the letter has no PDF"


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dev_mode", "kept"), [(False, False), (True, True)])
async def test_sensitive_bodies_are_scrubbed_once_sent_outside_dev_mode(
    settings: Settings, clock: FrozenClock, dev_mode: bool, kept: bool
) -> None:
    container = build_container(settings.model_copy(update={"dev_mode": dev_mode}), clock=clock)
    try:
        with container.uow() as uow:
            secret = outbox.queue_sms(uow, None, "code", "fr", "+33612345678", {"code": "739164"}, now=clock.now(),
                                      sensitive=True)  # fmt: skip
            plain = outbox.queue_sms(uow, None, "test", "fr", "+33612345678", now=clock.now())
            uow.commit()
        with capture_logs() as logs:
            assert (await deliver_due(container, owner="w")).sent == 2
        assert ("739164" in (stored(container, secret).body_text or "")) is kept
        assert stored(container, secret).status is DeliveryStatus.SENT
        assert stored(container, plain).body_text is not None
        assert "739164" not in repr(logs)
    finally:
        container.close()


# -- several workers ------------------------------------------------------------------------------


async def test_concurrent_workers_deliver_each_message_once(
    settings: Settings, clock: FrozenClock, smtp: SmtpServer
) -> None:
    """Two workers, each with its own engine (as two processes have), race over 30 emails."""
    smtp.start()
    configured = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{smtp.port}?timeout=5"})
    workers = [build_container(configured, clock=clock) for _ in range(2)]
    try:
        ids = {queue_email(workers[0], to=f"user{i}@example.org") for i in range(30)}

        async def drain(container: Container, owner: str) -> int:
            sent = 0
            for _ in range(30):  # bounded: a broken lease would otherwise hand messages out forever
                report = await deliver_due(container, owner=owner, limit=4)
                if not report.claimed:
                    break
                sent += report.sent
            return sent

        counts = await asyncio.gather(drain(workers[0], "a"), drain(workers[1], "b"))
        delivered = smtp.collector.headers("X-Sesame-Outbox-Id")
        assert sorted(delivered) == sorted(str(i) for i in ids)  # every message, none twice
        assert sum(counts) == 30
        assert all(stored(workers[0], i).attempts == 1 for i in ids)
    finally:
        for container in workers:
            container.close()


# -- the loop -------------------------------------------------------------------------------------


async def test_run_forever_delivers_and_survives_errors(settings: Settings, clock: FrozenClock, tmp_path: Path) -> None:
    fast = settings.model_copy(update={"outbox_poll_seconds": 0.01})
    broken = build_container(
        fast.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'not-migrated.db'}"}), clock=clock
    )
    working = build_container(fast, clock=clock)
    try:
        with capture_logs() as logs:
            failing = asyncio.create_task(run_forever(broken, owner="broken"))
            message_id = queue_email(working)
            delivering = asyncio.create_task(run_forever(working, owner="ok"))
            deadline = time.monotonic() + 30  # generous: a loaded CI machine runs the passes later
            while time.monotonic() < deadline:
                await asyncio.sleep(0.01)
                passes_failed = sum(1 for e in logs if e["event"] == "outbox.pass_failed")
                if stored(working, message_id).status is DeliveryStatus.SENT and passes_failed >= 3:
                    break
            assert not failing.done() and not delivering.done()
            for task in (failing, delivering):
                task.cancel()
            results = await asyncio.gather(failing, delivering, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert stored(working, message_id).status is DeliveryStatus.SENT
        assert sum(1 for e in logs if e["event"] == "outbox.pass_failed") >= 3
    finally:
        broken.close()
        working.close()

"""The outbox delivery worker: leases due messages, hands them to their channel, records the outcome.

A failed attempt is retried with exponential backoff and jitter (30 s, 1 min, 2 min, ... at
most 1 h) until ``outbox_max_attempts``, then the message is "dead" and logged as an error.
Leases make several workers (processes, nodes) safe: a message is with one worker at a time,
and comes back to the queue only if that worker died before recording the outcome.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import socket
import uuid
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog

from sesame.config import Settings
from sesame.domain.messages import Channel, EmailMessage, Letter, SmsMessage, StoredMessage
from sesame.ports import Clock, HttpPoster, LetterPrinter, Mailer, SmsSender, UnitOfWorkFactory

log = structlog.get_logger(__name__)

BACKOFF_FIRST_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0
BACKOFF_JITTER = 0.1  # +/- 10 %: workers that failed together do not retry together
SEND_TIMEOUT_SECONDS = 60.0
CONCURRENT_SENDS = 5
#: Header naming the outbox row, so a stored or received email can be traced back to it.
OUTBOX_ID_HEADER = "X-Sesame-Outbox-Id"


class WorkerChannels(Protocol):
    @property
    def mailer(self) -> Mailer: ...

    @property
    def sms(self) -> SmsSender: ...

    @property
    def letters(self) -> LetterPrinter: ...

    @property
    def http(self) -> HttpPoster: ...


class WorkerContainer(Protocol):
    """What the worker needs of ``sesame.bootstrap.Container`` (which it is, in practice)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def uow(self) -> UnitOfWorkFactory: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def channels(self) -> WorkerChannels: ...


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"


class UndeliverableMessage(Exception):
    """The stored message itself is unusable (no body, no PDF): retrying cannot help."""


@dataclass(slots=True)
class DeliveryReport:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0

    def add(self, outcome: Outcome) -> None:
        if outcome is Outcome.SENT:
            self.sent += 1
        elif outcome is Outcome.RETRY:
            self.retried += 1
        else:
            self.dead += 1

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.claimed} due: {self.sent} sent, {self.retried} to retry, {self.dead} dead"


def retry_delay(failures: int, rng: random.Random) -> timedelta:
    """How long to wait after the ``failures``-th failed attempt (1 for the first)."""
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, failures - 1))
    jittered = base * (1 + rng.uniform(-BACKOFF_JITTER, BACKOFF_JITTER))
    return timedelta(seconds=min(BACKOFF_MAX_SECONDS, jittered))


def lease_seconds(limit: int) -> int:
    """Long enough for a whole batch even if every send runs into its timeout."""
    return int(SEND_TIMEOUT_SECONDS * math.ceil(limit / CONCURRENT_SENDS) + 60)


def worker_name() -> str:
    """A lease owner unique to this process (host, pid, and a nonce for restarts)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# -- one message ------------------------------------------------------------------------------


def _message_id_header(message: StoredMessage, settings: Settings) -> str:
    # Stable across retries, so a receiver can drop the copy of a send that timed out but arrived.
    _name, address = email.utils.parseaddr(settings.smtp_sender)
    domain = address.rpartition("@")[2] or "sesame.localhost"
    return f"<outbox.{message.id}.{message.created_at.strftime('%Y%m%d%H%M%S')}@{domain}>"


def _form_fields(body: str) -> dict[str, str]:
    """An HTTP message's body: its form fields as a JSON object of strings (checked when queued)."""
    try:
        fields = json.loads(body)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise UndeliverableMessage("the HTTP message's body is not a JSON object of strings")
    return fields


def _send(container: WorkerContainer, message: StoredMessage) -> Awaitable[None]:
    if message.body_text is None:
        raise UndeliverableMessage("the message has no body")
    channels = container.channels
    if message.channel is Channel.EMAIL:
        headers = {"Message-ID": _message_id_header(message, container.settings), OUTBOX_ID_HEADER: str(message.id)}
        email_message = EmailMessage(message.recipient, message.subject, message.body_text, message.body_html, headers)
        return channels.mailer.send_email(email_message)
    if message.channel is Channel.SMS:
        return channels.sms.send_sms(SmsMessage(to=message.recipient, text=message.body_text))
    if message.channel is Channel.HTTP:
        return channels.http.post_form(message.recipient, _form_fields(message.body_text))
    if not message.pdf:
        raise UndeliverableMessage("the letter has no PDF")
    reference = str(message.metadata.get("reference") or f"outbox-{message.id}")
    letter = Letter(message.recipient, message.subject, message.body_text, message.pdf, reference)
    return channels.letters.print_letter(letter)


def _scrub_after(container: WorkerContainer, message: StoredMessage) -> bool:
    # Outside dev mode a sent code or link is only a liability in the database.
    return message.sensitive and not container.settings.dev_mode


def _record_sent(container: WorkerContainer, message: StoredMessage) -> Outcome:
    with container.uow() as uow:
        uow.outbox.mark_sent(message.id, container.clock.now())
        if _scrub_after(container, message):
            uow.outbox.scrub(message.id)
        uow.commit()
    log.info("outbox.sent", message_id=message.id, channel=message.channel.value, attempts=message.attempts + 1)
    return Outcome.SENT


def _record_failure(
    container: WorkerContainer, message: StoredMessage, error: BaseException, rng: random.Random
) -> Outcome:
    now = container.clock.now()
    failures = message.attempts + 1
    permanent = isinstance(error, UndeliverableMessage)
    dead = permanent or failures >= container.settings.outbox_max_attempts
    retry_at = None if dead else now + retry_delay(failures, rng)
    reason = f"{type(error).__name__}: {error}".strip().removesuffix(":")
    with container.uow() as uow:
        uow.outbox.mark_failed(message.id, now, reason, retry_at)
        if dead and _scrub_after(container, message):
            uow.outbox.scrub(message.id)
        uow.commit()
    # The reason stays in the row: SMTP answers may quote addresses, which logs do not need.
    fields: dict[str, Any] = {"message_id": message.id, "channel": message.channel.value, "attempts": failures}
    if dead:
        log.error("outbox.dead", error=type(error).__name__, **fields)
        return Outcome.DEAD
    log.warning("outbox.retry_scheduled", error=type(error).__name__, retry_at=retry_at, **fields)
    return Outcome.RETRY


async def _attempt(container: WorkerContainer, message: StoredMessage, rng: random.Random) -> Outcome:
    try:
        await asyncio.wait_for(_send(container, message), timeout=SEND_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 (whatever a channel raises, the message is retried)
        return await asyncio.to_thread(_record_failure, container, message, error, rng)
    return await asyncio.to_thread(_record_sent, container, message)


# -- passes and the loop ----------------------------------------------------------------------


def _claim(container: WorkerContainer, owner: str, limit: int) -> list[StoredMessage]:
    with container.uow() as uow:
        claimed = list(uow.outbox.claim_due(container.clock.now(), limit, lease_seconds(limit), owner))
        uow.commit()
    return claimed


_RANDOM = random.Random()  # noqa: S311 (jitter spreads retries; it protects no secret)


async def deliver_due(
    container: WorkerContainer, *, owner: str, limit: int = 50, rng: random.Random | None = None
) -> DeliveryReport:
    """One pass: lease up to ``limit`` due messages, deliver them, record each outcome."""
    # Database work runs in a thread: a busy SQLite lock must not stall the web server's loop.
    messages = await asyncio.to_thread(_claim, container, owner, limit)
    report = DeliveryReport(claimed=len(messages))
    if not messages:
        return report
    gate = asyncio.Semaphore(CONCURRENT_SENDS)

    async def one(message: StoredMessage) -> Outcome:
        async with gate:
            return await _attempt(container, message, rng or _RANDOM)

    results = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for result in results:
        if isinstance(result, Outcome):
            report.add(result)
    if errors:
        # Every other outcome is recorded; the unrecorded ones come back when their lease ends.
        raise errors[0]
    return report


async def run_forever(container: WorkerContainer, *, owner: str | None = None, limit: int = 50) -> None:
    """Deliver due messages until cancelled; an error in one pass is logged, never fatal."""
    owner = owner or worker_name()
    log.info("outbox.worker_started", owner=owner)
    while True:
        try:
            report = await deliver_due(container, owner=owner, limit=limit)
        except Exception:  # the worker must outlive a database hiccup
            log.exception("outbox.pass_failed", owner=owner)
            report = DeliveryReport()
        if report.claimed < limit:  # a full batch means more may be waiting: no pause then
            await asyncio.sleep(container.settings.outbox_poll_seconds)

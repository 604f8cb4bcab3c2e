"""The transactional outbox in SQL: messages are rows written in the caller's transaction.

Delivery workers lease due rows (``lease_owner``/``lease_until``) before sending, so that
several worker processes, on SQLite or PostgreSQL, never hand the same message out twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import OutboxRow
from sesame.domain.errors import NotFound
from sesame.domain.messages import Channel, DeliveryStatus, OutboundMessage, StoredMessage

#: Longest error text kept on a row (SMTP servers can answer at length).
MAX_ERROR_LENGTH = 2000


def _to_domain(row: OutboxRow) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        tenant_id=row.tenant_id,
        channel=Channel(row.channel),
        recipient=row.recipient,
        template=row.template,
        locale=row.locale,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        pdf=row.pdf,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
        sensitive=row.sensitive,
        metadata=dict(row.meta or {}),
    )


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending, due, and not leased by a live worker (an expired lease means its worker died)."""
    return and_(
        OutboxRow.status == DeliveryStatus.PENDING.value,
        OutboxRow.next_attempt_at <= now,
        or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
    )


class SqlOutboxRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: OutboundMessage, now: datetime) -> int:
        # A scheduled letter ("a day apart") simply becomes due later: not_before is folded
        # into next_attempt_at, the only time the workers look at.
        due_at = max(now, message.not_before) if message.not_before else now
        row = OutboxRow(
            tenant_id=message.tenant_id,
            channel=message.channel.value,
            recipient=message.recipient,
            template=message.template,
            locale=message.locale,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            pdf=message.pdf,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=due_at,
            sensitive=message.sensitive,
            meta=dict(message.metadata),
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def claim_due(self, now: datetime, limit: int, lease_seconds: int, owner: str) -> Sequence[StoredMessage]:
        lease_until = now + timedelta(seconds=lease_seconds)
        candidates = (
            select(OutboxRow.id).where(_due(now)).order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            # Concurrent workers skip each other's rows instead of queueing behind them.
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(self._session.scalars(candidates))
        if not ids:
            return []
        # The UPDATE checks "due" again: on SQLite the write transaction (BEGIN IMMEDIATE)
        # already serialises workers, on PostgreSQL the row locks do; the re-check keeps the
        # lease correct even without them.
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids), _due(now))
            .values(lease_owner=owner, lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        leased = self._session.scalars(
            select(OutboxRow)
            .where(OutboxRow.id.in_(ids), OutboxRow.lease_owner == owner, OutboxRow.lease_until == lease_until)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .execution_options(populate_existing=True)
        )
        return [_to_domain(row) for row in leased]

    def mark_sent(self, message_id: int, now: datetime) -> None:
        self._update(
            message_id,
            status=DeliveryStatus.SENT.value,
            sent_at=now,
            attempts=OutboxRow.attempts + 1,
            lease_owner=None,
            lease_until=None,
        )

    def mark_failed(self, message_id: int, now: datetime, error: str, retry_at: datetime | None) -> None:
        values: dict[str, Any] = {
            "attempts": OutboxRow.attempts + 1,
            "last_error": error[:MAX_ERROR_LENGTH],
            "lease_owner": None,
            "lease_until": None,
        }
        if retry_at is None:
            values["status"] = DeliveryStatus.DEAD.value
        else:
            values["next_attempt_at"] = max(retry_at, now)
        self._update(message_id, **values)

    def scrub(self, message_id: int) -> None:
        self._update(message_id, body_text=None, body_html=None, pdf=None)

    def list(self, limit: int = 100, tenant_id: int | None = None) -> Sequence[StoredMessage]:
        query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
        if tenant_id is not None:
            query = query.where(OutboxRow.tenant_id == tenant_id)
        return [_to_domain(row) for row in self._session.scalars(query)]

    def get(self, message_id: int) -> StoredMessage | None:
        row = self._session.get(OutboxRow, message_id, populate_existing=True)
        return _to_domain(row) if row else None

    def _update(self, message_id: int, **values: Any) -> None:
        result = self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"outbox message {message_id}")

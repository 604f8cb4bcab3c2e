"""The audit log in SQL: append-only rows, one hash chain per tenant (chain 0 is the server's).

An append moves the chain's head row first, in the caller's transaction: that row lock
(PostgreSQL) or the write lock ``BEGIN IMMEDIATE`` already holds (SQLite) makes concurrent
appends to one chain take turns, so a chain never forks and no seq is used twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Row, Select, Update, bindparam, insert, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import AuditEventRow, AuditHeadRow
from sesame.domain.audit import GENESIS_HASH, AuditEvent, AuditRecord, ChainHead, chain_hash, check_event

SERVER_CHAIN = 0
_COLUMNS = (
    AuditEventRow.seq,
    AuditEventRow.tenant_id,
    AuditEventRow.type,
    AuditEventRow.occurred_at,
    AuditEventRow.actor,
    AuditEventRow.subject,
    AuditEventRow.ip,
    AuditEventRow.correlation_id,
    AuditEventRow.details,
    AuditEventRow.prev_hash,
    AuditEventRow.hash,
)


def _advance_statement(dialect: Any) -> Insert:
    """Move a chain's head: create it at seq 1 (after the genesis hash) or add one to its seq,
    returning the new seq with the hash the head still holds, the previous record's."""
    statement: Insert = (
        dialect.insert(AuditHeadRow)
        .values(chain=bindparam("head_chain"), seq=1, last_hash=GENESIS_HASH)
        .on_conflict_do_update(index_elements=[AuditHeadRow.chain], set_={"seq": AuditHeadRow.seq + 1})
        .returning(AuditHeadRow.seq, AuditHeadRow.last_hash)
    )
    return statement


# Built once: an append runs them as Core statements on the session's connection, which skips
# the ORM's per-statement work (most of an append's time on the token endpoint).
_ADVANCE_HEAD_SQLITE = _advance_statement(sqlite)
_ADVANCE_HEAD_POSTGRESQL = _advance_statement(postgresql)
INSERT_RECORD: Insert = insert(AuditEventRow)
SET_HEAD_HASH: Update = (
    update(AuditHeadRow).where(AuditHeadRow.chain == bindparam("head_chain")).values(last_hash=bindparam("head_hash"))
)


def advance_statement_of(dialect_name: str) -> Insert:
    """The head-moving upsert for this database (see :func:`_advance_statement`)."""
    return _ADVANCE_HEAD_POSTGRESQL if dialect_name == "postgresql" else _ADVANCE_HEAD_SQLITE


def normalised(event: AuditEvent) -> AuditEvent:
    """The event checked, with its details as the database will give them back (JSON), which
    is what is hashed."""
    check_event(event)
    return AuditEvent(
        tenant_id=event.tenant_id,
        type=event.type,
        occurred_at=event.occurred_at,
        actor=event.actor,
        subject=event.subject,
        ip=event.ip,
        correlation_id=event.correlation_id,
        details=json.loads(json.dumps(event.details, allow_nan=False)),
    )


#: The ``audit_events`` columns a record is written with (the parameters of :data:`INSERT_RECORD`).
RECORD_COLUMNS = (
    "chain",
    "seq",
    "tenant_id",
    "occurred_at",
    "type",
    "actor",
    "subject",
    "ip",
    "correlation_id",
    "details",
    "prev_hash",
    "hash",
)


def record_values(chain: int, seq: int, event: AuditEvent, prev_hash: str, digest: str) -> dict[str, Any]:
    """The ``audit_events`` row of a record, keyed by :data:`RECORD_COLUMNS`."""
    values = (
        chain,
        seq,
        event.tenant_id,
        event.occurred_at,
        event.type,
        event.actor,
        event.subject,
        event.ip,
        event.correlation_id,
        event.details,
        prev_hash,
        digest,
    )
    return dict(zip(RECORD_COLUMNS, values, strict=True))


def chain_of(tenant_id: int | None) -> int:
    return SERVER_CHAIN if tenant_id is None else tenant_id


def _tenant_of(chain: int) -> int | None:
    return None if chain == SERVER_CHAIN else chain


def _to_record(row: Row[Any]) -> AuditRecord:
    event = AuditEvent(
        tenant_id=row.tenant_id,
        type=row.type,
        occurred_at=row.occurred_at,
        actor=row.actor,
        subject=row.subject,
        ip=row.ip,
        correlation_id=row.correlation_id,
        details=row.details,
    )
    return AuditRecord(seq=row.seq, event=event, prev_hash=row.prev_hash, hash=row.hash)


class SqlAuditRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, event: AuditEvent) -> AuditRecord:
        """Append at the end of the event's chain, in the session's transaction."""
        event = normalised(event)
        chain = chain_of(event.tenant_id)
        session = self._session
        if session.autoflush:
            session.flush()  # as an ORM statement would: pending rows are written before the record
        connection = session.connection()
        # The upsert locks the head until commit (PostgreSQL's row lock; on SQLite, the write
        # lock BEGIN IMMEDIATE holds), so concurrent appends to one chain take turns.
        head = connection.execute(advance_statement_of(connection.dialect.name), {"head_chain": chain}).one()
        seq, prev_hash = int(head.seq), str(head.last_hash)
        digest = chain_hash(seq, event, prev_hash)
        connection.execute(INSERT_RECORD, record_values(chain, seq, event, prev_hash, digest))
        connection.execute(SET_HEAD_HASH, {"head_chain": chain, "head_hash": digest})
        return AuditRecord(seq=seq, event=event, prev_hash=prev_hash, hash=digest)

    def chain(self, tenant_id: int | None, after_seq: int = 0, limit: int = 1000) -> Sequence[AuditRecord]:
        # Plain rows, not ORM objects: a long verification keeps nothing in the session.
        statement = (
            select(*_COLUMNS)
            .where(AuditEventRow.chain == chain_of(tenant_id), AuditEventRow.seq > after_seq)
            .order_by(AuditEventRow.seq)
            .limit(limit)
        )
        return [_to_record(row) for row in self._session.execute(statement)]

    def head(self, tenant_id: int | None) -> ChainHead | None:
        row = self._session.execute(
            select(AuditHeadRow.seq, AuditHeadRow.last_hash).where(AuditHeadRow.chain == chain_of(tenant_id))
        ).one_or_none()
        return ChainHead(seq=row.seq, last_hash=row.last_hash) if row else None

    def chains(self) -> Sequence[int | None]:
        # Records without a head count too: a chain inserted by hand must still be verified.
        statement = union(select(AuditHeadRow.chain), select(AuditEventRow.chain.label("chain")))
        chains = sorted(self._session.scalars(select(statement.subquery().c.chain)))
        return [_tenant_of(chain) for chain in chains]

    def recent(
        self, limit: int, *, tenant_ids: Sequence[int | None] | None = None, type: str | None = None
    ) -> Sequence[AuditRecord]:
        statement: Select[Any] = select(*_COLUMNS).order_by(AuditEventRow.id.desc()).limit(limit)
        if tenant_ids is not None:
            statement = statement.where(AuditEventRow.chain.in_([chain_of(t) for t in tenant_ids]))
        if type is not None:
            statement = statement.where(AuditEventRow.type == type)
        return [_to_record(row) for row in self._session.execute(statement)]

"""Flows in SQL, with optimistic locking: two submits of the same step cannot both win."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import FlowRow
from sesame.domain.errors import FlowStateError
from sesame.domain.flows import FlowRecord


def _to_domain(row: FlowRow) -> FlowRecord:
    return FlowRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        state=row.state,
        context=dict(row.context),
        csrf_binding=row.csrf_binding,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        version=row.version,
        return_to=row.return_to,
    )


class SqlFlowRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, flow_id: str) -> FlowRecord | None:
        row = self._session.get(FlowRow, flow_id, populate_existing=True)
        return _to_domain(row) if row else None

    def add(self, flow: FlowRecord) -> None:
        self._session.add(
            FlowRow(
                id=flow.id,
                tenant_id=flow.tenant_id,
                kind=flow.kind,
                state=flow.state,
                context=flow.context,
                csrf_binding=flow.csrf_binding,
                created_at=flow.created_at,
                updated_at=flow.updated_at,
                expires_at=flow.expires_at,
                attempts=flow.attempts,
                max_attempts=flow.max_attempts,
                version=flow.version,
                return_to=flow.return_to,
            )
        )
        self._session.flush()

    def save(self, flow: FlowRecord) -> None:
        result = self._session.execute(
            update(FlowRow)
            .where(FlowRow.id == flow.id, FlowRow.version == flow.version)
            .values(
                state=flow.state,
                context=flow.context,
                updated_at=flow.updated_at,
                expires_at=flow.expires_at,
                attempts=flow.attempts,
                version=flow.version + 1,
                return_to=flow.return_to,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise FlowStateError(f"flow {flow.id} was changed by another request")
        flow.version += 1

    def delete_expired(self, before: datetime) -> int:
        result = self._session.execute(
            delete(FlowRow).where(FlowRow.expires_at < before).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

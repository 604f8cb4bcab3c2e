"""The audit log in SQL (to be completed: see the audit work)."""

from __future__ import annotations

from sqlalchemy.orm import Session


class SqlAuditRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

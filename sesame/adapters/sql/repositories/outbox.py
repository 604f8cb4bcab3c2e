"""The outbox in SQL (to be completed: see the messaging work)."""

from __future__ import annotations

from sqlalchemy.orm import Session


class SqlOutboxRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

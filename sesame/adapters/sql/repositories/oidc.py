"""The OpenID Connect provider's state in SQL (being written: see the OpenID Connect work)."""

from __future__ import annotations

from sqlalchemy.orm import Session


class SqlOidcRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

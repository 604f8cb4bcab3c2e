"""Rate-limit and lockout counters in the database (the default when no Redis is configured).

Every worker process and node shares them through the database. An increment is one atomic
upsert in a short transaction of its own, never part of the caller's business transaction:
a failed login is counted even when the login's transaction rolls back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import CounterRow
from sesame.adapters.sql.types import UtcDateTime
from sesame.domain.throttling import check_counter_key


class SqlCounters:
    """The :class:`~sesame.ports.Counters` port on SQLite (WAL, several workers) or PostgreSQL.

    On SQLite, never count from inside your own *write* unit of work once it has run a
    statement: it holds the database's write lock, which the counter's own transaction then
    waits for until the busy timeout. Count before or after it, or inside a read-only one.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._dialect: Any = postgresql if database.dialect == "postgresql" else sqlite

    def increment(self, key: str, window_seconds: int, now: datetime, amount: int = 1) -> int:
        check_counter_key(key, window_seconds)
        expires = now + timedelta(seconds=window_seconds)
        statement = self._dialect.insert(CounterRow).values(key=key, value=amount, expires_at=expires)
        # An expired counter starts again from `amount` with a new window; a live one keeps
        # its window (later hits never extend it). SET reads the row as it was before.
        expired = CounterRow.expires_at <= literal(now, UtcDateTime())
        statement = statement.on_conflict_do_update(
            index_elements=[CounterRow.key],
            set_={
                "value": case((expired, literal(amount, BigInteger())), else_=CounterRow.value + amount),
                "expires_at": case((expired, literal(expires, UtcDateTime())), else_=CounterRow.expires_at),
            },
        ).returning(CounterRow.value)
        with self._database.engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def get(self, key: str, now: datetime) -> int:
        statement = select(CounterRow.value).where(CounterRow.key == key, CounterRow.expires_at > now)
        with self._database.read_engine.connect() as connection:
            value = connection.execute(statement).scalar_one_or_none()
        return int(value) if value is not None else 0

    def reset(self, key: str) -> None:
        with self._database.engine.begin() as connection:
            connection.execute(delete(CounterRow).where(CounterRow.key == key))

    def set_until(self, key: str, value: int, until: datetime, now: datetime) -> None:
        check_counter_key(key)
        if until <= now:
            self.reset(key)  # already over: the same as absent
            return
        statement = self._dialect.insert(CounterRow).values(key=key, value=value, expires_at=until)
        statement = statement.on_conflict_do_update(
            index_elements=[CounterRow.key],
            set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at},
        )
        with self._database.engine.begin() as connection:
            connection.execute(statement)

    def expires_at(self, key: str, now: datetime) -> datetime | None:
        statement = select(CounterRow.expires_at).where(CounterRow.key == key, CounterRow.expires_at > now)
        with self._database.read_engine.connect() as connection:
            expiry: datetime | None = connection.execute(statement).scalar_one_or_none()
        return expiry

    def purge_expired(self, now: datetime) -> int:
        """Delete the counters that expired (they already read as 0); returns how many."""
        with self._database.engine.begin() as connection:
            return connection.execute(delete(CounterRow).where(CounterRow.expires_at <= now)).rowcount

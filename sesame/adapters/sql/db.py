"""Engines and transactions, the same on SQLite and PostgreSQL.

SQLite serves several worker processes in WAL mode. Its default "deferred" transactions
fail with "database is locked" when a reader later tries to write while another process
wrote in between, which a busy timeout cannot fix; so write transactions start with
``BEGIN IMMEDIATE`` (they wait for the write lock up front), and read-only ones use a
separate engine with plain deferred ``BEGIN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        hide_parameters=True,  # SQL parameters may hold personal data: keep them out of error text
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        poolclass=NullPool if parsed.database in (None, "", ":memory:") else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight on the DB-API connection: through SQLAlchemy's execution machinery, this one
        # statement cost as much as the query it opens (the token endpoint's reads are ~20 µs).
        connection.connection.dbapi_connection.execute(begin)

    return engine


def create_engines(url: str, *, pool_size: int = 10) -> tuple[Engine, Engine]:
    """The (write, read-only) engines for a database URL; the same engine twice on PostgreSQL."""
    if is_sqlite(url):
        return _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False)
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, hide_parameters=True
    )
    return engine, engine


class Database:
    """The engines and session factories of one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine, self.read_engine = create_engines(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False, autoflush=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, readonly: bool = False) -> Session:
        return (self._read_sessions if readonly else self._sessions)()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

"""Engines and transactions, the same on SQLite and PostgreSQL.

SQLite serves several worker processes in WAL mode. Its default "deferred" transactions
fail with "database is locked" when a reader later tries to write while another process
wrote in between, which a busy timeout cannot fix; so write transactions start with
``BEGIN IMMEDIATE`` (they wait for the write lock up front), and read-only ones use a
separate engine with plain deferred ``BEGIN``. Writers queue on a :class:`WriterGate` before
that ``BEGIN``, so that they are woken when the lock is free rather than by SQLite's sleeps.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import threading
import time
import weakref
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
    gate = WriterGate(Path(parsed.database)) if immediate and parsed.database not in (None, "", ":memory:") else None
    if gate is not None:
        _GATES[engine] = gate

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        if gate is not None:
            gate.enter_for(dbapi_connection)
        # Straight on the DB-API connection: through SQLAlchemy's execution machinery, this one
        # statement cost as much as the query it opens (the token endpoint's reads are ~20 µs).
        dbapi_connection.execute(begin)

    if gate is not None:
        # Every way a transaction ends goes through one of these (a commit, a rollback, the
        # pool's reset on return, a connection closed or discarded): the writer gate opens
        # right after, on the thread that held it.
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
            setattr(dialect, name, _then_leave(getattr(dialect, name), gate))

    return engine


def _then_leave(end: Any, gate: WriterGate) -> Any:
    def ending(connection: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return end(connection, *args, **kwargs)
        finally:
            gate.leave_for(getattr(connection, "dbapi_connection", connection))

    return ending


_GATES: weakref.WeakKeyDictionary[Engine, WriterGate] = weakref.WeakKeyDictionary()


def writer_gate(engine: Engine) -> WriterGate | None:
    """The gate of a SQLite write engine's database file (None for any other engine): what a
    transaction on one of its raw DB-API connections must pass, as its ``BEGIN`` event does."""
    return _GATES.get(engine)


class WriterGate:
    """SQLite writers of this database, one at a time, woken as soon as the lock is free.

    SQLite lets one transaction write at a time; the others, in ``BEGIN IMMEDIATE``, are retried
    by its busy handler after sleeps that grow from 1 to 100 ms. Under load (a worker's threads
    exchanging codes and refresh tokens, two workers at once) those sleeps, not the writes, set
    the pace, and the slowest request waits a second. So writers queue here first: on a thread
    lock within the process, then on an advisory lock file (``flock``) shared with the other
    processes, polled every fraction of a millisecond. Whoever cannot get in within the busy
    timeout (a writer nested in another on the same thread, a process holding the file for
    long) goes on without it, and SQLite's own busy timeout decides as before.
    """

    POLL_SECONDS = (0.0002, 0.0005, 0.001, 0.002)
    FINE_POLL_SECONDS = (0.00005,)

    def __init__(self, database: Path) -> None:
        self._path = database.with_name(database.name + "-writer.lock")
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._holder: object | None = None
        self._thread: int | None = None

    def enter_for(self, connection: object) -> None:
        """Wait for the write turn of ``connection``'s transaction (nothing if it has it already;
        without it, if it cannot be had in time: SQLite's busy timeout decides)."""
        if self._holder is connection:
            return
        if self._holder is not None and self._thread == threading.get_ident():
            return  # a writer nested in this thread's own: waiting for ourselves would never end
        if self._enter():
            self._holder, self._thread = connection, threading.get_ident()

    def try_enter_for(self, connection: object, *, patience: float = 0.005) -> bool:
        """The write turn of ``connection``'s transaction if it can be had within ``patience``
        seconds (a turn usually lasts a fraction of a millisecond, so the file is polled finely):
        for work on the event loop, which must not wait longer. False: nothing is held."""
        if self._holder is connection:
            return True
        deadline = time.monotonic() + patience
        if not self._lock.acquire(timeout=patience):
            return False
        try:
            if self._locked_file(max(0.0, deadline - time.monotonic()), self.FINE_POLL_SECONDS):
                self._holder, self._thread = connection, threading.get_ident()
                return True
        except OSError:
            pass
        self._lock.release()
        return False

    def leave_for(self, connection: object) -> None:
        """``connection``'s transaction is over: the next writer's turn (if it held it)."""
        if self._holder is connection:
            self._holder = None
            self._leave()

    def _enter(self) -> bool:
        if not self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            return False
        try:
            if self._locked_file(SQLITE_BUSY_TIMEOUT_SECONDS):
                return True
        except OSError:
            pass
        self._lock.release()
        return False

    def _leave(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _locked_file(self, patience: float, polls: tuple[float, ...] = POLL_SECONDS) -> bool:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + patience
        for attempt in itertools.count():
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(polls[min(attempt, len(polls) - 1)])
        return False  # pragma: no cover (the loop returns)


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

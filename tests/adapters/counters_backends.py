"""The counter adapters under test, built the same way in the test process and in child processes.

Test modules parametrize a ``counters`` fixture over :data:`BACKENDS`; PostgreSQL and Redis
skip (or fail under SESAME_REQUIRE_SERVICES=1) when their server is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from sesame.adapters.redis_counters import RedisCounters
from sesame.adapters.sql.counters import SqlCounters
from sesame.adapters.sql.db import Database
from sesame.ports import Counters

BACKENDS = ["sqlite", "postgresql", "redis"]
_URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "redis": "redis_url"}


def backend_url(kind: str, request: pytest.FixtureRequest) -> str:
    """The server (or SQLite file) of one backend, from the shared fixtures of tests/conftest.py."""
    return str(request.getfixturevalue(_URL_FIXTURES[kind]))


def build_counters(kind: str, url: str) -> tuple[Counters, Callable[[], None]]:
    """A counters adapter and the function that closes it."""
    if kind == "redis":
        redis_counters = RedisCounters(url)
        return redis_counters, redis_counters.close
    database = Database(url)
    return SqlCounters(database), database.dispose


@contextmanager
def open_counters(kind: str, url: str) -> Iterator[Counters]:
    counters, close = build_counters(kind, url)
    try:
        yield counters
    finally:
        close()

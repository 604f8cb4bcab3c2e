"""Shared fixtures: real databases (SQLite, and PostgreSQL when available), a frozen clock, the app.

The database under test is chosen by ``SESAME_TEST_DB``: ``sqlite`` (default) or ``postgresql``
(then ``SESAME_TEST_POSTGRES_URL`` must point at a server where we may create databases).
``make test`` runs the suite once on each. Tests that need PostgreSQL or Redis themselves use
the ``postgres_url`` and ``redis_url`` fixtures: they skip, visibly, when the server is missing,
and fail instead when ``SESAME_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets), so CI never skips them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sesame.adapters.clock import FrozenClock
from sesame.adapters.sql import migrate
from sesame.adapters.sql.models import Base
from sesame.bootstrap import Container, build_container
from sesame.config import Settings

TEST_DB = os.environ.get("SESAME_TEST_DB", "sqlite")
POSTGRES_URL = os.environ.get("SESAME_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("SESAME_TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("SESAME_REQUIRE_SERVICES") == "1"
TEST_SECRET = "test-secret-key-not-for-production-0123456789abcdef"


def missing_service(what: str) -> None:
    """Skip (visibly) or, where services are required, fail."""
    message = f"{what} is not available: set it up (make test does) to run this test"
    if REQUIRE_SERVICES:
        pytest.fail(message + " [SESAME_REQUIRE_SERVICES=1]")
    pytest.skip(message)


# -- databases ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "sesame.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    if not POSTGRES_URL:
        missing_service("PostgreSQL (SESAME_TEST_POSTGRES_URL)")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test process, emptied before each test."""
    name = f"sesame_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_admin_url(postgres_server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_template: str) -> str:
    """A migrated, empty PostgreSQL database (skips or fails when PostgreSQL is missing)."""
    _truncate_postgres(postgres_template)
    return postgres_template


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "sesame.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The database of this run (SESAME_TEST_DB), migrated and empty."""
    if TEST_DB == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
def redis_url() -> str:
    """A Redis server's URL (skips or fails when Redis is missing); the test's keys are its own."""
    if not REDIS_URL:
        missing_service("Redis (SESAME_TEST_REDIS_URL)")
    return REDIS_URL


# -- the application ---------------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        base_url="https://testserver",
        secret_key=TEST_SECRET,
        dev_mode=True,
        outbox_worker=False,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        argon2_parallelism=1,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def container(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    built = build_container(settings, clock=clock)
    yield built
    built.close()

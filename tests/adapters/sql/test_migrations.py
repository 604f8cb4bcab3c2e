"""Migrations: they build the schema the models describe, both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from sesame.adapters.sql import migrate
from sesame.adapters.sql.models import Base


def _assert_schema_matches_models(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision(url)
    _assert_schema_matches_models(url)
    migrate.downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate.upgrade(url)
    migrate.upgrade(url)  # idempotent
    assert migrate.current_revision(url) == migrate.head_revision(url)


@pytest.mark.postgres
def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str) -> None:
    # postgres_url is already at head: go down to nothing and back.
    migrate.downgrade(postgres_url, "base")
    assert migrate.current_revision(postgres_url) is None
    migrate.upgrade(postgres_url)
    assert migrate.current_revision(postgres_url) == migrate.head_revision(postgres_url)
    _assert_schema_matches_models(postgres_url)


def test_sqlite_runs_in_wal_mode(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite-only property (this run is on PostgreSQL)")
    from sesame.adapters.sql.db import Database

    database = Database(database_url)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()

"""CLI tests run the real commands against the test database, configured through the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sesame.config import get_settings
from tests.conftest import TEST_SECRET


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("SESAME_DATABASE_URL", database_url)
    monkeypatch.setenv("SESAME_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SESAME_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SESAME_BASE_URL", "http://127.0.0.1:8000")
    monkeypatch.delenv("SESAME_REDIS_URL", raising=False)
    monkeypatch.delenv("SESAME_SMTP_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()

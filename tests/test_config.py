"""Settings: environment variables, the generated secret key, the generated reference page."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sesame.config import Settings, settings_reference


def test_reads_sesame_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SESAME_BASE_URL", "https://id.example.org/")
    monkeypatch.setenv("SESAME_DEV_MODE", "true")
    monkeypatch.setenv("SESAME_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = Settings(var_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.base_url == "https://id.example.org"
    assert settings.is_https
    assert settings.dev_mode
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_default_database_is_sqlite_under_var(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.as_posix()}/sesame.db"


def test_secret_key_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]
    first = settings.resolved_secret_key()
    second = Settings(var_dir=tmp_path / "var", _env_file=None).resolved_secret_key()  # type: ignore[call-arg]
    assert first == second
    assert len(first) >= 64
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "secret_key").st_mode)
    assert mode == 0o600


def test_configured_secret_key_wins(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, secret_key="x" * 40, _env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_secret_key() == "x" * 40
    assert not (tmp_path / "secret_key").exists()
    assert "x" * 40 not in repr(settings)


def test_invalid_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESAME_ARGON2_TIME_COST", "0")
    with pytest.raises(ValueError, match="argon2_time_cost"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_reference_lists_every_setting() -> None:
    text = settings_reference()
    for name in Settings.model_fields:
        assert f"`SESAME_{name.upper()}`" in text


def test_committed_reference_is_up_to_date() -> None:
    committed = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
    assert committed.read_text(encoding="utf-8") == settings_reference(), "run `sesame config docs`"

"""`sesame maintenance purge`: what it removed, per kind and per tenant; --dry-run; idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sesame.bootstrap import build_container
from sesame.cli import app
from sesame.cli import maintenance as maintenance_cli
from sesame.config import get_settings
from sesame.domain.identity import CaseStatus
from sesame.services.retention import PurgeReport
from tests.backoffice.support import documents_of, store_case

pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture(autouse=True)
def demo(cli_env: None, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("TIME_COST", "1"), ("MEMORY_COST", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"SESAME_ARGON2_{name}", value)
    get_settings.cache_clear()
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0


def purge(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, ["maintenance", "purge", *args])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def forgotten_case() -> int:
    """An enrolment left at the address step (with its two images) half a year ago."""
    built = build_container(get_settings())
    try:
        laposte = built.tenants.get("laposte")
        stored = store_case(built, laposte, until=CaseStatus.ADDRESS)
        with built.uow() as uow:
            case = uow.proofing.get(stored.case.id)
            assert case is not None
            case.updated_at = datetime.now(UTC) - timedelta(days=180)
            uow.proofing.save(case)
            uow.commit()
        return case.id
    finally:
        built.close()


def test_purge_of_a_fresh_database_removes_nothing(runner: CliRunner) -> None:
    data = as_json(purge(runner, "--json"))
    assert data["dry_run"] is False and set(data["tenants"]) == {"laposte", "banque", "poste-ch"}
    assert not any(data["totals"].values())
    text = purge(runner)
    assert text.exit_code == 0 and "laposte: nothing" in text.stdout


def test_dry_run_then_purge_then_nothing(runner: CliRunner, forgotten_case: int) -> None:
    dry = as_json(purge(runner, "--dry-run", "--json"))
    assert dry["dry_run"] is True
    assert dry["tenants"]["laposte"]["abandoned_cases"] == 1 and dry["tenants"]["laposte"]["documents"] == 2
    assert dry["tenants"]["poste-ch"]["abandoned_cases"] == 0
    built = build_container(get_settings())
    try:
        assert documents_of(built, forgotten_case) == 2  # a dry run removes nothing
    finally:
        built.close()

    text = purge(runner)
    assert text.exit_code == 0, text.output
    assert "laposte: 2 document images and videos, 1 unfinished enrolments abandoned" in text.stdout

    again = as_json(purge(runner, "--json"))
    assert not any(again["totals"].values())  # idempotent
    built = build_container(get_settings())
    try:
        assert documents_of(built, forgotten_case) == 0
        with built.uow(readonly=True) as uow:
            case = uow.proofing.get(forgotten_case)
            assert case is not None and case.status is CaseStatus.ABANDONED
    finally:
        built.close()


def test_the_phone_apps_expired_requests_are_reported(runner: CliRunner, capsys: pytest.CaptureFixture[str]) -> None:
    data = as_json(purge(runner, "--json"))
    assert data["totals"]["expired_approvals"] == 0 and data["totals"]["expired_activations"] == 0
    report = PurgeReport(at=datetime(2026, 3, 1, tzinfo=UTC), dry_run=False, expired_approvals=3, expired_activations=1)
    maintenance_cli._print(report)
    assert "server: 3 expired app approval requests, 1 expired app activations" in capsys.readouterr().out

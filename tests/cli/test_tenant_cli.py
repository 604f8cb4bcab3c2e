"""`sesame tenant`, `sesame demo load`, `sesame db`, `sesame config` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sesame.cli import app

pytestmark = pytest.mark.usefixtures("cli_env")


def test_demo_load_then_list_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["demo", "load", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["tenant"] for row in rows] == ["laposte", "banque", "poste-ch"]
    assert rows[0]["login"]["identifier"] == "marie.dupont@example.fr"
    assert rows[1]["login"]["customer_number"] == "1234567897"  # the demo bank customer, enrolled once
    again = runner.invoke(app, ["demo", "load"])
    assert again.exit_code == 0 and "updated" in again.stdout
    listed = json.loads(runner.invoke(app, ["tenant", "list", "--json"]).stdout)
    assert {t["slug"]: t["identifier"] for t in listed} == {
        "banque": "customer_number",
        "laposte": "email",
        "poste-ch": "email",
    }


def test_show(runner: CliRunner) -> None:
    runner.invoke(app, ["demo", "load"])
    result = runner.invoke(app, ["tenant", "show", "banque", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["policy"]["lockout"]["max_failures"] == 3
    text = runner.invoke(app, ["tenant", "show", "banque"])
    assert "La Banque Postale" in text.stdout


def test_create_with_policy_file(runner: CliRunner, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"password": {"min_length": 12}, "languages": {"default": "en"}}))
    result = runner.invoke(app, ["tenant", "create", "acme", "--name", "ACME", "--policy", str(policy), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["url"] == "http://127.0.0.1:8000/acme"
    shown = json.loads(runner.invoke(app, ["tenant", "show", "acme", "--json"]).stdout)
    assert shown["policy"]["password"]["min_length"] == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "create", "Bad Slug", "--name", "x"], "slug"),
        (["tenant", "show", "nobody"], "no tenant"),
    ],
)
def test_errors_are_one_line_for_people(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_invalid_policy_file(runner: CliRunner, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"password": {"min_length": 1}}')
    result = runner.invoke(app, ["tenant", "create", "acme", "--name", "ACME", "--policy", str(policy)])
    assert result.exit_code == 1 and "not valid" in result.stderr


def test_duplicate_tenant(runner: CliRunner) -> None:
    assert runner.invoke(app, ["tenant", "create", "acme", "--name", "ACME"]).exit_code == 0
    result = runner.invoke(app, ["tenant", "create", "acme", "--name", "ACME"])
    assert result.exit_code == 1 and "exists" in result.stderr


def test_db_current_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["db", "current", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["up_to_date"] is True
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0


def test_config_show_hides_secrets(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    from sesame.config import get_settings

    monkeypatch.setenv("SESAME_SMTP_URL", "smtp://mailer:hunter2@127.0.0.1:2525")
    get_settings.cache_clear()
    result = runner.invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0
    assert "hunter2" not in result.stdout
    assert "test-secret-key" not in result.stdout
    assert json.loads(result.stdout)["smtp_url"] == "smtp://mailer:***@127.0.0.1:2525"

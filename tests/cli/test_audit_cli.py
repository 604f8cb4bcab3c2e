"""`sesame audit verify` and `sesame audit list` as an operator (or a cron job) runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import AuditEventRow
from sesame.cli import app

pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture
def two_tenants(cli_env: None, runner: CliRunner) -> None:
    """Each `tenant create` writes a `tenant.created` audit event in the tenant's chain."""
    for slug in ("acme", "globex"):
        result = runner.invoke(app, ["tenant", "create", slug, "--name", slug.title()])
        assert result.exit_code == 0, result.output


def tamper_first_event(database_url: str, slug_index: int) -> None:
    database = Database(database_url)
    try:
        with database.engine.begin() as connection:
            connection.execute(
                update(AuditEventRow)
                .where(AuditEventRow.chain == slug_index, AuditEventRow.seq == 1)
                .values(actor="someone-else")
            )
    finally:
        database.dispose()


def test_verify_an_empty_log(runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "empty" in result.stdout


@pytest.mark.usefixtures("two_tenants")
def test_verify_an_intact_log(runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "ok      tenant acme: 1 records" in result.stdout
    assert "ok      tenant globex: 1 records" in result.stdout
    data = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)
    assert [(row["tenant"], row["intact"], row["last_seq"]) for row in data] == [("acme", True, 1), ("globex", True, 1)]
    assert all(len(row["last_hash"]) == 64 for row in data)


@pytest.mark.usefixtures("two_tenants")
def test_verify_names_the_tampered_tenant_seq_and_reason(runner: CliRunner, database_url: str) -> None:
    tamper_first_event(database_url, 2)  # globex, the second tenant created
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "tenant globex breaks at seq 1, hash_mismatch" in result.stderr
    assert "ok      tenant acme" in result.stdout
    assert "BROKEN  tenant globex: seq 1: hash_mismatch" in result.stdout

    as_json = runner.invoke(app, ["audit", "verify", "--json"])
    assert as_json.exit_code == 1
    rows = {row["tenant"]: row for row in json.loads(as_json.stdout)}
    assert (rows["globex"]["intact"], rows["globex"]["broken_at"], rows["globex"]["reason"]) == (
        False,
        1,
        "hash_mismatch",
    )
    assert rows["acme"]["intact"]

    only_acme = runner.invoke(app, ["audit", "verify", "--tenant", "acme"])
    assert only_acme.exit_code == 0, only_acme.output


def test_verify_an_unknown_tenant(runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "verify", "--tenant", "nobody"])
    assert result.exit_code == 1
    assert "no tenant nobody" in result.stderr


@pytest.mark.usefixtures("two_tenants")
def test_list(runner: CliRunner) -> None:
    runner.invoke(app, ["tenant", "create", "initech", "--name", "Initech"])
    result = runner.invoke(app, ["audit", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(row["tenant"], row["type"], row["seq"], row["actor"]) for row in rows] == [
        ("initech", "tenant.created", 1, "cli"),
        ("globex", "tenant.created", 1, "cli"),
        ("acme", "tenant.created", 1, "cli"),
    ]
    limited = json.loads(runner.invoke(app, ["audit", "list", "--tenant", "acme", "--limit", "1", "--json"]).stdout)
    assert [row["tenant"] for row in limited] == ["acme"]
    assert json.loads(runner.invoke(app, ["audit", "list", "--type", "login.failed", "--json"]).stdout) == []
    text = runner.invoke(app, ["audit", "list", "--tenant", "globex"])
    assert text.exit_code == 0
    line = text.stdout.strip()
    # The event's time first, in UTC: the command runs on the wall clock (not "2026-": a year ends).
    written = datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - written) < timedelta(hours=1)
    assert "globex" in line
    assert "tenant.created" in line
    assert "subject=tenant:globex" in line
    assert "No audit event matches." in runner.invoke(app, ["audit", "list", "--type", "nothing"]).stdout


def test_list_refuses_a_zero_limit(runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "list", "--limit", "0"])
    assert result.exit_code == 2

"""`sesame user`: create, show, lock, unlock, flag-password-change, as support and tests run them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import build_container
from sesame.cli import app
from sesame.cli import user as user_cli
from sesame.config import get_settings
from sesame.domain.factors import FactorKind
from sesame.domain.throttling import LockoutStatus
from sesame.services.context import RequestContext
from sesame.services.factors import FactorStatus, second_factor_key
from sesame.services.throttling import LockoutGuard

pytestmark = pytest.mark.usefixtures("cli_env")

EMAIL = "camille.martin@example.fr"
PASSWORD = "Vxq7-Lmpa-Rtz-2026"
COMMANDS = ["create", "show", "lock", "unlock", "flag-password-change"]


@pytest.fixture(autouse=True)
def demo(cli_env: None, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo tenants, in the test database (cli_env first: never the default one under var/)."""
    # Cheap argon2 parameters: every command builds its own container and hashes for real.
    for name, value in (("TIME_COST", "1"), ("MEMORY_COST", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"SESAME_ARGON2_{name}", value)
    get_settings.cache_clear()
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0


def run(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["user", *args], input=input)


def create(runner: CliRunner, *extra: str, password: str = PASSWORD, tenant: str = "laposte") -> Result:
    return run(runner, "create", "--tenant", tenant, "--email", EMAIL, "--password", password, *extra)


def as_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def assert_no_password(result: Result, password: str = PASSWORD) -> None:
    assert password not in result.stdout
    assert password not in result.stderr


def test_create_json(runner: CliRunner) -> None:
    result = create(runner, "--given-name", "Camille", "--family-name", "Martin", "--json")
    data = as_json(result)
    assert data["email"] == EMAIL and data["id"] > 0
    assert (data["given_name"], data["family_name"], data["status"]) == ("Camille", "Martin", "active")
    assert (data["email_verified"], data["password_change_required"]) == (False, False)
    assert not {"password", "password_hash", "secret_hash"} & set(data)
    assert "$argon2" not in result.stdout
    assert_no_password(result)


def test_create_verified_then_show(runner: CliRunner) -> None:
    assert as_json(create(runner, "--verified", "--json"))["email_verified"] is True
    shown = as_json(run(runner, "show", "--tenant", "laposte", "--email", EMAIL.upper(), "--json"))
    assert (shown["email"], shown["email_verified"], shown["locale"]) == (EMAIL, True, "fr")
    text = run(runner, "show", "--tenant", "laposte", "--email", EMAIL)
    assert text.exit_code == 0 and EMAIL in text.stdout and "status" in text.stdout


def test_the_password_may_be_prompted_without_echo(runner: CliRunner) -> None:
    result = run(runner, "create", "--tenant", "laposte", "--email", EMAIL, "--json", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert_no_password(result)
    assert json.loads(result.stdout[result.stdout.index("{") :])["email"] == EMAIL


@pytest.mark.parametrize(
    ("tenant", "password", "rules"),
    [
        ("laposte", "sunshine", "upper, digit, not_blocklisted"),
        ("laposte", "Vxq7Lmp", "min_length"),
        ("laposte", "Camille.Martin@example.fr", "digit, not_personal"),
        ("poste-ch", "Vxq7-Lmpa-2026", "min_length"),
        ("poste-ch", "passwordpassword", "not_blocklisted"),
    ],
)
def test_a_weak_password_is_refused_with_the_failed_rules(
    runner: CliRunner, tenant: str, password: str, rules: str
) -> None:
    result = create(runner, "--json", password=password, tenant=tenant)
    assert result.exit_code == 1
    assert f"failed rules: {rules})" in result.stderr
    assert result.stdout == ""
    assert_no_password(result, password)
    missing = run(runner, "show", "--tenant", tenant, "--email", EMAIL)
    assert missing.exit_code == 1 and "no account" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--tenant", "nobody", "--email", EMAIL, "--password", PASSWORD], "no tenant"),
        (["create", "--tenant", "laposte", "--email", "not-an-email", "--password", PASSWORD], "invalid email"),
        (["create", "--tenant", "banque", "--email", EMAIL, "--password", PASSWORD], "customer_number"),
        (["show", "--tenant", "laposte", "--email", "nobody@example.fr"], "no account"),
        (["lock", "--tenant", "laposte", "--email", "nobody@example.fr"], "no account"),
        (["unlock", "--tenant", "laposte", "--email", "nobody@example.fr"], "no account"),
        (["flag-password-change", "--tenant", "laposte", "--email", "nobody@example.fr"], "no account"),
    ],
)
def test_errors_are_one_line_for_people(runner: CliRunner, args: list[str], message: str) -> None:
    result = run(runner, *args, "--json")
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert_no_password(result)


def test_a_duplicate_is_refused(runner: CliRunner) -> None:
    as_json(create(runner, "--json"))
    again = run(runner, "create", "--tenant", "laposte", "--email", EMAIL.upper(), "--password", PASSWORD)
    assert again.exit_code == 1 and "exists" in again.stderr


def test_lock_unlock_and_flag(runner: CliRunner) -> None:
    as_json(create(runner, "--verified", "--json"))
    target = ["--tenant", "laposte", "--email", EMAIL, "--json"]
    locked = as_json(run(runner, "lock", *target, "--reason", "fraud suspected"))
    assert (locked["status"], locked["status_reason"]) == ("locked", "fraud suspected")
    assert as_json(run(runner, "show", *target))["status"] == "locked"
    unlocked = as_json(run(runner, "unlock", *target))
    assert (unlocked["status"], unlocked["status_reason"]) == ("active", None)
    flagged = as_json(run(runner, "flag-password-change", *target, "--reason", "fraud"))
    assert (flagged["password_change_required"], flagged["profile_review_required"]) == (True, True)
    assert as_json(run(runner, "show", *target))["password_change_required"] is True


def test_the_actions_are_audited_as_the_cli(runner: CliRunner) -> None:
    as_json(create(runner, "--json"))
    run(runner, "lock", "--tenant", "laposte", "--email", EMAIL)
    audit = runner.invoke(app, ["audit", "list", "--tenant", "laposte", "--json"])
    assert audit.exit_code == 0, audit.output
    assert PASSWORD not in audit.stdout
    newest: dict[str, dict[str, Any]] = {}
    for event in reversed(json.loads(audit.stdout)):  # newest first: keep the first of each type
        newest[event["type"]] = event
    assert newest["account.created"]["actor"] == newest["account.locked"]["actor"] == "cli"


def test_every_user_command_takes_json() -> None:
    names = [command.name or command.callback.__name__ for command in user_cli.app.registered_commands]  # type: ignore[union-attr]
    assert sorted(names) == sorted(COMMANDS)  # a new command needs its line in this test


@pytest.mark.parametrize("command", COMMANDS)
def test_every_user_command_prints_json_when_asked(runner: CliRunner, command: str) -> None:
    as_json(create(runner, "--json"))
    args = ["--tenant", "laposte", "--email", "someone.else@example.fr" if command == "create" else EMAIL]
    if command == "create":
        args += ["--password", PASSWORD]
    data = as_json(run(runner, command, *args, "--json"))
    assert data["email"] in (EMAIL, "someone.else@example.fr")
    assert set(data) >= {"id", "email", "status", "password_change_required"}


def test_unlock_lifts_the_second_factors_lock_too(runner: CliRunner) -> None:
    """Support's unlock reopens the second factors (``FactorService.unlock``) with the password."""
    account_id = as_json(create(runner, "--verified", "--json"))["id"]
    built = build_container(get_settings())
    try:
        tenant = built.tenants.get("laposte")
        # Wrong codes until locked, the suspensions waited out on a clock of our own.
        clock = FrozenClock(datetime.now(UTC))
        guard, key = LockoutGuard(built.counters, clock, tenant.policy.lockout), second_factor_key(tenant, account_id)
        while (decision := guard.register_failure(key)).status is not LockoutStatus.LOCKED:
            if decision.suspended_until is not None:
                clock.set(decision.suspended_until)
        ctx = RequestContext(ip="192.0.2.9", user_agent="pytest")
        locked = built.factors.verify_second_factor(tenant, account_id, FactorKind.TOTP, "123456", None, ctx)
        assert locked.status is FactorStatus.LOCKED
        assert as_json(run(runner, "unlock", "--tenant", "laposte", "--email", EMAIL, "--json"))["status"] == "active"
        again = built.factors.verify_second_factor(tenant, account_id, FactorKind.TOTP, "123456", None, ctx)
        assert again.status is FactorStatus.WRONG  # checked again (no app enrolled here), not locked
    finally:
        built.close()

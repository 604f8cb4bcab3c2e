"""`sesame banque` (enrol, new-code, api-key) and `sesame user ... --customer-number`, as the bank's
back office and support run them, against the test database."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sesame.bootstrap import build_container
from sesame.cli import app
from sesame.cli.common import container
from sesame.config import get_settings
from sesame.domain.customer_numbers import is_customer_number
from sesame.services.authentication import lockout_key
from sesame.services.demo import load_demo
from tests.log_support import without_random_fields

pytestmark = pytest.mark.usefixtures("cli_env")

LETTER_CODE_RE = re.compile(r"Code provisoire : (\d{6})")
LEON = ("--given-name", "Léon", "--family-name", "Martin")


@pytest.fixture(autouse=True)
def demo(cli_env: None, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("TIME_COST", "1"), ("MEMORY_COST", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"SESAME_ARGON2_{name}", value)
    get_settings.cache_clear()
    with container() as built:  # the tenants only: `demo load` also enrols a demo customer
        load_demo(built.tenants)


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def enrol(runner: CliRunner, *extra: str) -> dict[str, Any]:
    args = ["banque", "enrol", "--given-name", "Zoé", "--family-name", "Lefèvre"]
    args += ["--address", "12 rue des Lilas", "--address", "75011 Paris", "--json", *extra]
    data: dict[str, Any] = as_json(run(runner, *args))
    return data


def outbox(runner: CliRunner) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = as_json(run(runner, "outbox", "list", "--tenant", "banque", "--json"))
    return messages


def test_enrol_prints_the_number_never_the_code(runner: CliRunner) -> None:
    result = run(
        runner,
        *("banque", "enrol", "--given-name", "Zoé", "--family-name", "Lefèvre"),
        *("--address", "12 rue des Lilas", "--address", "75011 Paris", "--birth-date", "1985-04-07", "--json"),
    )
    data = as_json(result)
    assert is_customer_number(data["customer_number"]) and data["tenant"] == "banque"
    assert [letter["template"] for letter in data["letters"]] == ["banque_customer_number", "banque_first_code"]
    code_letter, number_letter = outbox(runner)  # newest first
    match = LETTER_CODE_RE.search(code_letter["text"])
    # Not printed (the letters' times aside: their microseconds are any 6 digits).
    assert match and match.group(1) not in without_random_fields(result.stdout) and match.group(1) not in result.stderr
    # The dev inbox of the CLI shows each letter's text, and that it has its PDF.
    assert data["customer_number"] in number_letter["text"] and number_letter["has_pdf"] is True
    assert code_letter["has_pdf"] is True and code_letter["recipient"] == "Zoé Lefèvre\n12 rue des Lilas\n75011 Paris"


def test_enrol_as_text(runner: CliRunner) -> None:
    result = run(runner, "banque", "enrol", "--given-name", "Léon", "--family-name", "Martin", "--address", "1 place X")
    assert result.exit_code == 0, result.output
    number = re.search(r"customer number\s+(\d{10})", result.stdout)
    assert number and is_customer_number(number.group(1))
    assert "one-time code, from" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--given-name", "Léon", "--family-name", "Martin"], "--address: required"),
        (["--given-name", " ", "--family-name", "Martin", "--address", "1 place X"], "--given-name: required"),
        (
            ["--given-name", "Léon", "--family-name", "Martin", "--address", "x", "--birth-date", "07/04/85"],
            "YYYY-MM-DD",
        ),
        (["--given-name", "Léon", "--family-name", "Martin", "--address", "x", "--locale", "de"], "--locale: invalid"),
    ],
)
def test_bad_input_creates_nothing(runner: CliRunner, args: list[str], message: str) -> None:
    result = run(runner, "banque", "enrol", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert outbox(runner) == []


def test_a_missing_name_is_a_usage_error(runner: CliRunner) -> None:
    result = run(runner, "banque", "enrol", "--family-name", "Martin", "--address", "x")
    assert result.exit_code == 2
    assert outbox(runner) == []


def test_enrol_only_where_customers_have_numbers(runner: CliRunner) -> None:
    result = run(
        runner, "banque", "enrol", "--tenant", "laposte", "--given-name", "A", "--family-name", "B", "--address", "x"
    )
    assert result.exit_code == 1 and "customer number" in result.stderr


def test_new_code_by_post(runner: CliRunner) -> None:
    number = enrol(runner)["customer_number"]
    data = as_json(run(runner, "banque", "new-code", "--customer-number", number, "--json"))
    assert data["letter"] == "queued"
    assert outbox(runner)[0]["template"] == "banque_new_code"
    unknown = run(runner, "banque", "new-code", "--customer-number", "7992739875")
    assert unknown.exit_code == 1 and "no customer" in unknown.stderr


# -- API keys ---------------------------------------------------------------------------------------------------


def test_api_keys_create_list_revoke(runner: CliRunner) -> None:
    created = as_json(run(runner, "banque", "api-key", "create", "--label", "Back office", "--json"))
    key = created["api_key"]
    assert re.fullmatch(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key) and created["label"] == "Back office"
    listed = as_json(run(runner, "banque", "api-key", "list", "--json"))
    assert [item["key_id"] for item in listed] == [created["key_id"]]
    assert key not in json.dumps(listed) and key.split("_", 2)[2] not in json.dumps(listed)
    assert run(runner, "banque", "api-key", "revoke", created["key_id"]).exit_code == 0
    assert as_json(run(runner, "banque", "api-key", "list", "--json"))[0]["revoked_at"] is not None
    again = run(runner, "banque", "api-key", "revoke", created["key_id"])
    assert again.exit_code == 1


def test_an_api_key_in_text_is_the_only_thing_on_stdout(runner: CliRunner) -> None:
    result = run(runner, "banque", "api-key", "create", "--label", "Scripts")
    assert result.exit_code == 0 and re.fullmatch(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n", result.stdout)
    assert "cannot be shown again" in result.stderr


# -- sesame user with --customer-number -------------------------------------------------------------------------------


def test_user_show_lock_unlock_by_customer_number(runner: CliRunner) -> None:
    number = enrol(runner)["customer_number"]
    shown = as_json(run(runner, "user", "show", "--tenant", "banque", "--customer-number", number, "--json"))
    assert shown["customer_number"] == number and shown["email"] is None
    locked = as_json(run(runner, "user", "lock", "--tenant", "banque", "-n", number, "--reason", "fraud", "--json"))
    assert (locked["status"], locked["status_reason"]) == ("locked", "fraud")
    unlocked = as_json(run(runner, "user", "unlock", "--tenant", "banque", "--customer-number", number, "--json"))
    assert (unlocked["status"], unlocked["status_reason"]) == ("active", None)


def test_unlock_lifts_the_lockout_caps_lock(runner: CliRunner) -> None:
    number = enrol(runner)["customer_number"]
    built = build_container(get_settings())
    try:
        tenant = built.tenants.get("banque")
        locked = f"lockout:{lockout_key(tenant, number)}:locked"
        now = built.clock.now()
        built.counters.set_until(locked, 1, now + timedelta(days=365), now)  # as the tenth suspension leaves it
        assert built.counters.get(locked, now) == 1
        assert run(runner, "user", "unlock", "--tenant", "banque", "--customer-number", number).exit_code == 0
        assert built.counters.get(locked, built.clock.now()) == 0
    finally:
        built.close()


@pytest.mark.parametrize(
    "identify",
    [[], ["--email", "a@example.fr", "--customer-number", "7992739875"]],
)
def test_one_identifier_exactly(runner: CliRunner, identify: list[str]) -> None:
    result = run(runner, "user", "show", "--tenant", "banque", *identify)
    assert result.exit_code == 1 and "--customer-number" in result.stderr


def test_a_malformed_customer_number(runner: CliRunner) -> None:
    result = run(runner, "user", "unlock", "--tenant", "banque", "--customer-number", "12345")
    assert result.exit_code == 1 and "not a customer number" in result.stderr

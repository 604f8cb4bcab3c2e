"""`sesame agent`: create (one-time password, or one read from stdin), list, disable, enable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sesame.backoffice.agents import LoginStatus
from sesame.bootstrap import Container, build_container
from sesame.cli import app
from sesame.config import get_settings
from sesame.services.demo import DEMO_AGENT_EMAIL
from tests.backoffice.support import AGENT_PASSWORD, AT_COUNTER

pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture(autouse=True)
def demo(cli_env: None, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("TIME_COST", "1"), ("MEMORY_COST", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"SESAME_ARGON2_{name}", value)
    get_settings.cache_clear()
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0


@contextmanager
def server() -> Iterator[Container]:
    """The same database as the commands, as the server would see it."""
    built = build_container(get_settings())
    try:
        yield built
    finally:
        built.close()


def run(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["agent", *args], input=input)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def listed(runner: CliRunner, *args: str) -> list[dict[str, Any]]:
    """``agent list --json`` without the demo agent that ``demo load`` creates."""
    return [agent for agent in as_json(run(runner, "list", *args, "--json")) if agent["email"] != DEMO_AGENT_EMAIL]


def create(runner: CliRunner, email: str = "paul@laposte.example", *extra: str, input: str | None = None) -> Result:
    base = ["create", "--tenant", "laposte", "--email", email, "--name", "Paul Tournée", "--role", "postman"]
    return run(runner, *base, *extra, input=input)


def test_create_prints_a_one_time_password_once(runner: CliRunner) -> None:
    result = create(runner, "Paul@LaPoste.example", "--role", "clerk", "--tenant", "poste-ch", "--json")
    data = as_json(result)
    assert data["email"] == "paul@laposte.example" and data["roles"] == ["clerk", "postman"]
    assert data["tenants"] == ["laposte", "poste-ch"] and data["password_change_required"] is True
    password = data["one_time_password"]
    assert len(password) >= 20 and password not in result.stderr
    assert "$argon2" not in result.stdout
    with server() as built:  # it works, and must be changed at the first login
        outcome = built.backoffice.access.authenticate("paul@laposte.example", password, AT_COUNTER)
    assert outcome.ok and outcome.agent is not None and outcome.agent.password_change_required
    agents = listed(runner)
    assert "one_time_password" not in agents[0] and password not in json.dumps(agents)


def test_create_reads_the_password_from_stdin(runner: CliRunner) -> None:
    result = create(runner, "claire@laposte.example", "--password-stdin", "--json", input=AGENT_PASSWORD + "\n")
    data = as_json(result)
    assert "one_time_password" not in data and data["password_change_required"] is False
    assert AGENT_PASSWORD not in result.stdout and AGENT_PASSWORD not in result.stderr
    with server() as built:
        assert built.backoffice.access.authenticate("claire@laposte.example", AGENT_PASSWORD, AT_COUNTER).ok


def test_create_in_text_shows_the_password_once(runner: CliRunner) -> None:
    result = create(runner)
    assert result.exit_code == 0, result.output
    assert "paul@laposte.example" in result.stdout and "One-time password" in result.stdout


def test_create_refuses_bad_input(runner: CliRunner) -> None:
    assert as_json(create(runner, "paul@laposte.example", "--json"))
    duplicate = create(runner, "PAUL@laposte.example")
    assert duplicate.exit_code == 1 and "exists" in duplicate.stderr
    unknown = run(runner, "create", "-t", "nowhere", "-e", "x@laposte.example", "-n", "X", "-r", "clerk")
    assert unknown.exit_code == 1 and "nowhere" in unknown.stderr
    bad_role = run(runner, "create", "-t", "laposte", "-e", "x@laposte.example", "-n", "X", "-r", "boss")
    assert bad_role.exit_code == 1 and "boss" in bad_role.stderr
    weak = create(runner, "y@laposte.example", "--password-stdin", input="short\n")
    assert weak.exit_code == 1 and "policy" in weak.stderr and "short" not in weak.stderr
    empty = create(runner, "z@laposte.example", "--password-stdin", input="\n")
    assert empty.exit_code == 1
    assert [agent["email"] for agent in listed(runner)] == ["paul@laposte.example"]


def test_list_by_tenant(runner: CliRunner) -> None:
    create(runner, "paul@laposte.example")
    run(runner, "create", "-t", "poste-ch", "-e", "anna@post.example", "-n", "Anna", "-r", "reviewer")
    assert [a["email"] for a in listed(runner)] == ["anna@post.example", "paul@laposte.example"]
    assert [a["email"] for a in listed(runner, "--tenant", "poste-ch")] == ["anna@post.example"]
    text = run(runner, "list")
    assert text.exit_code == 0 and "anna@post.example" in text.stdout and "reviewer" in text.stdout


def test_disable_and_enable(runner: CliRunner) -> None:
    create(runner, "claire@laposte.example", "--password-stdin", input=AGENT_PASSWORD + "\n")
    disabled = as_json(run(runner, "disable", "--email", "claire@laposte.example", "--json"))
    assert disabled["active"] is False and disabled["disabled_at"]
    with server() as built:
        refused = built.backoffice.access.authenticate("claire@laposte.example", AGENT_PASSWORD, AT_COUNTER)
    assert refused.status is LoginStatus.DISABLED
    enabled = as_json(run(runner, "enable", "--email", "claire@laposte.example", "--json"))
    assert enabled["active"] is True
    with server() as built:
        assert built.backoffice.access.authenticate("claire@laposte.example", AGENT_PASSWORD, AT_COUNTER).ok
    missing = run(runner, "disable", "--email", "nobody@laposte.example")
    assert missing.exit_code == 1

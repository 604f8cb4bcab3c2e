"""`sesame keys list` and `sesame keys rotate` as an operator runs them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sesame.cli import app

pytestmark = pytest.mark.usefixtures("cli_env")


def test_demo_tenants_get_a_key_and_rotation_shows_in_the_list(runner: CliRunner) -> None:
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0
    (first,) = json.loads(runner.invoke(app, ["keys", "list", "--tenant", "banque", "--json"]).stdout)
    assert (first["alg"], first["status"], first["signing"], first["published"]) == ("ES256", "active", True, True)

    rotated = runner.invoke(app, ["keys", "rotate", "--tenant", "banque", "--json"])
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)
    assert new["kid"] != first["kid"] and new["signing"] is False  # after the activation delay

    listed = json.loads(runner.invoke(app, ["keys", "list", "--tenant", "banque", "--json"]).stdout)
    assert [(k["kid"], k["status"]) for k in listed] == [(new["kid"], "active"), (first["kid"], "retired")]
    old = listed[1]
    assert old["signing"] is True  # until the new key is ready
    assert old["retired_at"] and old["publish_until"] > old["retired_at"]

    text = runner.invoke(app, ["keys", "list", "--tenant", "banque"])
    assert new["kid"] in text.stdout and "retired" in text.stdout


def test_rotate_to_rs256(runner: CliRunner) -> None:
    runner.invoke(app, ["tenant", "create", "acme", "--name", "ACME"])
    result = runner.invoke(app, ["keys", "rotate", "--tenant", "acme", "--alg", "RS256"])
    assert result.exit_code == 0, result.output
    assert "RS256" in result.stdout and "signing now" in result.stdout  # the first RS256 key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "rotate", "--tenant", "acme", "--alg", "HS256"], "unsupported signing algorithm"),
        (["keys", "list", "--tenant", "nowhere"], "no tenant nowhere"),
    ],
)
def test_errors_are_one_line(runner: CliRunner, args: list[str], message: str) -> None:
    runner.invoke(app, ["tenant", "create", "acme", "--name", "ACME"])
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr

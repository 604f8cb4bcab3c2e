"""`sesame client` as an operator runs it: the secret is printed once, at creation, and never again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from sesame.bootstrap import Container, build_container
from sesame.cli import app
from sesame.config import get_settings
from sesame.services.oidc_clients import CLIENT_SECRET_PURPOSE

pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture
def built() -> Iterator[Container]:
    """The same database and secret as the commands (to look at what they stored)."""
    container = build_container(get_settings())
    container.tenants.create("laposte", "La Poste")
    yield container
    container.close()


def create(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(
        app, ["client", "create", "--tenant", "laposte", "--name", "Impots.gouv", *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_create_prints_the_client_with_its_secret_once(runner: CliRunner, built: Container) -> None:
    data = create(
        runner,
        "--redirect-uri",
        "https://rp.example/cb",
        "--redirect-uri",
        "http://127.0.0.1:8081/cb",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--backchannel-logout-uri",
        "https://rp.example/backchannel",
        "--scope",
        "openid",
        "--scope",
        "email",
    )
    secret = data["client_secret"]
    assert len(secret) >= 43
    assert data["redirect_uris"] == ["https://rp.example/cb", "http://127.0.0.1:8081/cb"]
    assert data["grant_types"] == ["authorization_code", "refresh_token"]
    assert data["response_types"] == ["code"]
    assert data["scopes"] == ["openid", "email"]
    assert data["token_endpoint_auth_method"] == "client_secret_basic"
    assert data["issuer"] == "http://127.0.0.1:8000/laposte"
    assert data["post_logout_redirect_uris"] == ["https://rp.example/bye"]
    assert data["backchannel_logout_uri"] == "https://rp.example/backchannel"
    assert "secret_hash" not in data

    # What is stored is a keyed hash of the secret, not the secret.
    stored = built.oidc_clients.show(built.tenants.get("laposte"), data["client_id"])
    assert stored.secret_hash is not None and stored.secret_hash != secret and secret not in stored.secret_hash
    assert stored.secret_hash == built.keyed.digest(CLIENT_SECRET_PURPOSE, secret)
    assert built.oidc_clients.verify_secret(stored, secret)

    # Never shown again: not by show, not by list, in text or JSON.
    for args in (
        ["client", "show", data["client_id"], "--tenant", "laposte", "--json"],
        ["client", "show", data["client_id"], "--tenant", "laposte"],
        ["client", "list", "--tenant", "laposte", "--json"],
        ["client", "list", "--tenant", "laposte"],
    ):
        shown = runner.invoke(app, args)
        assert shown.exit_code == 0, shown.output
        assert secret not in shown.output and stored.secret_hash not in shown.output
        assert 'client_secret"' not in shown.output and "secret_hash" not in shown.output
    listed = json.loads(runner.invoke(app, ["client", "list", "--tenant", "laposte", "--json"]).stdout)
    assert [c["client_id"] for c in listed] == [data["client_id"]]


def test_a_public_client_has_no_secret(runner: CliRunner, built: Container) -> None:
    data = create(runner, "--redirect-uri", "http://[::1]:9000/cb", "--public")
    assert "client_secret" not in data
    assert data["public"] is True and data["token_endpoint_auth_method"] == "none"


def test_skip_consent_and_auth_method(runner: CliRunner, built: Container) -> None:
    data = create(
        runner, "--redirect-uri", "https://rp.example/cb", "--auth-method", "client_secret_post", "--skip-consent"
    )
    assert data["token_endpoint_auth_method"] == "client_secret_post"
    assert data["skip_consent"] is True and data["client_secret"]


def test_a_machine_client(runner: CliRunner, built: Container) -> None:
    data = create(runner, "--grant", "client_credentials")
    assert data["grant_types"] == ["client_credentials"] and data["response_types"] == []
    assert data["client_secret"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redirect-uri", "http://rp.example/cb"], "must use https"),
        (["--redirect-uri", "https://rp.example/cb#top"], "must not contain a fragment"),
        (["--redirect-uri", "/cb"], "must be an absolute URI"),
        (["--redirect-uri", "https://rp.example/cb", "--public", "--grant", "client_credentials"], "public client"),
        (["--redirect-uri", "https://rp.example/cb", "--grant", "password"], "grant_types"),
        (["--redirect-uri", "https://rp.example/cb", "--auth-method", "private_key_jwt"], "public keys"),
    ],
)
def test_invalid_clients_are_refused_with_a_clear_message(
    runner: CliRunner, built: Container, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["client", "create", "--tenant", "laposte", "--name", "Bad", *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""
    assert built.oidc_clients.list(built.tenants.get("laposte")) == []


def test_disable(runner: CliRunner, built: Container) -> None:
    client_id = create(runner, "--redirect-uri", "https://rp.example/cb")["client_id"]
    result = runner.invoke(app, ["client", "disable", client_id, "--tenant", "laposte"])
    assert result.exit_code == 0 and "Disabled" in result.stdout
    shown = json.loads(runner.invoke(app, ["client", "show", client_id, "--tenant", "laposte", "--json"]).stdout)
    assert shown["enabled"] is False and shown["disabled_at"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["client", "show", "nobody", "--tenant", "laposte"], "no client nobody"),
        (["client", "list", "--tenant", "nowhere"], "no tenant nowhere"),
        (
            ["client", "create", "--tenant", "nowhere", "--name", "X", "--redirect-uri", "https://a.example/"],
            "no tenant",
        ),
    ],
)
def test_unknown_things_are_one_line_errors(runner: CliRunner, built: Container, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr

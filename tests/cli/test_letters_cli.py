"""`sesame letters` as the sender's agent runs it: list, show, proof, verify."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sesame.cli import app
from sesame.cli.common import container
from sesame.domain.registered_letters import RegisteredLetter
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.registered_letters import verify_proof
from tests.log_support import without_random_fields

pytestmark = pytest.mark.usefixtures("cli_env")

CODE = "402918"


def send_letter(email: str = "lea.petit@example.fr", purpose: str = "proofing:3") -> RegisteredLetter:
    with container() as built:
        if built.tenants.find("laposte") is None:
            load_demo(built.tenants)
        tenant = built.tenants.get("laposte")
        with built.uow(readonly=True) as uow:
            existing = uow.accounts.by_email(tenant.id, email)
        account = existing or built.accounts.create(
            tenant,
            NewAccount(email=email, given_name="Léa", family_name="Petit", verified=True),
            "Cli-Letters-2026",
            RequestContext(actor="test"),
        )
        with built.uow() as uow:
            letter = built.registered_letters.send(
                uow, tenant, account, "Votre code", f"Code : {CODE}", purpose=purpose, now=built.clock.now()
            )
            uow.commit()
    return letter


def invoke(runner: CliRunner, *args: str, input_text: str | None = None) -> str:
    result = runner.invoke(app, ["letters", *args], input=input_text)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_and_show_never_print_the_content(runner: CliRunner) -> None:
    first = send_letter()
    second = send_letter("hugo.roux@example.fr", purpose="proofing:4")

    rows = json.loads(invoke(runner, "list", "--tenant", "laposte", "--json"))
    assert {row["reference"] for row in rows} == {first.reference, second.reference}
    only = json.loads(invoke(runner, "list", "--tenant", "laposte", "--purpose", "proofing:4", "--json"))
    assert [row["reference"] for row in only] == [second.reference]
    by_email = json.loads(invoke(runner, "list", "--tenant", "laposte", "--email", "LEA.PETIT@example.fr", "--json"))
    assert [row["reference"] for row in by_email] == [first.reference]
    assert json.loads(invoke(runner, "list", "--tenant", "laposte", "--status", "opened", "--json")) == []

    text = invoke(runner, "list", "--tenant", "laposte")
    assert first.reference in text and "hugo.roux@example.fr" in text

    shown = json.loads(invoke(runner, "show", first.reference.lower(), "--tenant", "laposte", "--json"))
    assert shown["reference"] == first.reference and shown["status"] == "sent"
    assert shown["recipient_email"] == "lea.petit@example.fr" and shown["subject"] == "Votre code"
    assert shown["content_sha256"] == first.content_sha256 and shown["opened_at"] is None
    assert "Votre code" in invoke(runner, "show", first.reference, "--tenant", "laposte")  # the subject, not the text
    for output in (text, json.dumps(rows), json.dumps(shown), invoke(runner, "show", first.reference, "-t", "laposte")):
        # The digests and times aside: hex noise and microseconds, where 6 given digits turn up by chance.
        assert CODE not in without_random_fields(re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", output))


def test_proof_of_sending_then_verify(runner: CliRunner, tmp_path: Path) -> None:
    letter = send_letter()
    token = invoke(runner, "proof", letter.reference, "--tenant", "laposte").strip()
    with container() as built:
        tenant = built.tenants.get("laposte")
        jwks = built.signing_keys.keyset(tenant).jwks(built.clock.now())
    verified = verify_proof(token, jwks, issuer="http://127.0.0.1:8000/laposte")
    assert verified.reference == letter.reference and verified.claims["proof"] == "sending"

    as_json = json.loads(invoke(runner, "proof", letter.reference, "-t", "laposte", "--json"))
    assert as_json["kind"] == "sending" and as_json["claims"]["ref"] == letter.reference

    path = tmp_path / "proof.jws"
    assert str(path) in invoke(runner, "proof", letter.reference, "-t", "laposte", "--output", str(path))
    checked = json.loads(invoke(runner, "verify", str(path), "--tenant", "laposte", "--json"))
    assert checked["valid"] is True and checked["claims"]["ref"] == letter.reference
    assert "Valid proof of sending" in invoke(runner, "verify", "-", "--tenant", "laposte", input_text=token)


def test_errors_are_one_line(runner: CliRunner, tmp_path: Path) -> None:
    letter = send_letter()
    cases = [
        (["proof", letter.reference, "-t", "laposte", "--kind", "receipt"], "neither opened nor refused"),
        (["proof", letter.reference, "-t", "laposte", "--kind", "delivery"], "unknown proof kind"),
        (["show", "AAAA-BBBB-CCCC-DDDD", "-t", "laposte"], "no letter"),
        (["show", letter.reference, "-t", "poste-ch"], "no letter"),
        (["list", "-t", "laposte", "--status", "lost"], "unknown status"),
        (["list", "-t", "laposte", "--email", "nobody@example.fr"], "no account"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["letters", *args])
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
    forged = tmp_path / "forged.jws"
    forged.write_text("eyJhbGciOiJub25lIn0.e30.")
    result = runner.invoke(app, ["letters", "verify", str(forged), "-t", "laposte"])
    assert result.exit_code == 1 and "unexpected header" in result.output

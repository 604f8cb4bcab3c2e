"""`sesame outbox` as a developer or an operator runs it: list, deliver, send-test, work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sesame.cli import app
from sesame.cli.common import container
from sesame.services import outbox
from sesame.services.demo import load_demo

pytestmark = pytest.mark.usefixtures("cli_env")

ADDRESS = "Mme Zoé Lefèvre\n12 rue des Lilas\n75011 Paris"


def invoke(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["outbox", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_empty_outbox(runner: CliRunner) -> None:
    assert "The outbox is empty." in invoke(runner, "list")
    assert json.loads(invoke(runner, "list", "--json")) == []


def test_send_test_then_deliver(runner: CliRunner, tmp_path: Path) -> None:
    invoke(runner, "send-test", "--to", "ops@example.org")
    queued = json.loads(invoke(runner, "send-test", "--to", "+33612345678", "--channel", "sms", "--json"))
    assert queued["channel"] == "sms"
    listed = json.loads(invoke(runner, "list", "--json"))
    assert [(m["channel"], m["status"]) for m in listed] == [("sms", "pending"), ("email", "pending")]
    assert listed[1]["subject"] == "Message de test de Sésame"
    table = invoke(runner, "list")
    assert "ops@example.org" in table and "Message de test de Sésame" in table and "pending" in table

    report = json.loads(invoke(runner, "deliver", "--json"))
    assert report == {"claimed": 2, "sent": 2, "retried": 0, "dead": 0}
    assert [m["status"] for m in json.loads(invoke(runner, "list", "--json"))] == ["sent", "sent"]
    assert "0 due" in invoke(runner, "deliver")
    assert len(list((tmp_path / "var" / "outbox" / "email").glob("*.eml"))) == 1
    assert len(list((tmp_path / "var" / "outbox" / "sms").glob("*.json"))) == 1


def test_list_json_includes_letter_texts_and_filters_by_tenant(runner: CliRunner) -> None:
    with container() as built:
        load_demo(built.tenants)  # the tenants only: `demo load` also queues the demo customer's letters
        banque = built.tenants.get("banque")
        with built.uow() as uow:
            outbox.queue_letter(uow, banque, "generic", "fr", ADDRESS,
                                {"subject": "Votre code", "body": "Numéro client 0123456789, code 904512."},
                                now=built.clock.now(), sensitive=True)  # fmt: skip
            uow.commit()
    invoke(runner, "send-test", "--to", "ops@example.org", "--tenant", "laposte", "--locale", "en")
    letters = json.loads(invoke(runner, "list", "--json", "--tenant", "banque"))
    assert len(letters) == 1
    assert letters[0]["channel"] == "letter" and letters[0]["has_pdf"] is True
    assert "code 904512." in letters[0]["text"] and letters[0]["recipient"] == ADDRESS
    assert [m["subject"] for m in json.loads(invoke(runner, "list", "--json", "--tenant", "laposte"))] == [
        "Test message from La Poste"
    ]
    assert len(json.loads(invoke(runner, "list", "--json", "--limit", "1"))) == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["send-test", "--to", "not-an-address"], "an email goes to one address"),
        (["send-test", "--to", "0612345678", "--channel", "sms"], "E.164"),
        (["send-test", "--to", "a@b.fr", "--tenant", "nope"], "no tenant nope"),
        (["list", "--tenant", "nope"], "no tenant nope"),
    ],
)
def test_errors_are_one_line_for_people(runner: CliRunner, args: list[str], error: str) -> None:
    result = runner.invoke(app, ["outbox", *args])
    assert result.exit_code == 1
    assert error in result.stderr and "Traceback" not in result.output


def test_work_delivers_until_interrupted(runner: CliRunner, tmp_path: Path) -> None:
    invoke(runner, "send-test", "--to", "ops@example.org")
    env = {**os.environ, "SESAME_OUTBOX_POLL_SECONDS": "0.1"}
    worker = subprocess.Popen(
        [sys.executable, "-c", "from sesame.cli import main; main()", "outbox", "work"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if json.loads(invoke(runner, "list", "--json"))[0]["status"] == "sent":
                break
            time.sleep(0.2)
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert json.loads(invoke(runner, "list", "--json"))[0]["status"] == "sent"
    assert worker.returncode == 0, err
    assert "Stopped." in out
    assert "outbox.sent" in err  # log lines go to standard error, never into the data on stdout

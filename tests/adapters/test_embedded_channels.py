"""The embedded channels keep every message under var/outbox/, readable by an operator."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from sesame.adapters.embedded.channels import EmbeddedLetterPrinter, EmbeddedMailer, EmbeddedSmsSender
from sesame.adapters.letters_pdf import LetterContent, render_letter_pdf
from sesame.domain.messages import EmailMessage, Letter, SmsMessage


async def test_mailer_writes_an_eml_file(tmp_path: Path) -> None:
    mailer = EmbeddedMailer(tmp_path)
    message = EmailMessage(
        "zoe@example.org", "Bienvenue chez La Poste", "Bonjour Zoé\n", "<p>Bonjour Zoé</p>", {"X-Sesame-Outbox-Id": "7"}
    )
    await mailer.send_email(message)
    await mailer.send_email(EmailMessage("bob@example.org", "Deux", "second"))
    files = sorted((tmp_path / "outbox" / "email").glob("*.eml"))
    assert len(files) == 2
    first = next(f for f in files if "-7-" in f.name)
    parsed = email.message_from_bytes(first.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "zoe@example.org"
    assert parsed["Subject"] == "Bienvenue chez La Poste"
    assert parsed["Message-ID"]
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "Bonjour Zoé" in body.get_content()
    assert not list((tmp_path / "outbox" / "email").glob("*.part"))


async def test_sms_sender_writes_json(tmp_path: Path) -> None:
    sender = EmbeddedSmsSender(tmp_path)
    await sender.send_sms(SmsMessage("+33612345678", "123456 est votre code"))
    (path,) = (tmp_path / "outbox" / "sms").glob("*.json")
    assert json.loads(path.read_text(encoding="utf-8")) == {"to": "+33612345678", "text": "123456 est votre code"}


async def test_letter_printer_keeps_the_pdf_and_its_text(tmp_path: Path) -> None:
    pdf = render_letter_pdf(
        LetterContent(sender=["La Banque Postale"], recipient="M. Jean Dupont\n1 rue A\n75001 Paris",
                      date_line="Le 15 janvier 2026", subject="Votre code", body="Code : 111222")
    )  # fmt: skip
    printer = EmbeddedLetterPrinter(tmp_path)
    await printer.print_letter(
        Letter("M. Jean Dupont\n1 rue A\n75001 Paris", "Votre code", "Code : 111222", pdf, "REF9")
    )
    directory = tmp_path / "outbox" / "letters"
    (stored,) = directory.glob("*REF9*.pdf")
    assert stored.read_bytes() == pdf
    transcript = stored.with_suffix(".txt").read_text(encoding="utf-8")
    assert "M. Jean Dupont" in transcript and "Code : 111222" in transcript


async def test_letter_without_pdf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PDF"):
        await EmbeddedLetterPrinter(tmp_path).print_letter(Letter("A\nB", "s", "t", b"", "R"))
    assert not (tmp_path / "outbox" / "letters").exists()

"""Message templates: French and English, French when a language is missing, safe HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from sesame.domain.messages import Channel
from sesame.domain.tenants import Branding, Tenant, TenantPolicy
from sesame.messages import TemplateMissing, build_message, normalize_locale, render_message
from sesame.messages.render import TEMPLATE_DIR

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
TENANT = Tenant(
    id=3,
    slug="banque",
    name="La Banque Postale",
    policy=TenantPolicy(branding=Branding(primary_color="#003da5")),
    created_at=NOW,
    updated_at=NOW,
)
ADDRESS = "M. Jean Dupont\n12 rue des Lilas\n75011 Paris"


def test_every_french_template_has_an_english_one() -> None:
    french = {p.relative_to(TEMPLATE_DIR / "fr") for p in (TEMPLATE_DIR / "fr").rglob("*") if p.is_file()}
    english = {p.relative_to(TEMPLATE_DIR / "en") for p in (TEMPLATE_DIR / "en").rglob("*") if p.is_file()}
    assert french == english
    assert {Path("email/test.txt"), Path("sms/code.txt"), Path("letter/generic.txt")} <= french


@pytest.mark.parametrize(
    ("locale", "subject", "greeting"),
    [
        ("fr", "Message de test de La Banque Postale", "Bonjour,"),
        ("en", "Test message from La Banque Postale", "Hello,"),
    ],
)
def test_email_in_each_language(locale: str, subject: str, greeting: str) -> None:
    message = build_message(TENANT, Channel.EMAIL, "test", locale, "zoe@example.org", now=NOW)
    assert message.locale == locale
    assert message.subject == subject
    assert message.body_text.startswith(greeting)
    assert message.body_html is not None
    assert f'lang="{locale}"' in message.body_html and "#003da5" in message.body_html
    assert message.tenant_id == 3 and message.channel is Channel.EMAIL and message.recipient == "zoe@example.org"


@pytest.mark.parametrize("locale", ["de", "", "it-CH"])
def test_missing_language_falls_back_to_french(locale: str) -> None:
    rendered = render_message(Channel.SMS, "code", locale, {"code": "123456", "tenant_name": "La Poste"})
    assert rendered.locale == "fr"
    assert rendered.text == "123456 est votre code La Poste. Il expire dans 10 min. Ne le communiquez à personne.\n"


def test_regional_variants_use_their_language() -> None:
    assert normalize_locale("en-GB") == normalize_locale("en_US") == normalize_locale("EN") == "en"
    rendered = render_message(Channel.SMS, "code", "en-GB", {"code": "654321", "tenant_name": "X", "minutes": 5})
    assert rendered.locale == "en"
    assert rendered.text.startswith("654321 is your X code. It expires in 5 min.")
    assert rendered.subject == "" and rendered.html is None


def test_unknown_template_is_an_error() -> None:
    with pytest.raises(TemplateMissing, match="nope"):
        render_message(Channel.EMAIL, "nope", "en", {})


def test_missing_variables_fail_at_queue_time() -> None:
    with pytest.raises(UndefinedError):
        build_message(TENANT, Channel.EMAIL, "welcome", "fr", "zoe@example.org", {}, now=NOW)


def test_html_is_escaped_and_text_is_not() -> None:
    context = {"name": "<script>alert(1)</script> & Co", "login_url": "https://id.example/laposte/login?a=1&b=2"}
    message = build_message(TENANT, Channel.EMAIL, "welcome", "en", "zoe@example.org", context, now=NOW)
    assert message.body_html is not None
    assert "<script>" not in message.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in message.body_html
    assert "https://id.example/laposte/login?a=1&amp;b=2" in message.body_html
    assert "Hello <script>alert(1)</script> & Co," in message.body_text
    assert "https://id.example/laposte/login?a=1&b=2" in message.body_text


def test_subject_is_one_line() -> None:
    rendered = render_message(Channel.LETTER, "generic", "fr", {"subject": "Un\nDeux\r\nBcc: x@y", "body": "b",
                                                               "tenant_name": "T"})  # fmt: skip
    assert rendered.subject == "Un Deux Bcc: x@y"


def test_letter_is_rendered_to_pdf_with_its_text() -> None:
    context = {"subject": "Votre code provisoire", "body": "Votre code provisoire est 482913."}
    message = build_message(TENANT, Channel.LETTER, "generic", "fr", ADDRESS, context, now=NOW, sensitive=True)
    assert message.pdf is not None and message.pdf.startswith(b"%PDF")
    assert message.subject == "Votre code provisoire"
    assert message.body_text.startswith("Madame, Monsieur,")
    assert "Votre code provisoire est 482913." in message.body_text
    assert message.body_text.rstrip().endswith("La Banque Postale")
    assert message.recipient == ADDRESS and message.sensitive
    assert len(message.metadata["reference"]) == 10


def test_letter_scheduled_later_is_dated_and_kept_for_then() -> None:
    later = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
    context = {"subject": "S", "body": "B", "reference": "BANK-1"}
    message = build_message(None, Channel.LETTER, "generic", "en", ADDRESS, context, now=NOW, not_before=later)
    assert message.not_before == later
    assert message.metadata == {"reference": "BANK-1"}
    assert message.tenant_id is None
    assert message.body_text.startswith("Dear Sir or Madam,") and message.body_text.rstrip().endswith("Sésame")

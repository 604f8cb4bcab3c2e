"""Languages: French by default, English on request, remembered; the catalogs complete and up to date."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sesame.bootstrap import Container
from sesame.cli import i18n as i18n_cli
from sesame.web import i18n

from .conftest import BASE_URL

FRENCH_WELCOME = "Bienvenue dans votre espace client La Poste."
ENGLISH_WELCOME = "Welcome to your La Poste customer area."


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([a-z-]+)">', html)
    assert match
    return match.group(1)


# -- choosing the language -------------------------------------------------------------------------


def test_french_by_default(client: TestClient) -> None:
    response = client.get("/laposte")
    assert _lang(response.text) == "fr"
    assert FRENCH_WELCOME in response.text
    assert "Aller au contenu principal" in response.text


def test_accept_language_english_gives_english(client: TestClient) -> None:
    response = client.get("/laposte", headers={"accept-language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert _lang(response.text) == "en"
    assert ENGLISH_WELCOME in response.text
    assert "Skip to main content" in response.text


def test_accept_language_order_and_weights_are_respected(client: TestClient) -> None:
    assert _lang(client.get("/laposte", headers={"accept-language": "fr-FR,en;q=0.9"}).text) == "fr"
    assert _lang(client.get("/laposte", headers={"accept-language": "en;q=0.4,fr;q=0.8"}).text) == "fr"
    assert _lang(client.get("/laposte", headers={"accept-language": "de,en;q=0.5"}).text) == "en"
    assert _lang(client.get("/laposte", headers={"accept-language": "de-CH, it"}).text) == "fr"


def test_lang_query_sets_a_cookie_that_sticks(client: TestClient) -> None:
    response = client.get("/laposte?lang=en")
    assert _lang(response.text) == "en"
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith("sesame_lang=en;")
    for attribute in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    # Later pages, without ?lang, and even a browser that prefers French: still English.
    again = client.get("/laposte", headers={"accept-language": "fr"})
    assert ENGLISH_WELCOME in again.text
    assert _lang(client.get("/banque").text) == "en"
    # And back.
    assert _lang(client.get("/laposte?lang=fr").text) == "fr"
    assert _lang(client.get("/laposte").text) == "fr"


def test_an_unknown_language_is_ignored(client: TestClient) -> None:
    response = client.get("/laposte?lang=xx")
    assert _lang(response.text) == "fr"
    assert "set-cookie" not in response.headers
    assert _lang(client.get("/laposte?lang=xx", headers={"accept-language": "en"}).text) == "en"
    assert _lang(client.get("/laposte", headers={"cookie": "sesame_lang=klingon"}).text) == "fr"


def test_pages_without_a_tenant_follow_the_same_rules(client: TestClient) -> None:
    assert "Choisissez votre service" in client.get("/").text
    assert "Choose your service" in client.get("/?lang=en").text


def test_a_tenant_that_offers_only_french_stays_french(container: Container, app: FastAPI) -> None:
    container.tenants.update_policy("laposte", {"languages": {"default": "fr", "available": ["fr"]}})
    with TestClient(app, base_url=BASE_URL) as client:
        response = client.get("/laposte?lang=en", headers={"accept-language": "en"})
        assert _lang(response.text) == "fr"
        assert 'class="language-switcher"' not in response.text  # one language: nothing to switch
        assert _lang(client.get("/banque").text) == "en"  # the cookie still holds for other tenants


def test_the_tenant_default_language_applies(container: Container, app: FastAPI) -> None:
    container.tenants.update_policy("banque", {"languages": {"default": "en", "available": ["fr", "en"]}})
    with TestClient(app, base_url=BASE_URL) as client:
        assert _lang(client.get("/banque").text) == "en"
        assert _lang(client.get("/laposte").text) == "fr"


# -- the switcher ------------------------------------------------------------------------------------


def test_the_switcher_links_to_the_same_page_in_each_language(client: TestClient) -> None:
    html = client.get("/laposte").text
    nav = html.split('<nav class="language-switcher"', 1)[1].split("</nav>", 1)[0]
    assert 'aria-label="Langue"' in nav
    assert '<a href="/laposte?lang=fr" lang="fr" hreflang="fr" aria-current="true">Français</a>' in nav
    assert '<a href="/laposte?lang=en" lang="en" hreflang="en">English</a>' in nav


def test_the_switcher_keeps_the_other_query_parameters(client: TestClient) -> None:
    html = client.get("/laposte?flow=abc123&lang=fr").text
    assert 'href="/laposte?flow=abc123&amp;lang=en"' in html


# -- negotiation and formatting, directly ----------------------------------------------------------


def test_parse_accept_language() -> None:
    assert i18n.parse_accept_language("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == [
        "fr-ch",
        "fr",
        "en",
        "de",
    ]
    assert i18n.parse_accept_language("en;q=0, fr;q=bad, it") == ["it"]
    assert i18n.parse_accept_language("") == []


def test_gettext_follows_the_current_language() -> None:
    with i18n.use_locale("en"):
        assert i18n.gettext("Page not found") == "Page not found"
        assert i18n.ngettext("%(num)d attempt left.", "%(num)d attempts left.", 2) == "%(num)d attempts left."
    with i18n.use_locale("fr"):
        assert i18n.gettext("Page not found") == "Page introuvable"
        assert i18n.ngettext("%(num)d attempt left.", "%(num)d attempts left.", 1) == "Il vous reste %(num)d essai."
    with i18n.use_locale("xx"):
        assert i18n.get_locale() == "fr"


def test_dates_and_numbers_in_the_language_and_in_french_time() -> None:
    moment = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)  # 10:30 in Paris (winter time)
    with i18n.use_locale("fr"):
        assert i18n.format_datetime(moment, "short") == "12/03/2025 10:30"
        assert i18n.format_date(date(2025, 3, 12)) == "12 mars 2025"
        assert i18n.format_number(1234.5) == "1\u202f234,5"
    with i18n.use_locale("en"):
        assert i18n.format_datetime(moment, "short") == "3/12/25, 10:30\u202fAM"
        assert i18n.format_date(datetime(2025, 7, 1, 23, 30, tzinfo=UTC)) == "July 2, 2025"  # already the 2nd in Paris
        assert i18n.format_number(1234.5) == "1,234.5"


# -- the catalogs ----------------------------------------------------------------------------------


def test_the_french_catalog_is_complete() -> None:
    assert i18n_cli.catalog_problems("fr") == []


def test_every_template_message_is_translated() -> None:
    """Guards against a page rendered half in English: every msgid of the code is in French."""
    template = i18n_cli.extract_messages()
    french = i18n.catalogs()["fr"]
    untranslated = [m.id for m in template if m.id and isinstance(m.id, str) and french.gettext(m.id) == m.id]
    assert untranslated == []


@pytest.fixture
def catalog_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "i18n"
    shutil.copytree(i18n_cli.CATALOG_DIR, copy)
    monkeypatch.setattr(i18n_cli, "CATALOG_DIR", copy)
    monkeypatch.setattr(i18n_cli, "TEMPLATE_FILE", copy / "messages.pot")
    return copy


def test_the_committed_catalogs_are_what_extract_produces(catalog_copy: Path) -> None:
    i18n_cli.update_catalogs(i18n_cli.extract_messages())
    for relative in ("messages.pot", "fr/LC_MESSAGES/messages.po", "en/LC_MESSAGES/messages.po"):
        produced = (catalog_copy / relative).read_text(encoding="utf-8")
        committed = (i18n.CATALOG_DIR / relative).read_text(encoding="utf-8")
        assert produced == committed, f"{relative} is out of date: run `sesame i18n extract`"


def test_check_fails_when_a_french_translation_is_missing(catalog_copy: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(i18n_cli.app, ["check"]).exit_code == 0
    po = catalog_copy / "fr" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    po.write_text(text.replace('msgstr "Page introuvable"', 'msgstr ""'), encoding="utf-8")
    result = runner.invoke(i18n_cli.app, ["check"])
    assert result.exit_code == 1
    assert "untranslated: 'Page not found'" in result.output


def test_the_switcher_never_links_to_another_site(client: TestClient) -> None:
    html = client.get("https://testserver//evil.example/page").text
    assert 'href="//evil.example' not in html
    assert 'href="/evil.example/page?lang=en"' in html

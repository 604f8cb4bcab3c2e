"""In Chromium: a passkey made on the account page with the browser's virtual authenticator (CDP
WebAuthn domain), then a passwordless login with it; and an authenticator app added by its key,
then a login with its code (computed by pyotp, as the phone would).

WebAuthn needs a domain as relying party id (an IP address is refused), so this module runs its
own server at http://localhost:PORT (a secure context for Chromium, like 127.0.0.1).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.sessions import session_id_of
from sesame.web.session import session_cookie_name
from tests.browser.conftest import ACTION_TIMEOUT_MS
from tests.live_servers import sesame_server
from tests.methods.totp_support import wrong_code

pytestmark = pytest.mark.browser

PASSWORD = "Cle-Acces-2026"
STARTUP_SECONDS = 15.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    """Sésame at http://localhost:PORT with the demo tenants, and its container (to make accounts)."""
    with sesame_server(tmp_path_factory.mktemp("passkeys-var"), host="localhost", name="sesame-passkeys") as sesame:
        yield sesame.base_url, sesame.container


@pytest.fixture
def person(server: tuple[str, Container], request: pytest.FixtureRequest) -> str:
    """A confirmed laposte account of this test; returns its email."""
    _base, container = server
    email = f"{request.node.name.replace('_', '-')[:40]}@example.fr"
    new = NewAccount(email=email, given_name="Inès", family_name="Garnier", verified=True, terms_version="1")
    container.accounts.create(container.tenants.get("laposte"), new, PASSWORD, RequestContext(actor="test"))
    return email


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    fresh = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    fresh.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield fresh
    finally:
        fresh.close()


def log_in_with_password(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/laposte/login")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()


def log_out(page: Page, base: str) -> None:
    """The account page's button; the tenant's home then says so (the login page is not opened:
    with a passkey on the authenticator, its autofill would log in again at once)."""
    page.goto(f"{base}/laposte/account")
    page.locator('form[action="/laposte/logout"] button').click()
    page.wait_for_url(re.compile(r"logged_out=1"))


def session_amr(context: BrowserContext, container: Container, tenant: Tenant) -> list[str]:
    name = session_cookie_name(container.settings, tenant)
    token = next(c["value"] for c in context.cookies() if c["name"] == name)
    with container.uow(readonly=True) as uow:
        session = uow.accounts.get_session(session_id_of(token))
    assert session is not None
    return session.amr


def virtual_authenticator(context: BrowserContext, page: Page) -> tuple[Any, str]:
    """A platform authenticator with resident keys that verifies the person (a fingerprint, say)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_a_passkey_made_on_the_account_page_logs_in_without_password(
    server: tuple[str, Container], context: BrowserContext, person: str
) -> None:
    base, container = server
    page = context.new_page()
    cdp, authenticator = virtual_authenticator(context, page)

    log_in_with_password(page, base, person)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")
    expect(page.get_by_text("Vous n’avez pas encore de second facteur.")).to_be_visible()
    page.get_by_role("link", name="Ajouter une clé d’accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ajouter une clé d’accès")
    page.get_by_label("Nom de cette clé d’accès (facultatif)").fill("Ordinateur du bureau")
    page.get_by_role("button", name="Créer une clé d’accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre clé d’accès est ajoutée")

    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]
    assert credentials[0]["rpId"] == "localhost"
    page.get_by_role("link", name="Retour à mon compte").click()
    expect(page.locator('tr[data-factor="passkey"]')).to_contain_text("Ordinateur du bureau")

    # The button: with the authenticator waiting for a touch, the autofill's request stays open;
    # the button replaces it by its own request, which the touch then answers.
    log_out(page, base)
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": authenticator, "enabled": False})
    page.goto(f"{base}/laposte/login")
    expect(page.get_by_label("Adresse e-mail")).to_have_attribute("autocomplete", "username webauthn")
    login_form = page.locator('form[data-webauthn="login"]')
    expect(login_form).to_have_attribute("data-webauthn-conditional", "pending")
    cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": authenticator, "enabled": True})
    page.get_by_role("button", name="Se connecter avec une clé d’accès").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")
    assert session_amr(context, container, container.tenants.get("laposte")) == ["hwk", "mfa"]

    # The autofill (conditional mediation): opening the login page offers the passkey in the
    # identifier's suggestions; the authenticator answers at once, and the person is in.
    used = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"][0]["signCount"]
    log_out(page, base)
    page.goto(f"{base}/laposte/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")
    assert session_amr(context, container, container.tenants.get("laposte")) == ["hwk", "mfa"]
    signed = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"][0]
    assert signed["signCount"] > used >= 1  # the key signed again: this login was the passkey's


def test_an_authenticator_app_added_by_its_key_then_asked_at_login(
    server: tuple[str, Container], context: BrowserContext, person: str
) -> None:
    base, container = server
    page = context.new_page()
    log_in_with_password(page, base, person)
    page.get_by_role("link", name="Ajouter une application d’authentification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ajouter une application d’authentification")
    expect(page.get_by_role("img", name="QR code à scanner avec votre application d’authentification")).to_be_visible()
    secret = (page.locator("[data-totp-secret]").text_content() or "").replace(" ", "")
    assert len(secret) == 32
    page.get_by_label("Code à 6 chiffres").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Ajouter cette application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre application d’authentification est ajoutée")

    log_out(page, base)
    log_in_with_password(page, base, person)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmez qu’il s’agit bien de vous")
    page.get_by_label("Code à 6 chiffres").fill(wrong_code(secret, time.time()))
    page.get_by_role("button", name="Confirmer").click()
    expect(page.locator("[data-factor-error]")).to_have_attribute("data-factor-error", "wrong")
    # The enrolment's code is spent; the next step's code is within the ±1 step window.
    page.get_by_label("Code à 6 chiffres").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon compte")
    assert session_amr(context, container, container.tenants.get("laposte")) == ["pwd", "otp", "mfa"]

"""In Chromium, on laposte: sign up, confirm from the dev inbox, log in, change the password, log out,
and log in again with the new password, all in French.

The person types as a person does: field by field, watching the live checklist tick, using the
eye to check what they typed. The confirmation email is read from the dev inbox (its JSON list,
then the message's page), as a tester of the server would.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

GIVEN_NAME = "Léa"
FAMILY_NAME = "Fontaine"
PASSWORD = "Colis-Bleu-2026"
NEW_PASSWORD = "Timbre-Vert-2027"
GENERIC_ERROR = "Erreur de saisie du login ou du mot de passe. Les informations saisies sont incorrectes."
CODE_RE = re.compile(r"^\s*(\d{6})\s*$", re.MULTILINE)


def rule(page: Page, name: str) -> str:
    """Whether the live checklist shows ``name`` met ("true") or not ("false")."""
    return str(page.locator(f'#password-rules li[data-rule="{name}"]').get_attribute("data-met"))


def expect_french(page: Page, heading: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def sign_up(page: Page, live_server: str, email: str) -> None:
    page.goto(f"{live_server}/laposte/register")
    expect_french(page, "Créer votre compte La Poste")
    page.get_by_label("Nom", exact=True).press_sequentially(FAMILY_NAME)
    page.get_by_label("Prénom").press_sequentially(GIVEN_NAME)
    page.get_by_label("Adresse e-mail").press_sequentially(email)

    # The checklist ticks each of the seed's rules as the password grows.
    password = page.get_by_label("Mot de passe", exact=True)
    assert [rule(page, r) for r in ("min_length", "upper", "lower", "digit", "match")] == ["false"] * 5
    password.press_sequentially("colis")
    assert [rule(page, r) for r in ("min_length", "upper", "lower", "digit")] == ["false", "false", "true", "false"]
    expect(page.get_by_text("Une lettre majuscule")).to_be_visible()
    password.fill("")
    password.press_sequentially(PASSWORD)
    assert [rule(page, r) for r in ("min_length", "upper", "lower", "digit", "match")] == ["true"] * 4 + ["false"]
    confirmation = page.get_by_label("Confirmer le mot de passe")
    confirmation.press_sequentially(PASSWORD)
    expect(page.locator('#password-rules li[data-rule="match"]')).to_have_attribute("data-met", "true")
    expect(page.get_by_text("Les mots de passe sont identiques")).to_be_visible()

    # The eye shows what was typed, then hides it again.
    eye = page.locator('[data-password-toggle="password"]')
    expect(eye).to_have_accessible_name("Afficher le mot de passe")
    eye.click()
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value(PASSWORD)
    expect(eye).to_have_attribute("aria-pressed", "true")
    expect(eye).to_have_accessible_name("Masquer le mot de passe")
    eye.click()
    expect(password).to_have_attribute("type", "password")

    page.get_by_label(re.compile("J’ai lu et j’accepte les Conditions Générales d’Utilisation")).check()
    page.get_by_role("button", name="Créer mon compte").click()
    expect_french(page, "Confirmez votre adresse e-mail")
    expect(page.get_by_text(email)).to_be_visible()


def confirmation_code(page: Page, context: BrowserContext, live_server: str, email: str) -> str:
    """Find the email in the dev inbox's JSON, then read its code on the message's own page."""
    response = context.request.get(f"{live_server}/_dev/outbox.json?tenant=laposte")
    assert response.ok
    messages = [m for m in response.json() if m["recipient"] == email and m["template"] == "confirm_email"]
    assert len(messages) == 1, messages
    assert messages[0]["locale"] == "fr"
    inbox = context.new_page()
    inbox.goto(f"{live_server}{messages[0]['url']}")
    text = inbox.locator("#message-text").inner_text()
    inbox.close()
    assert "Pour finaliser la création de votre compte La Poste" in text  # the French email
    match = CODE_RE.search(text)
    assert match, text
    return match.group(1)


def log_in(page: Page, live_server: str, email: str, password: str) -> None:
    page.goto(f"{live_server}/laposte/login")
    expect_french(page, "Se connecter")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).press_sequentially(password)
    page.get_by_role("button", name="Se connecter", exact=True).click()


def test_sign_up_confirm_log_in_change_password_log_out(live_server: str, page: Page, context: BrowserContext) -> None:
    email = f"lea.fontaine.{uuid.uuid4().hex[:8]}@example.fr"
    sign_up(page, live_server, email)

    code = confirmation_code(page, context, live_server, email)
    page.get_by_label("Code reçu par e-mail").press_sequentially(code)
    page.get_by_role("button", name="Confirmer mon adresse").click()
    expect_french(page, "Votre adresse e-mail est confirmée")

    page.get_by_role("link", name="Se connecter").last.click()
    expect_french(page, "Se connecter")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).press_sequentially(PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page).to_have_url(f"{live_server}/laposte/account")
    expect_french(page, "Mon compte")
    expect(page.get_by_text(f"Bonjour {GIVEN_NAME}.", exact=False)).to_be_visible()
    expect(page.locator('[data-profile="email"]')).to_have_text(email)

    page.get_by_role("link", name="Modifier mon mot de passe").click()
    expect_french(page, "Modifier mon mot de passe")
    page.get_by_label("Mot de passe actuel").press_sequentially(PASSWORD)
    page.get_by_label("Nouveau mot de passe", exact=True).press_sequentially(NEW_PASSWORD)
    page.get_by_label("Nouveau mot de passe (confirmation)").press_sequentially(NEW_PASSWORD)
    page.get_by_role("button", name="Modifier mon mot de passe").click()
    expect_french(page, "Votre mot de passe a été modifié")
    page.get_by_role("link", name="Retour à mon compte").click()
    expect_french(page, "Mon compte")

    page.get_by_role("button", name="Me déconnecter").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/laposte\?"))
    assert not [c for c in context.cookies() if c["name"].startswith("__Host-sesame_session")]
    page.goto(f"{live_server}/laposte/account")  # the session is over on the server too
    expect_french(page, "Se connecter")

    log_in(page, live_server, email, PASSWORD)  # the old password no longer works
    expect(page.get_by_text(GENERIC_ERROR)).to_be_visible()
    page.get_by_label("Mot de passe", exact=True).press_sequentially(NEW_PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/laposte/account"))
    expect_french(page, "Mon compte")

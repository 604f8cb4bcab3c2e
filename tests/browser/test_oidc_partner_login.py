"""End to end, in Chromium: an independent client library (Authlib, in the demo partner) logs a
person in through Sésame, shows the claims it received, and logs out both ways.

Sésame (with its outbox worker, as ``make run`` serves it) and the demo partner each run under
uvicorn on a free 127.0.0.1 port; the person clicks "Se connecter avec Sésame", logs in on
laposte with the demo account, consents, sees the claims, then logs out through RP-initiated
logout and lands back on the partner. A second journey logs out at Sésame instead, and the
back-channel logout ends the partner's session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from sesame.services.demo import DEMO_PASSWORD
from tests.demo_partner.servers import Partner, Sesame, partner_server, sesame_server

pytestmark = pytest.mark.browser

EMAIL = "marie.dupont@example.fr"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sesame, Partner]]:
    with (
        sesame_server(tmp_path_factory.mktemp("e2e-sesame"), outbox_worker=True) as sesame,
        partner_server(sesame, tmp_path_factory.mktemp("e2e-partner")) as partner,
    ):
        yield sesame, partner


def log_in_through_sesame(page: Page, sesame: Sesame, partner: Partner) -> None:
    """From the partner's home to its claims page: Sésame's login form, then consent if asked."""
    page.goto(f"{partner.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("link", name="Se connecter avec Sésame").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(sesame.url)}/laposte/login/"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()

    page.wait_for_url(lambda url: url.startswith(partner.url) or "/laposte/authorize/" in url)
    if "/laposte/authorize/" in page.url:  # the consent page: the partner is not first-party
        expect(page.locator('[data-oidc-page="consent"]')).to_contain_text("Démo partenaire")
        page.locator('button[name="action"][value="approve"]').click()

    expect(page).to_have_url(f"{partner.url}/claims")
    expect(page.get_by_role("heading", level=1)).to_have_text("Informations reçues de Sésame")


def test_log_in_with_sesame_see_the_claims_and_log_out(page: Page, servers: tuple[Sesame, Partner]) -> None:
    sesame, partner = servers
    log_in_through_sesame(page, sesame, partner)

    userinfo = page.locator("#userinfo-claims")
    id_token = page.locator("#id-token-claims")
    expect(userinfo.locator('tr[data-claim="email"] td.value')).to_have_text(EMAIL)
    expect(userinfo.locator('tr[data-claim="name"] td.value')).to_have_text("Marie Dupont")
    expect(id_token.locator('tr[data-claim="iss"] td.value')).to_have_text(sesame.issuer)
    expect(id_token.locator('tr[data-claim="aud"] td.value')).to_have_text(partner.client_id)
    expect(id_token.locator('tr[data-claim="acr"] td.value')).to_have_text("eidas1")
    expect(id_token.locator('tr[data-claim="sid"] td.value')).to_have_text(re.compile(r"^\S{40}$"))

    page.get_by_role("button", name="Se déconnecter").click()

    # RP-initiated logout: the ID token named Sésame's session, so no question, straight back.
    expect(page).to_have_url(re.compile(rf"^{re.escape(partner.url)}/\?state="))
    expect(page.get_by_role("status")).to_contain_text("Vous êtes déconnecté(e)")
    expect(page.get_by_role("link", name="Se connecter avec Sésame")).to_be_visible()
    page.goto(f"{sesame.url}/laposte/account")
    expect(page).to_have_url(re.compile(rf"^{re.escape(sesame.url)}/laposte/login"))


def test_logging_out_at_sesame_logs_out_of_the_partner(page: Page, servers: tuple[Sesame, Partner]) -> None:
    sesame, partner = servers
    log_in_through_sesame(page, sesame, partner)

    page.goto(f"{sesame.url}/laposte/logout")
    page.get_by_role("button", name="Me déconnecter").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(sesame.url)}/laposte\?"))

    # The outbox worker POSTs the logout token to the partner, which ends its own session.
    deadline = time.monotonic() + 30  # the worker polls every 0.2 s; a loaded CI machine is slower
    while True:
        page.goto(f"{partner.url}/claims")
        if page.url == f"{partner.url}/" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(page).to_have_url(f"{partner.url}/")
    expect(page.get_by_role("link", name="Se connecter avec Sésame")).to_be_visible()

"""Step-up from eidas1 to eidas2, end to end in Chromium (issue 7 points 5 and 7).

Two browser contexts side by side, as in test_app_approval.py (whose helpers and fixtures this
module reuses): the phone, with the app activated at /app/laposte/ (a non-extractable WebCrypto
key and a 4-digit code), and the computer. A relying party (a small web app of this test, on its
own port, speaking plain OAuth over HTTP) asks Sésame for ``acr_values=eidas2`` and the French
identity claims. On the computer the person logs in with the password (eidas1); Sésame asks for
the step-up, the website shows a number, the phone types it and the secret code, and the
partner receives an ID token with acr eidas2 and the verified identity's claims.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sesame.domain.tenants import Tenant
from tests.app_support import PASSWORD, LiveServer, identity_of
from tests.browser.test_app_approval import EMAIL, PIN, app_page, computer, phone, server, tenant, type_on_pad
from tests.live_servers import bound_socket, serving, url_of

__all__ = ["app_page", "phone", "server", "tenant"]  # fixtures of test_app_approval.py

pytestmark = pytest.mark.browser

PARTNER_NAME = "Impots.gouv"
SCOPE = "openid given_name family_name birthdate"
CLAIMS = '{"id_token": {"given_name": null, "family_name": null, "birthdate": null}}'


@dataclass(frozen=True)
class RelyingParty:
    url: str
    client_id: str


def relying_party_app(issuer: str, client_id: str, secret: str, redirect_uri: str) -> Starlette:
    """A partner service: /start sends the browser to Sésame asking eidas2; /callback exchanges
    the code (client_secret_basic), checks the ID token's signature against the JWKS, its issuer,
    audience and nonce, and shows its claims and userinfo's."""
    pending: dict[str, str] = {}  # state -> nonce

    async def start(request: Request) -> Response:
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        pending[state] = nonce
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "acr_values": "eidas2",
            "claims": CLAIMS,
            "state": state,
            "nonce": nonce,
            "ui_locales": "fr",
        }
        return RedirectResponse(f"{issuer}/authorize?{urlencode(query)}", status_code=303)

    async def callback(request: Request) -> Response:
        params = request.query_params
        nonce = pending.pop(params.get("state", ""), None)
        if nonce is None or "code" not in params or params.get("iss") != issuer:
            return HTMLResponse(f"<h1>Erreur</h1><p id='error'>{html.escape(params.get('error', '?'))}</p>", 400)
        async with httpx.AsyncClient(timeout=15) as http:
            answer = await http.post(
                f"{issuer}/token",
                data={"grant_type": "authorization_code", "code": params["code"], "redirect_uri": redirect_uri},
                auth=(client_id, secret),
            )
            answer.raise_for_status()
            body = answer.json()
            keys = KeySet.import_key_set((await http.get(f"{issuer}/jwks")).json())
            userinfo = (
                await http.get(f"{issuer}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
            ).json()
        token = body["id_token"]
        kid = jws.extract_compact(token.encode()).headers()["kid"]
        claims: dict[str, Any] = orjson.loads(
            jws.deserialize_compact(token, keys.get_by_kid(kid), algorithms=["ES256", "RS256"]).payload
        )
        if claims["iss"] != issuer or claims["aud"] != client_id or claims["nonce"] != nonce:
            return HTMLResponse("<h1>Erreur</h1><p id='error'>id_token</p>", 400)
        rows = "".join(
            f'<tr data-source="id_token" data-claim="{html.escape(k)}"><td>{html.escape(str(v))}</td></tr>'
            for k, v in claims.items()
        ) + "".join(
            f'<tr data-source="userinfo" data-claim="{html.escape(k)}"><td>{html.escape(str(v))}</td></tr>'
            for k, v in userinfo.items()
        )
        return HTMLResponse(f"<!doctype html><h1>Bienvenue</h1><table>{rows}</table>")

    return Starlette(routes=[Route("/start", start), Route("/callback", callback)])


@pytest.fixture(scope="module")
def partner(server: LiveServer, tenant: Tenant) -> Iterator[RelyingParty]:
    sock = bound_socket()
    url = url_of(sock)
    client, secret = server.container.oidc_clients.create(
        tenant,
        PARTNER_NAME,
        [f"{url}/callback"],
        scopes=("openid", "profile", "given_name", "family_name", "birthdate"),
    )
    assert secret is not None
    app = relying_party_app(f"{server.base_url}/laposte", client.client_id, secret, f"{url}/callback")
    with serving(app, sock, "relying-party"):
        yield RelyingParty(url, client.client_id)


def claim(page: Page, source: str, name: str) -> Any:
    return page.locator(f'tr[data-source="{source}"][data-claim="{name}"] td')


def test_a_password_session_steps_up_to_eidas2_with_the_app(
    server: LiveServer, tenant: Tenant, browser: Browser, app_page: Page, partner: RelyingParty
) -> None:
    account = server.container.accounts.find(tenant, EMAIL)
    identity = identity_of(server.container, account.id)
    assert identity is not None and identity.usable_for_eidas2  # the app was activated on the phone
    context = computer(browser)
    try:
        site = context.new_page()
        # The partner asks for eidas2: Sésame's login page first, the password (eidas1).
        site.goto(f"{partner.url}/start")
        expect(site).to_have_url(re.compile(rf"^{re.escape(server.base_url)}/laposte/login/"))
        site.get_by_label("Adresse e-mail").fill(EMAIL)
        site.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
        site.get_by_role("button", name="Se connecter", exact=True).click()

        # The password is not enough: the step-up page names the partner.
        step_up = site.locator('[data-oidc-page="step-up"]')
        expect(step_up).to_be_visible()
        expect(step_up).to_contain_text(PARTNER_NAME)
        expect(site.get_by_role("heading", level=1)).to_have_text("Confirmez avec votre application")
        site.get_by_role("button", name="Envoyer la demande à mon application").click()

        # The website shows the number to type in the app.
        binding = site.locator("#binding-code")
        expect(binding).to_have_text(re.compile(r"^\d\d$"))
        expect(site.get_by_role("heading", level=1)).to_have_text("Confirmez dans votre application")
        number = binding.inner_text()

        # The phone: the request names the partner; the number, then the secret code.
        request = app_page.locator("[data-request-id]")
        expect(request).to_have_count(1)
        expect(request).to_contain_text(PARTNER_NAME)
        request.locator('[data-action="approve"]').click()
        type_on_pad(app_page, number)
        type_on_pad(app_page, PIN)
        expect(app_page.locator("[data-home-result]")).to_contain_text("Validé")

        # The website saw the approval, opened the session again and resumed the authorization:
        # the consent page, then the partner.
        consent = site.locator('[data-oidc-page="consent"]')
        expect(consent).to_be_visible()
        expect(consent).to_contain_text(PARTNER_NAME)
        site.locator('button[name="action"][value="approve"]').click()

        expect(site.get_by_role("heading", level=1)).to_have_text("Bienvenue")
        expect(claim(site, "id_token", "acr")).to_have_text("eidas2")
        expect(claim(site, "id_token", "amr")).to_have_text("['pop', 'pin', 'mfa']")
        verified = identity.claims()
        for source in ("id_token", "userinfo"):
            for name in ("given_name", "family_name", "birthdate"):
                expect(claim(site, source, name)).to_have_text(str(verified[name]))
    finally:
        context.close()

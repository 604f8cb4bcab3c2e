"""The demo partner against a real Sésame: login with PKCE and nonce through Authlib, the claims page,
RP-initiated logout, and back-channel logout ending the partner's own session.

Both run under uvicorn on free 127.0.0.1 ports; a cookie-keeping HTTP client plays the browser
and follows each redirect itself, so every step can be checked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from sesame.oidc.logout import issue_logout_token, logout_token_claims
from sesame.services.demo import DEMO_PASSWORD
from sesame.services.outbox_worker import deliver_due
from sesame_demo_partner.app import create_app
from sesame_demo_partner.config import PartnerSettings
from tests.demo_partner.servers import Partner, Sesame, browser_like_client, partner_server, sesame_server

EMAIL = "marie.dupont@example.fr"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PARTNER_CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def sesame(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sesame]:
    with sesame_server(tmp_path_factory.mktemp("sesame-var")) as server:
        yield server


@pytest.fixture(scope="module")
def partner(sesame: Sesame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    with partner_server(sesame, tmp_path_factory.mktemp("partner-var")) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with browser_like_client() as client:
        yield client


def location(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return urljoin(str(response.url), response.headers["location"])


def through_sesame(browser: httpx.Client, url: str, partner: Partner) -> str:
    """Follow the browser through Sésame (login form, consent page) until it is sent back to the partner."""
    for _ in range(20):
        if url.startswith(partner.url):
            return url
        response = browser.get(url)
        if response.status_code in (302, 303):
            url = location(response)
            continue
        assert response.status_code == 200, response.text[:500]
        token = CSRF_RE.search(response.text)
        assert token, response.text[:500]
        if 'data-oidc-page="consent"' in response.text:
            form = {"csrf_token": token.group(1), "action": "approve"}
        else:
            assert 'name="password"' in response.text, response.text[:500]
            form = {"csrf_token": token.group(1), "step": "credentials", "identifier": EMAIL, "password": DEMO_PASSWORD}
        url = location(browser.post(url, data=form))
    raise AssertionError("never sent back to the partner")


def log_in(browser: httpx.Client, partner: Partner) -> httpx.Response:
    """From the partner's button to its claims page."""
    to_sesame = location(browser.get(f"{partner.url}/login"))
    callback = through_sesame(browser, to_sesame, partner)
    assert callback.startswith(f"{partner.url}/callback?"), callback
    landed = browser.get(callback)
    assert location(landed) == f"{partner.url}/claims"
    return browser.get(f"{partner.url}/claims")


def claim(page: httpx.Response, name: str) -> str:
    match = re.search(rf'data-claim="{name}">.*?<td class="value">([^<]*)</td>', page.text, re.S)
    assert match, f"no {name} on the page"
    return match.group(1)


# -- the pages -----------------------------------------------------------------------------------------


def test_home_offers_to_log_in_with_sesame(browser: httpx.Client, partner: Partner) -> None:
    home = browser.get(f"{partner.url}/")
    assert home.status_code == 200
    assert '<html lang="fr">' in home.text
    assert 'href="/login"' in home.text and "Se connecter avec Sésame" in home.text
    assert browser.get(f"{partner.url}/static/partner.css").status_code == 200


def test_login_goes_to_sesame_with_pkce_s256_state_and_nonce(
    browser: httpx.Client, partner: Partner, sesame: Sesame
) -> None:
    target = location(browser.get(f"{partner.url}/login"))
    assert target.startswith(f"{sesame.issuer}/authorize?")
    params = {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()}
    assert params["response_type"] == "code" and params["client_id"] == partner.client_id
    assert params["redirect_uri"] == f"{partner.url}/callback"
    assert params["scope"] == "openid profile email"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 20 and len(params["nonce"]) >= 20
    assert params["ui_locales"] == "fr"


def test_a_person_logs_in_sees_the_claims_and_logs_out(browser: httpx.Client, partner: Partner, sesame: Sesame) -> None:
    page = log_in(browser, partner)

    assert page.status_code == 200
    assert claim(page, "email") == EMAIL
    assert claim(page, "acr") == "eidas1" and claim(page, "amr") == "pwd"
    assert claim(page, "iss") == sesame.issuer and claim(page, "aud") == partner.client_id
    assert len(claim(page, "sid")) == 40 and claim(page, "sub")
    assert 'id="userinfo-claims"' in page.text and 'id="id-token-claims"' in page.text

    csrf = PARTNER_CSRF_RE.search(page.text)
    assert csrf
    to_sesame = location(browser.post(f"{partner.url}/logout", data={"csrf": csrf.group(1)}))
    assert to_sesame.startswith(f"{sesame.issuer}/end-session?")
    params = {name: values[0] for name, values in parse_qs(urlsplit(to_sesame).query).items()}
    assert params["post_logout_redirect_uri"] == f"{partner.url}/" and params["id_token_hint"].count(".") == 2

    back = location(browser.get(to_sesame))  # the hint names Sésame's session: logged out at once

    assert back.startswith(f"{partner.url}/?state=")
    home = browser.get(back)
    assert "Vous êtes déconnecté(e)" in home.text and "Se connecter avec Sésame" in home.text
    assert location(browser.get(f"{sesame.url}/laposte/account")).startswith(f"{sesame.url}/laposte/login")
    assert location(browser.get(f"{partner.url}/claims")) == f"{partner.url}/"


def test_logging_out_of_sesame_ends_the_partner_session_through_the_back_channel(
    browser: httpx.Client, partner: Partner, sesame: Sesame
) -> None:
    assert log_in(browser, partner).status_code == 200
    account = browser.get(f"{sesame.url}/laposte/logout")
    token = CSRF_RE.search(account.text)
    assert token
    assert browser.post(f"{sesame.url}/laposte/logout", data={"csrf_token": token.group(1)}).status_code == 303

    report = asyncio.run(deliver_due(sesame.container, owner="test"))

    assert report.sent >= 1
    assert location(browser.get(f"{partner.url}/claims")) == f"{partner.url}/"


def test_the_back_channel_endpoint_checks_the_token(browser: httpx.Client, partner: Partner, sesame: Sesame) -> None:
    container = sesame.container
    tenant = container.tenants.get("laposte")
    signer = container.signing_keys.signer(tenant)
    now = container.clock.now()

    def token(**changes: object) -> str:
        claims = logout_token_claims(issuer=sesame.issuer, client_id=partner.client_id, sub="s", sid="x", now=now)
        claims.update(changes)
        return issue_logout_token(signer, claims)

    endpoint = f"{partner.url}/backchannel-logout"
    good = token()
    assert browser.post(endpoint, data={"logout_token": good}).status_code == 200
    refused = {
        "replayed": good,
        "missing": None,
        "garbage": "a.b.c",
        "other audience": token(aud="someone-else"),
        "other issuer": token(iss=f"{sesame.url}/poste-ch"),
        "no event": token(events={}),
        "with a nonce": token(nonce="n"),
        "expired": token(exp=int(now.timestamp()) - 3600),
    }
    for why, value in refused.items():
        response = browser.post(endpoint, data={"logout_token": value} if value else {})
        assert response.status_code == 400, why
        assert response.json()["error"] == "invalid_request", why
        assert response.headers["cache-control"] == "no-store"


def test_a_callback_without_a_started_login_is_refused(browser: httpx.Client, partner: Partner) -> None:
    response = browser.get(f"{partner.url}/callback?code=abc&state=forged")
    assert response.status_code == 400 and "Connexion interrompue" in response.text


def test_refusing_consent_brings_the_person_back_with_an_explanation(
    browser: httpx.Client, partner: Partner, sesame: Sesame
) -> None:
    with sesame.container.uow() as uow:  # asked afresh: an earlier test may have consented
        tenant = uow.tenants.get_by_slug("laposte")
        assert tenant is not None
        account = uow.accounts.by_email(tenant.id, EMAIL)
        assert account is not None
        uow.oidc.delete_consent(account.id, partner.client_id)
        uow.commit()
    url = location(browser.get(f"{partner.url}/login"))
    for _ in range(20):
        response = browser.get(url)
        if response.status_code in (302, 303):
            url = location(response)
            if url.startswith(partner.url):
                break
            continue
        token = CSRF_RE.search(response.text)
        assert token
        if 'data-oidc-page="consent"' in response.text:
            url = location(browser.post(url, data={"csrf_token": token.group(1), "action": "deny"}))
            break
        form = {"csrf_token": token.group(1), "step": "credentials", "identifier": EMAIL, "password": DEMO_PASSWORD}
        url = location(browser.post(url, data=form))
    else:
        raise AssertionError("no consent page")
    page = browser.get(url)
    assert page.status_code == 400 and "refusé de partager" in page.text


def test_the_logout_form_needs_its_token(browser: httpx.Client, partner: Partner) -> None:
    assert browser.post(f"{partner.url}/logout", data={"csrf": "forged"}).status_code == 403


def test_without_registration_the_partner_says_what_to_do(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    settings = PartnerSettings(issuer="http://127.0.0.1:9/laposte", client_file=tmp_path / "missing.json")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8001") as client:
        response = client.get("/login")
    assert response.status_code == 503 and "sesame demo load" in response.text

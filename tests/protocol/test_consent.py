"""Consent (issue point 5): the page listing the service and what it asks for, remembered per
client and scope set, widened scopes asking again, refusal (access_denied), offline_access only
with an explicit consent, and withdrawal from the account page revoking the service's grants.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.models import OidcClient
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from tests.protocol import tokens_support
from tests.protocol.authorize_support import (
    EMAIL,
    RESUME_RE,
    answer_consent,
    app,
    assert_code,
    assert_error,
    audit_types,
    authorize,
    browser,
    consent_items,
    consent_page,
    csrf_token,
    laposte,
    location,
    log_in,
    log_in_directly,
    login_then_back,
    register,
    rp,
    stored_code,
)

__all__ = ["app", "browser", "laposte", "rp"]  # fixtures


def consent_of(container: Container, client: OidcClient, email: str = EMAIL) -> list[str] | None:
    tenant = container.tenants.get("laposte")
    with container.uow(readonly=True) as uow:
        account = uow.accounts.by_email(tenant.id, email)
        assert account is not None
        consent = uow.oidc.get_consent(account.id, client.client_id)
    return None if consent is None else list(consent.scopes)


def approve(browser: TestClient, response: httpx.Response) -> httpx.Response:
    url, page = consent_page(browser, response)
    return answer_consent(browser, url, page, "approve")


def test_the_page_lists_the_service_and_what_it_asks(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    response = authorize(browser, rp, scope="openid email", ui_locales="en")
    _url, page = consent_page(browser, response)
    assert rp.name in page.text
    assert consent_items(page) == ["email", "openid"]
    assert "Your email address" in page.text and "So that the service can write to you." in page.text
    assert EMAIL in page.text  # who is about to agree
    assert "data-consent-offline" not in page.text


def test_the_page_speaks_the_language_of_ui_locales(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    _url, french = consent_page(browser, authorize(browser, rp, scope="openid email"))
    assert "Autoriser" in french.text and "Votre adresse e-mail" in french.text
    _url, english = consent_page(browser, authorize(browser, rp, scope="openid email", ui_locales="de en"))
    assert "Allow" in english.text and "Autoriser" not in english.text
    # The page's own language switch wins over ui_locales.
    url, _page = consent_page(browser, authorize(browser, rp, scope="openid email", ui_locales="en"))
    assert "Autoriser" in browser.get(url + "?lang=fr").text


def test_approved_then_remembered(browser: TestClient, rp: OidcClient, container: Container, laposte: Tenant) -> None:
    log_in_directly(browser)
    code = assert_code(approve(browser, authorize(browser, rp, scope="openid email")))
    _row, grant = stored_code(container, code)
    assert grant.scope == "openid email"
    assert consent_of(container, rp) == ["email", "openid"]
    assert "oidc.consent.granted" in audit_types(container, laposte)
    # Within the consented set (here a part of it), nothing is asked again.
    assert_code(authorize(browser, rp, scope="openid email"))
    assert_code(authorize(browser, rp, scope="openid"))


def test_wider_scopes_ask_again_and_the_consent_grows(
    browser: TestClient, rp: OidcClient, container: Container
) -> None:
    log_in_directly(browser)
    assert_code(approve(browser, authorize(browser, rp, scope="openid email")))
    response = authorize(browser, rp, scope="openid email profile")
    _url, page = consent_page(browser, response)
    assert consent_items(page) == ["email", "openid", "profile"]
    assert_code(approve(browser, response))
    assert consent_of(container, rp) == ["email", "openid", "profile"]


def test_a_claim_asked_by_the_claims_parameter_asks_too(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    assert_code(approve(browser, authorize(browser, rp, scope="openid email")))
    # email is covered by the email scope; phone_number is new; acr says nothing about the person.
    claims = '{"userinfo": {"email": null, "phone_number": null}, "id_token": {"acr": null}}'
    response = authorize(browser, rp, scope="openid email", claims=claims)
    _url, page = consent_page(browser, response)
    assert consent_items(page) == ["email", "openid", "phone_number"]


def test_deny_sends_access_denied(browser: TestClient, rp: OidcClient, container: Container) -> None:
    log_in_directly(browser)
    url, page = consent_page(browser, authorize(browser, rp, scope="openid email"))
    assert_error(answer_consent(browser, url, page, "deny"), "access_denied")
    assert consent_of(container, rp) is None
    # The finished flow answers the same again (a reload), never a code.
    assert_error(browser.get(url), "access_denied")


def test_prompt_consent_always_asks(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    assert_code(approve(browser, authorize(browser, rp, scope="openid email")))
    assert_code(approve(browser, authorize(browser, rp, scope="openid email", prompt="consent")))


def test_a_first_party_service_skips_the_page_but_not_for_offline_access(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    own = register(container, laposte, "La Poste – colis", skip_consent=True)
    log_in_directly(browser)
    _row, grant = stored_code(container, assert_code(authorize(browser, own, scope="openid email")))
    assert consent_of(container, own) is None and grant.session_id is not None
    # offline_access (tokens that outlive the browser session) needs an explicit consent.
    response = authorize(browser, own, scope="openid offline_access")
    _url, page = consent_page(browser, response)
    assert "data-consent-offline" in page.text
    _row, offline = stored_code(container, assert_code(approve(browser, response)))
    assert offline.session_id is None and "offline_access" in offline.scope.split()
    assert_code(authorize(browser, own, scope="openid offline_access"))  # remembered now


def test_the_consent_form_needs_its_csrf_token(browser: TestClient, rp: OidcClient, container: Container) -> None:
    log_in_directly(browser)
    url, _page = consent_page(browser, authorize(browser, rp, scope="openid email"))
    forged = browser.post(url, data={"action": "approve"})
    assert forged.status_code == 403 and "location" not in forged.headers
    assert consent_of(container, rp) is None


def test_a_form_without_a_choice_shows_the_page_again(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    url, page = consent_page(browser, authorize(browser, rp, scope="openid email"))
    again = browser.post(url, data={"csrf_token": csrf_token(page.text)})
    assert again.status_code == 400 and 'data-oidc-page="consent"' in again.text


def test_another_account_logging_in_gets_its_own_consent_page(
    browser: TestClient, rp: OidcClient, container: Container, laposte: Tenant
) -> None:
    other = NewAccount(email="paul.durand@example.fr", given_name="Paul", family_name="Durand", verified=True)
    container.accounts.create(laposte, other, "Paul-Durand-2026", RequestContext(actor="test"))
    log_in_directly(browser)
    url, page = consent_page(browser, authorize(browser, rp, scope="openid email"))
    switch = re.search(r'href="(/laposte/login\?[^"]+)"', page.text)
    assert switch is not None and "prompt=login" in switch.group(1)
    answer = log_in(browser, switch.group(1).replace("&amp;", "&"), "paul.durand@example.fr", "Paul-Durand-2026")
    assert location(answer) == url
    # The page was shown to Marie: Paul is asked for himself (the flow starts over for him).
    restarted = browser.get(location(browser.get(url)))  # CONSENT -> LOGIN (restart) -> CONSENT for Paul
    _url, page = consent_page(browser, restarted)
    assert "paul.durand@example.fr" in page.text
    assert_code(answer_consent(browser, url, page, "approve"))
    assert consent_of(container, rp, "paul.durand@example.fr") == ["email", "openid"]
    assert consent_of(container, rp) is None


def test_withdrawing_from_the_account_page_revokes_the_grants(
    browser: TestClient, rp: OidcClient, container: Container, laposte: Tenant
) -> None:
    response = authorize(browser, rp, scope="openid email offline_access")
    _row, grant = stored_code(container, assert_code(approve(browser, login_then_back(browser, response))))
    account = browser.get("/laposte/account")
    assert account.status_code == 200
    section = account.text[account.text.index('id="services"') :]
    assert rp.name in section and "Votre adresse e-mail" in section and "Un accès en votre absence" in section
    assert f'data-connected-service="{rp.client_id}"' in section
    withdrawn = browser.post(
        "/laposte/account/services/withdraw", data={"csrf_token": csrf_token(account.text), "client_id": rp.client_id}
    )
    assert location(withdrawn) == "/laposte/account?notice=service_withdrawn#services"
    assert consent_of(container, rp) is None
    with container.uow(readonly=True) as uow:
        revoked = uow.oidc.get_grant(grant.id)
    assert revoked is not None and revoked.revoked_at is not None and revoked.revoke_reason == "consent_withdrawn"
    assert "oidc.consent.withdrawn" in audit_types(container, laposte)
    assert f'data-connected-service="{rp.client_id}"' not in browser.get("/laposte/account").text
    # The service has to ask again.
    assert RESUME_RE.fullmatch(location(authorize(browser, rp, scope="openid email")))


def test_an_access_token_stops_working_once_the_consent_is_withdrawn(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    registered = tokens_support.register(container, laposte, "Ameli")
    log_in_directly(browser)
    code = assert_code(approve(browser, authorize(browser, registered.client, scope="openid email")))
    access_token = tokens_support.tokens(browser, registered, code, verifier=None)["access_token"]
    assert tokens_support.userinfo(browser, access_token).status_code == 200
    account = browser.get("/laposte/account")
    form = {"csrf_token": csrf_token(account.text), "client_id": registered.client_id}
    browser.post("/laposte/account/services/withdraw", data=form)
    refused = tokens_support.userinfo(browser, access_token)
    assert refused.status_code == 401 and "invalid_token" in refused.headers["www-authenticate"]


def test_withdrawing_needs_the_csrf_token(browser: TestClient, rp: OidcClient, container: Container) -> None:
    log_in_directly(browser)
    assert_code(approve(browser, authorize(browser, rp, scope="openid email")))
    forged = browser.post("/laposte/account/services/withdraw", data={"client_id": rp.client_id})
    assert forged.status_code == 403
    assert consent_of(container, rp) == ["email", "openid"]


def test_two_approvals_at_once_issue_one_code(browser: TestClient, rp: OidcClient, container: Container) -> None:
    """A double click (or two tabs): the flow moves once, so exactly one code goes to the client."""
    log_in_directly(browser)
    url, page = consent_page(browser, authorize(browser, rp, scope="openid email"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: answer_consent(browser, url, page, "approve"), range(4)))
    codes = [a for a in answers if a.headers.get("location", "").startswith("https://rp.example/callback?code=")]
    assert len(codes) == 1, [a.headers.get("location") for a in answers]
    with container.database.engine.connect() as connection:
        grants = connection.execute(
            text("SELECT count(*) FROM oidc_grants WHERE client_id = :c"), {"c": rp.client_id}
        ).scalar_one()
    assert grants == 1

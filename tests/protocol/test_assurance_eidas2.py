"""eidas2 ("substantial") with a verified identity and the phone app (issue 4 point 6, issue 7 point 5).

- An app login (the device's key and the 4-digit code) of an account whose identity has its app
  activated is issued as acr eidas2, amr pop pin mfa.
- The French identity claims (and the verified mobile and address) come from the verified
  identity only, never from what the account says; an identity revoked since releases nothing.
- Step-up: a partner asking for eidas2 while the session is a password login (eidas1) sends the
  browser to the step-up page; the app approves (number matching, 4-digit code), the session is
  opened again at eidas2, the authorization resumes and the ID token carries acr eidas2 and the
  identity claims. An account that cannot reach eidas2 (no usable identity, no device) gets
  ``unmet_authentication_requirements``; declining the step-up is ``access_denied``.

Driven with TestClient over the real login flow, the real decoupled login pages and a device
answering through the real approval service (tests/app_support.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.devices import ApprovalKind, ApprovalRequest, Decision, Device
from sesame.domain.identity import VerifiedIdentity
from sesame.domain.tenants import Tenant
from sesame.oidc import assurance
from sesame.web.session import session_cookie_name
from tests.app_support import CTX, MOBILE, PASSWORD, SoftDevice, activate, verified_account
from tests.protocol import tokens_support
from tests.protocol.authorize_support import (
    REDIRECT_URI,
    app,
    assert_code,
    assert_error,
    authorize,
    browser,
    csrf_token,
    laposte,
    location,
    log_in,
    stored_code,
)
from tests.protocol.tokens_support import Registered

__all__ = ["app", "browser", "laposte"]  # fixtures

EMAIL = "marie.eidas2@example.fr"
IDENTITY_SCOPE = "openid given_name family_name birthdate phone"
ID_TOKEN_CLAIMS = '{"id_token": {"given_name": null, "family_name": null, "birthdate": null}}'
STEP_UP_RE = re.compile(r"^/laposte/authorize/[A-Za-z0-9_-]{43}/step-up$")
WAIT_RE = re.compile(r"^/laposte/login/app/(ar_[A-Za-z0-9_-]+)\?return_to=")
BINDING_RE = re.compile(r'<p class="binding-code" id="binding-code"[^>]*>(\d\d)</p>')


@pytest.fixture
def person(container: Container, laposte: Tenant) -> tuple[Account, VerifiedIdentity]:
    """An account with a password and a verified identity (its app not activated yet)."""
    return verified_account(container, laposte, EMAIL)


@pytest.fixture
def phone(container: Container, laposte: Tenant, person: tuple[Account, VerifiedIdentity]) -> tuple[Device, SoftDevice]:
    """The phone app, activated: the identity is usable at eidas2 from now on."""
    return activate(container, laposte, EMAIL)


@pytest.fixture
def service(container: Container, laposte: Tenant) -> Registered:
    """A partner (consent page shown) that may ask for the identity claims."""
    return tokens_support.register(
        container,
        laposte,
        "Impots.gouv",
        scopes=("openid", "profile", "email", "phone", "address", "given_name", "family_name", "birthdate"),
    )


def consented(browser: TestClient, response: httpx.Response) -> httpx.Response:
    """Approve the consent page if it is shown; returns the answer to the client."""
    target = location(response)
    if target.startswith(REDIRECT_URI):
        return response
    page = browser.get(target)
    assert 'data-oidc-page="consent"' in page.text, page.text[:300]
    return browser.post(target, data={"csrf_token": csrf_token(page.text), "action": "approve"})


def password_login(browser: TestClient) -> None:
    assert location(log_in(browser, "/laposte/login", EMAIL, PASSWORD)) == "/laposte/account"


def app_login(browser: TestClient, container: Container, tenant: Tenant, device: Device, soft: SoftDevice) -> None:
    """The decoupled login: the number typed on the website, the app approves with the number shown."""
    page = browser.get("/laposte/login/app")
    answer = browser.post("/laposte/login/app", data={"csrf_token": csrf_token(page.text), "mobile": MOBILE})
    wait = location(answer)
    finish_approved(browser, container, tenant, wait, device, soft)


def finish_approved(
    browser: TestClient, container: Container, tenant: Tenant, wait: str, device: Device, soft: SoftDevice
) -> httpx.Response:
    """On the waiting page: read the number, the app types it and the code, the page finishes."""
    page = browser.get(wait)
    assert page.status_code == 200, page.text[:300]
    shown = BINDING_RE.search(page.text)
    assert shown, "the page shows the number to type in the app"
    [request] = container.approvals.pending_for_device(tenant, device)
    assert container.approvals.decide(tenant, soft.answer(request, binding_code=shown.group(1)), CTX).ok
    return_to = re.search(r'name="return_to" value="([^"]*)"', page.text)
    assert return_to
    data = {"csrf_token": csrf_token(page.text), "return_to": return_to.group(1).replace("&amp;", "&")}
    return browser.post(urlsplit(wait).path, data=data)


def tokens(browser: TestClient, service: Registered, code: str) -> dict[str, Any]:
    body = tokens_support.tokens(browser, service, code, verifier=None)
    body["id_claims"] = tokens_support.verify(browser, body["id_token"], typ="JWT")
    return body


def identity_values(identity: VerifiedIdentity, *names: str) -> dict[str, Any]:
    claims = identity.claims()
    return {name: claims[name] for name in names}


# -- an app login --------------------------------------------------------------------------------------------


def test_an_app_login_is_issued_as_eidas2_with_the_apps_methods(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    service: Registered,
    person: tuple[Account, VerifiedIdentity],
    phone: tuple[Device, SoftDevice],
) -> None:
    _account, identity = person
    app_login(browser, container, laposte, *phone)
    answer = authorize(browser, service.client, scope=IDENTITY_SCOPE, acr_values="eidas2", claims=ID_TOKEN_CLAIMS)
    code = assert_code(consented(browser, answer))
    _row, grant = stored_code(container, code)
    assert (grant.acr, grant.amr) == ("eidas2", ["pop", "pin", "mfa"])
    body = tokens(browser, service, code)
    id_claims = body["id_claims"]
    assert (id_claims["acr"], id_claims["amr"]) == ("eidas2", ["pop", "pin", "mfa"])
    # the ID token's identity claims (asked with the claims parameter) come from the identity
    expected = identity_values(identity, "given_name", "family_name", "birthdate")
    assert {name: id_claims[name] for name in expected} == expected
    assert expected["given_name"] == "Marie Louise"  # the civil-status names, not the account's "Marie"
    # userinfo: the scopes' identity claims and the verified mobile
    userinfo = tokens_support.userinfo(browser, body["access_token"]).json()
    assert {name: userinfo[name] for name in expected} == expected
    assert (userinfo["phone_number"], userinfo["phone_number_verified"]) == (MOBILE, True)


def test_identity_claims_stop_with_a_revoked_identity(
    browser: TestClient,
    container: Container,
    clock: Any,
    laposte: Tenant,
    service: Registered,
    person: tuple[Account, VerifiedIdentity],
    phone: tuple[Device, SoftDevice],
) -> None:
    account, _identity = person
    app_login(browser, container, laposte, *phone)
    code = assert_code(
        consented(browser, authorize(browser, service.client, scope=IDENTITY_SCOPE, acr_values="eidas2"))
    )
    body = tokens(browser, service, code)
    assert "given_name" in tokens_support.userinfo(browser, body["access_token"]).json()
    with container.uow() as uow:
        identity = uow.identities.of_account(account.id)
        assert identity is not None
        identity.revoked_at = clock.now()
        uow.identities.save(identity)
        uow.commit()
    released = tokens_support.userinfo(browser, body["access_token"]).json()
    assert not {"given_name", "family_name", "birthdate", "phone_number"} & set(released)


def test_a_verified_identity_without_the_app_gives_its_claims_at_eidas1_only(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    service: Registered,
    person: tuple[Account, VerifiedIdentity],
) -> None:
    """Proved but no app activated: a password login is eidas1, the identity's claims are released
    from the identity at eidas1, and eidas2 cannot be reached (no step-up: no device)."""
    _account, identity = person
    password_login(browser)
    code = assert_code(consented(browser, authorize(browser, service.client, scope=IDENTITY_SCOPE)))
    body = tokens(browser, service, code)
    assert body["id_claims"]["acr"] == "eidas1"
    userinfo = tokens_support.userinfo(browser, body["access_token"]).json()
    expected = identity_values(identity, "given_name", "family_name", "birthdate")
    assert {name: userinfo[name] for name in expected} == expected
    assert_error(
        authorize(browser, service.client, scope=IDENTITY_SCOPE, acr_values="eidas2"),
        "unmet_authentication_requirements",
    )


# -- step-up -------------------------------------------------------------------------------------------------


def step_up_page(browser: TestClient, response: httpx.Response) -> tuple[str, httpx.Response]:
    url = location(response)
    assert STEP_UP_RE.fullmatch(url), url
    page = browser.get(url)
    assert page.status_code == 200 and 'data-oidc-page="step-up"' in page.text, page.text[:300]
    return url, page


def test_an_eidas1_session_steps_up_in_the_app_and_gets_eidas2_and_the_identity(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    service: Registered,
    person: tuple[Account, VerifiedIdentity],
    phone: tuple[Device, SoftDevice],
) -> None:
    account, identity = person
    device, soft = phone
    password_login(browser)
    cookie = session_cookie_name(container.settings, laposte)
    before = browser.cookies.get(cookie)
    url, page = step_up_page(
        browser, authorize(browser, service.client, scope=IDENTITY_SCOPE, acr_values="eidas2", claims=ID_TOKEN_CLAIMS)
    )
    assert "Impots.gouv" in page.text
    wait = location(browser.post(url, data={"csrf_token": csrf_token(page.text), "action": "send"}))
    match = WAIT_RE.match(wait)
    assert match, wait
    with container.uow(readonly=True) as uow:
        request = uow.approvals.get(match.group(1))
    assert isinstance(request, ApprovalRequest)
    assert (request.kind, request.account_id, request.service_name) == (ApprovalKind.STEP_UP, account.id, "Impots.gouv")
    waiting = browser.get(wait)
    assert "Impots.gouv" in waiting.text and "/laposte/login?" not in waiting.text  # no password login offered

    back = location(finish_approved(browser, container, laposte, wait, device, soft))
    assert back == url.removesuffix("/step-up")
    code = assert_code(consented(browser, browser.get(back)))
    body = tokens(browser, service, code)
    id_claims = body["id_claims"]
    assert (id_claims["acr"], id_claims["amr"]) == ("eidas2", ["pop", "pin", "mfa"])
    expected = identity_values(identity, "given_name", "family_name", "birthdate")
    assert {name: id_claims[name] for name in expected} == expected
    # the session was opened again (a new id) at eidas2
    after = browser.cookies.get(cookie)
    assert after and after != before
    live = container.sessions.resolve(laposte, after)
    assert live is not None and (live.session.acr, live.account.id) == ("eidas2", account.id)


def test_a_password_login_made_for_the_request_is_stepped_up_too(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    service: Registered,
    phone: tuple[Device, SoftDevice],
) -> None:
    """Nobody logged in: the login page first (the password), then the step-up, then the code."""
    answer = authorize(browser, service.client, scope="openid", acr_values="eidas2")
    login = location(answer)
    assert login.startswith("/laposte/login?")
    back = location(log_in(browser, login, EMAIL, PASSWORD))
    url, page = step_up_page(browser, browser.get(back))
    wait = location(browser.post(url, data={"csrf_token": csrf_token(page.text), "action": "send"}))
    resumed = location(finish_approved(browser, container, laposte, wait, *phone))
    code = assert_code(consented(browser, browser.get(resumed)))
    assert tokens(browser, service, code)["id_claims"]["acr"] == "eidas2"


def test_declining_the_step_up_is_access_denied(
    browser: TestClient, container: Container, service: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    password_login(browser)
    url, page = step_up_page(browser, authorize(browser, service.client, acr_values="eidas2"))
    assert_error(browser.post(url, data={"csrf_token": csrf_token(page.text), "action": "cancel"}), "access_denied")


def test_a_step_up_refused_in_the_app_can_be_tried_again(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    service: Registered,
    phone: tuple[Device, SoftDevice],
) -> None:
    device, soft = phone
    password_login(browser)
    url, page = step_up_page(browser, authorize(browser, service.client, acr_values="eidas2"))
    wait = location(browser.post(url, data={"csrf_token": csrf_token(page.text), "action": "send"}))
    [request] = container.approvals.pending_for_device(laposte, device)
    container.approvals.decide(laposte, soft.answer(request, Decision.DENY, binding_code="", pin=None), CTX)
    result = browser.get(wait)
    assert 'data-app-login-result="denied"' in result.text
    again = re.search(r'<a class="button" href="([^"]+)"', result.text)
    assert again and again.group(1) == url.removesuffix("/step-up")  # back to the request: step-up again
    step_up_page(browser, browser.get(again.group(1)))


def test_the_step_up_needs_the_session_and_the_flow(
    browser: TestClient, container: Container, service: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    password_login(browser)
    url, _page = step_up_page(browser, authorize(browser, service.client, acr_values="eidas2"))
    # without the CSRF token, nothing is sent
    assert browser.post(url, data={"action": "send"}).status_code == 403
    assert container.approvals.pending_for_device(container.tenants.get("laposte"), phone[0]) == []
    # another browser cannot use this browser's authorization request
    with TestClient(browser.app, base_url="https://testserver", follow_redirects=False) as other:
        assert other.get(url).status_code in (403, 410)


def test_prompt_none_cannot_step_up(browser: TestClient, service: Registered, phone: tuple[Device, SoftDevice]) -> None:
    password_login(browser)
    assert_error(authorize(browser, service.client, acr_values="eidas2", prompt="none"), "login_required")


def test_an_account_without_a_usable_identity_cannot_step_up(
    browser: TestClient, service: Registered, person: tuple[Account, VerifiedIdentity]
) -> None:
    password_login(browser)
    assert_error(authorize(browser, service.client, acr_values="eidas2"), "unmet_authentication_requirements")


# -- the assurance module ------------------------------------------------------------------------------------


def _session(acr: str, amr: list[str]) -> BrowserSession:
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    return BrowserSession("s", 1, 1, now, now, now, now, now, acr, amr, "", "")


def test_eidas2_is_an_identity_usable_at_eidas2_and_two_factors(
    container: Container, laposte: Tenant, person: tuple[Account, VerifiedIdentity], phone: tuple[Device, SoftDevice]
) -> None:
    account, _ = person
    with container.uow(readonly=True) as uow:
        standing = assurance.Standing.read(uow, account.id)
    usable = standing.identity
    assert usable is not None and usable.usable_for_eidas2 and standing.app_devices == 1
    for amr, level in (
        (["pop", "pin", "mfa"], "eidas2"),  # the app
        (["pwd", "otp", "mfa"], "eidas2"),  # a password and a TOTP code
        (["pwd", "hwk", "mfa"], "eidas2"),  # a password and a passkey
        (["pwd"], "eidas1"),  # a password alone
    ):
        assert assurance.session_level(_session("eidas1", amr), usable) == level, amr
    assert assurance.session_level(_session("eidas2", ["pop", "pin", "mfa"]), None) == "eidas1"
    assert assurance.session_level(_session("other", ["pwd"]), usable) is None
    assert assurance.can_reach("eidas2", standing)
    assert not assurance.can_reach("eidas2", assurance.Standing(identity=usable, app_devices=0))
    assert assurance.has_verified_identity(usable) and not assurance.has_verified_identity(None)
    # identity claims asked with eidas2 are only released for an eidas2 token
    assert assurance.identity_claims_source(usable, acr="eidas1", required="eidas2") is None
    assert assurance.identity_claims_source(usable, acr="eidas2", required="eidas2") == usable.claims()
    assert assurance.identity_claims_source(None, acr="eidas2") is None

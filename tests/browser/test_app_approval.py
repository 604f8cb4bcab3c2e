"""The phone app and the website in Chromium, side by side (seed 000, "Utiliser l'Identité Numérique").

One browser context is the phone: it activates the app at /app/laposte/ (password, SMS code, a
4-digit code chosen and confirmed on the digit pad, a non-extractable WebCrypto key). Another is
the computer: it asks to log in with the mobile number at /laposte/login/app, shows a number,
and is logged in at eidas2 once the phone typed that number and the secret code. A wrong number
typed on the phone refuses the login instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sesame.domain.tenants import Tenant
from sesame.web.session import session_cookie_name
from tests.app_support import PASSWORD, LiveServer, identity_of, live_server, sms_codes, verified_account
from tests.browser.conftest import ACTION_TIMEOUT_MS

pytestmark = pytest.mark.browser

EMAIL = "marie.navigateur@example.fr"
MOBILE = "+33758123456"
TYPED_MOBILE = "07 58 12 34 56"
PIN = "4085"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("app-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(server: LiveServer) -> Tenant:
    tenant = server.container.tenants.get("laposte")
    verified_account(server.container, tenant, EMAIL, mobile=MOBILE)
    return tenant


@pytest.fixture(scope="module")
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", viewport={"width": 390, "height": 844})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


def computer(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def type_on_pad(page: Page, digits: str) -> None:
    pad = page.locator('[data-screen="pad"]')
    expect(pad).to_be_visible()
    for digit in digits:
        pad.locator(f'[data-digit="{digit}"]').click()
    pad.locator("[data-pad-submit]").click()


@pytest.fixture(scope="module")
def app_page(server: LiveServer, tenant: Tenant, phone: BrowserContext) -> Page:
    """The phone's app, activated."""
    page = phone.new_page()
    page.goto(f"{server.base_url}/app/laposte/")
    login = page.locator('[data-screen="login"]')
    expect(login).to_be_visible()
    login.get_by_label("Adresse e-mail").fill(EMAIL)
    login.get_by_label("Mot de passe").fill(PASSWORD)
    login.get_by_role("button", name="Continuer").click()
    code_screen = page.locator('[data-screen="code"]')
    expect(code_screen).to_be_visible()
    expect(code_screen).to_contain_text("+33 7 •• •• •• 56")
    code_screen.get_by_label("Code reçu par SMS").fill(sms_codes(server.container, MOBILE)[0])
    code_screen.get_by_role("button", name="Continuer").click()
    expect(page.locator("[data-pad-title]")).to_have_text("Définissez un code secret à 4 chiffres")
    type_on_pad(page, "1234")
    expect(page.locator("[data-pad-title]")).to_have_text("Confirmez votre code secret")
    type_on_pad(page, "1234")
    # 1234 is refused by the server: the app asks for another code.
    expect(page.locator('[data-screen="pad"] [data-error]')).to_contain_text("trop facile")
    type_on_pad(page, PIN)
    type_on_pad(page, PIN)
    expect(page.locator('[data-screen="home"]')).to_be_visible()
    expect(page.locator("[data-home-result]")).to_contain_text("activée")
    return page


def test_the_app_is_activated_with_a_non_extractable_key(server: LiveServer, tenant: Tenant, app_page: Page) -> None:
    account = server.container.accounts.find(tenant, EMAIL)
    identity = identity_of(server.container, account.id)
    assert identity is not None and identity.usable_for_eidas2
    [device] = server.container.devices.devices_of(account.id)
    stored = app_page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open("sesame-app", 1);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              const get = open.result.transaction("devices").objectStore("devices").get("laposte");
              get.onsuccess = () => resolve({
                deviceId: get.result.deviceId,
                extractable: get.result.privateKey.extractable,
                type: get.result.privateKey.type,
                curve: get.result.privateKey.algorithm.namedCurve,
              });
            };
          })"""
    )
    assert stored == {"deviceId": device.id, "extractable": False, "type": "private", "curve": "P-256"}


def test_a_login_on_the_website_approved_in_the_app(
    server: LiveServer, tenant: Tenant, browser: Browser, app_page: Page
) -> None:
    context = computer(browser)
    try:
        site = context.new_page()
        site.goto(f"{server.base_url}/laposte/login/app")
        site.get_by_label("Numéro de mobile").fill(TYPED_MOBILE)
        site.get_by_role("button", name="Continuer").click()
        binding = site.locator("#binding-code")
        expect(binding).to_have_text(re.compile(r"^\d\d$"))
        number = binding.inner_text()

        request = app_page.locator("[data-request-id]")
        expect(request).to_have_count(1)
        expect(request).to_contain_text("La Poste")
        # The app does not give the number away: the card's only digits are the expiry time's (a
        # time on the wall clock, whose hours, minutes or seconds are that number 3 times in 100).
        expiry = request.locator('[data-field="expires"]').inner_text()
        assert re.fullmatch(r"\D*\d\d:\d\d:\d\d\D*", expiry), expiry
        assert not re.search(r"\d", request.inner_text().replace(expiry, "")), "the app does not give the number away"
        request.locator('[data-action="approve"]').click()
        expect(app_page.locator("[data-pad-title]")).to_contain_text("La Poste")
        type_on_pad(app_page, number)
        expect(app_page.locator("[data-pad-title]")).to_have_text("Saisissez votre code secret")
        type_on_pad(app_page, PIN)
        expect(app_page.locator("[data-home-result]")).to_contain_text("Validé")

        # The website saw the approval (server-sent events) and logged the browser in.
        site.wait_for_url(f"{server.base_url}/laposte/account")
        cookie = next(
            c for c in context.cookies() if c["name"] == session_cookie_name(server.container.settings, tenant)
        )
        live = server.container.sessions.resolve(tenant, cookie["value"])
        assert live is not None and live.account.email == EMAIL
        assert live.session.acr == "eidas2" and live.session.amr == ["pop", "pin", "mfa"]
    finally:
        context.close()


def test_a_wrong_number_typed_in_the_app_refuses_the_login(
    server: LiveServer, tenant: Tenant, browser: Browser, app_page: Page
) -> None:
    context = computer(browser)
    try:
        site = context.new_page()
        site.goto(f"{server.base_url}/laposte/login/app")
        site.get_by_label("Numéro de mobile").fill(TYPED_MOBILE)
        site.get_by_role("button", name="Continuer").click()
        number = site.locator("#binding-code").inner_text()
        wrong = "00" if number != "00" else "01"
        request = app_page.locator("[data-request-id]")
        expect(request).to_have_count(1)
        request.locator('[data-action="approve"]').click()
        type_on_pad(app_page, wrong)
        type_on_pad(app_page, PIN)
        expect(app_page.locator("[data-home-result]")).to_contain_text("Ce n'est pas le nombre affiché")
        expect(site.locator("[data-app-login-result]")).to_have_attribute("data-app-login-result", "denied")
        assert not any(c["name"] == session_cookie_name(server.container.settings, tenant) for c in context.cookies())
    finally:
        context.close()

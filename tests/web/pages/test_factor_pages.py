"""Second factors in the web: the account page's list, adding an app by QR code, recovery codes
shown once, removal with a fresh password, the login's second-factor page, passkeys (software
authenticator) with and without a password, and the return to an OpenID Connect client.

Codes are computed with pyotp from the key the page shows, as a person typing it would.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from sesame.services.sessions import session_id_of
from sesame.web.pages.account import offers_factors
from sesame.web.session import session_cookie_name
from tests.methods.totp_support import wrong_code
from tests.methods.webauthn_support import SoftAuthenticator
from tests.protocol.authorize_support import REDIRECT_URI, authorize_query, register

EMAIL = "hugo.marchand@example.fr"
PASSWORD = "Factor-Pages-2026"
ORIGIN = "https://testserver"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_RE = re.compile(r"data-totp-secret>([A-Z2-7 ]+)<")
QR_RE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
OPTIONS_RE = re.compile(r'data-webauthn-options="([^"]+)"')
CODES_RE = re.compile(r"<li><code>([a-z2-9-]{14})</code></li>")
FLOW_RE = re.compile(r"^/laposte/account/factors/[A-Za-z0-9_-]{43}$")


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=EMAIL, given_name="Hugo", family_name="Marchand", verified=True, terms_version="1")
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def options(page: str) -> dict[str, object]:
    match = OPTIONS_RE.search(page)
    assert match, "the page carries WebAuthn options"
    loaded: dict[str, object] = json.loads(html.unescape(match.group(1)))
    return loaded


def login_page(client: TestClient, query: str = "") -> tuple[str, str]:
    started = client.get(f"/laposte/login{query}", follow_redirects=False)
    assert started.status_code == 303
    url = started.headers["location"]
    page = client.get(url)
    assert page.status_code == 200
    return url, page.text


def log_in(client: TestClient, email: str = EMAIL, password: str = PASSWORD, query: str = "") -> httpx.Response:
    url, page = login_page(client, query)
    data = {"csrf_token": csrf(page), "step": "credentials", "identifier": email, "password": password}
    return client.post(url, data=data, follow_redirects=False)


def follow(client: TestClient, response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text[:500]
    return client.get(response.headers["location"], follow_redirects=False)


def start_factor(client: TestClient, path: str) -> tuple[str, str]:
    """Open /laposte/account/factors/...; returns (flow URL, page)."""
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    url = response.headers["location"]
    assert FLOW_RE.fullmatch(url), url
    page = client.get(url)
    assert page.status_code == 200
    return url, page.text


def post(client: TestClient, url: str, page: str, step: str, **fields: str) -> httpx.Response:
    return client.post(url, data={"csrf_token": csrf(page), "step": step, **fields}, follow_redirects=False)


def add_app(client: TestClient, clock: FrozenClock, label: str = "Mon Fairphone") -> str:
    """Add an authenticator app from the account page; returns its key."""
    url, page = start_factor(client, "/laposte/account/factors/new/totp")
    secret_match = SECRET_RE.search(page)
    assert secret_match, "the page shows the key to type by hand"
    secret = secret_match.group(1).replace(" ", "")
    answer = post(client, url, page, "enrol_totp", code=pyotp.TOTP(secret).at(clock.now()), label=label)
    assert follow(client, answer).status_code == 200
    clock.advance(seconds=30)  # the enrolment's code is spent: the next login uses the next one
    return secret


def session_amr(container: Container, client: TestClient, tenant: Tenant) -> list[str]:
    token = client.cookies.get(session_cookie_name(container.settings, tenant))
    assert token
    with container.uow(readonly=True) as uow:
        session = uow.accounts.get_session(session_id_of(token))
    assert session is not None
    return session.amr


def log_out(client: TestClient) -> None:
    page = client.get("/laposte/logout")
    client.post("/laposte/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert client.get("/laposte/account", follow_redirects=False).status_code == 303


def templates(container: Container) -> list[str]:
    return [m.message.template for m in list_messages(container.uow)]


# -- the account page ---------------------------------------------------------------------------------


def test_the_account_page_offers_the_tenants_second_factors(client: TestClient, account: Account) -> None:
    assert log_in(client).headers["location"] == "/laposte/account"
    page = client.get("/laposte/account").text
    assert 'id="factors"' in page and "Vous n’avez pas encore de second facteur." in page
    for kind in ("totp", "passkey", "recovery_codes"):
        assert f'href="/laposte/account/factors/new/{kind}"' in page


def test_adding_an_app_by_qr_code_then_logging_in_with_its_code(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    url, page = start_factor(client, "/laposte/account/factors/new/totp")
    qr = QR_RE.search(page)
    assert qr and Image.open(io.BytesIO(base64.b64decode(qr.group(1)))).format == "PNG"
    secret_match = SECRET_RE.search(page)
    assert secret_match
    secret = secret_match.group(1).replace(" ", "")
    wrong = post(client, url, page, "enrol_totp", code=wrong_code(secret, clock.now()))
    assert 'data-factor-error="wrong_code"' in follow(client, wrong).text
    assert container.factors.factors(account.id) == []
    answer = post(client, url, page, "enrol_totp", code=pyotp.TOTP(secret).at(clock.now()), label="Mon Fairphone")
    assert 'data-factor-done="totp"' in follow(client, answer).text
    listing = client.get("/laposte/account").text
    assert 'data-factor="totp"' in listing and "Mon Fairphone" in listing
    assert "second_factor_added" in templates(container)

    log_out(client)
    clock.advance(seconds=30)
    second = follow(client, log_in(client))
    assert 'data-flow-state="second_factor"' in second.text and "Confirmez qu’il s’agit bien de vous" in second.text
    flow_url = urlsplit(str(second.url)).path
    refused = post(client, flow_url, second.text, "second_factor", action="totp", code=wrong_code(secret, clock.now()))
    assert 'data-factor-error="wrong"' in follow(client, refused).text
    assert client.cookies.get(session_cookie_name(container.settings, tenant)) is None
    done = post(client, flow_url, second.text, "second_factor", action="totp", code=pyotp.TOTP(secret).at(clock.now()))
    assert done.headers["location"] == "/laposte/account"
    assert session_amr(container, client, tenant) == ["pwd", "otp", "mfa"]


def test_recovery_codes_are_shown_once_and_work_at_login(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    add_app(client, clock)
    url, page = start_factor(client, "/laposte/account/factors/new/recovery_codes")
    shown = post(client, url, page, "recovery_codes")
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    codes = CODES_RE.findall(shown.text)
    assert len(codes) == 10
    again = client.get(url).text
    assert not any(code in again for code in codes) and 'data-factor-done="recovery_codes"' in again
    assert "10 codes restants" in client.get("/laposte/account").text

    log_out(client)
    second = follow(client, log_in(client))
    flow_url = urlsplit(str(second.url)).path
    done = post(client, flow_url, second.text, "second_factor", action="recovery_code", recovery_code=codes[0].upper())
    assert done.headers["location"] == "/laposte/account"
    assert "9 codes restants" in client.get("/laposte/account").text


def test_removing_a_factor_after_a_while_asks_for_the_password(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    add_app(client, clock)
    [factor] = container.factors.factors(account.id)
    clock.advance(seconds=tenant.policy.mfa.fresh_auth_seconds + 1)
    url, page = start_factor(client, f"/laposte/account/factors/remove/{factor.id}")
    assert 'data-flow-state="reauthenticate"' in page
    wrong = post(client, url, page, "reauthenticate", current_password="Wrong-Password-1")
    assert wrong.status_code == 400 and container.factors.factors(account.id) != []
    confirm = follow(client, post(client, url, page, "reauthenticate", current_password=PASSWORD))
    assert 'data-flow-state="confirm_removal"' in confirm.text and "Mon Fairphone" in confirm.text
    done = follow(client, post(client, url, confirm.text, "confirm_removal"))
    assert 'data-factor-done="removed"' in done.text
    assert container.factors.factors(account.id) == []
    assert templates(container)[0] == "second_factor_removed"


def test_another_accounts_factor_cannot_be_removed(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    add_app(client, clock)
    [factor] = container.factors.factors(account.id)
    log_out(client)
    other = NewAccount(email="autre@example.fr", given_name="A", family_name="B", verified=True, terms_version="1")
    container.accounts.create(tenant, other, PASSWORD, RequestContext(actor="test"))
    log_in(client, "autre@example.fr")
    response = client.get(f"/laposte/account/factors/remove/{factor.id}", follow_redirects=False)
    assert response.headers["location"] == "/laposte/account?notice=factor_unavailable#factors"
    assert len(container.factors.factors(account.id)) == 1


def test_factor_pages_need_a_login_and_a_valid_form(
    client: TestClient, container: Container, clock: FrozenClock, account: Account
) -> None:
    response = client.get("/laposte/account/factors/new/totp", follow_redirects=False)
    assert response.headers["location"].startswith("/laposte/login?return_to=")
    log_in(client)
    url, _page = start_factor(client, "/laposte/account/factors/new/totp")
    forged = client.post(url, data={"step": "enrol_totp", "code": "123456"}, follow_redirects=False)
    assert forged.status_code == 403
    unknown = client.get("/laposte/account/factors/new/sms", follow_redirects=False)
    assert unknown.headers["location"] == "/laposte/account?notice=factor_unavailable#factors"
    missing = client.get("/laposte/account/factors/" + "x" * 43, follow_redirects=False)
    assert missing.headers["location"] == "/laposte/account?notice=factor_unavailable#factors"
    notice = client.get(missing.headers["location"]).text
    assert 'data-notice="factor_unavailable"' in notice and "rien n’a été changé" in notice


def test_only_password_logins_manage_factors_here(container: Container, tenant: Tenant) -> None:
    """The bank's keypad login has its own flow, which does not ask for these factors."""
    assert offers_factors(tenant)
    assert not offers_factors(container.tenants.get("banque"))
    container.tenants.update_policy("laposte", {"mfa": {"second_factors": []}})
    assert not offers_factors(container.tenants.get("laposte"))


# -- passkeys ------------------------------------------------------------------------------------------


def add_passkey(client: TestClient, device: SoftAuthenticator) -> None:
    url, page = start_factor(client, "/laposte/account/factors/new/passkey")
    assert 'data-webauthn="register"' in page and "webauthn.js" in page
    answer = post(client, url, page, "register_passkey", credential=device.register(options(page)), label="Portable")
    assert 'data-factor-done="passkey"' in follow(client, answer).text


def test_the_login_page_offers_passkeys_and_their_autofill(client: TestClient) -> None:
    _url, page = login_page(client)
    assert 'autocomplete="username webauthn"' in page
    assert 'data-webauthn="login"' in page and "Se connecter avec une clé d’accès" in page
    offered = options(page)
    assert offered["rpId"] == "testserver" and offered["allowCredentials"] == []
    assert offered["userVerification"] == "required"


def test_a_passkey_registered_on_the_account_page_logs_in_without_password(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    device = SoftAuthenticator(ORIGIN)
    add_passkey(client, device)
    assert 'data-factor="passkey"' in client.get("/laposte/account").text
    log_out(client)
    url, page = login_page(client)
    answer = client.post(
        url,
        data={
            "csrf_token": csrf(page),
            "step": "credentials",
            "action": "passkey",
            "credential": device.assertion(options(page)),
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/laposte/account"
    assert session_amr(container, client, tenant) == ["hwk", "mfa"]


def test_a_passkey_from_another_site_does_not_log_in(client: TestClient, account: Account) -> None:
    log_in(client)
    device = SoftAuthenticator(ORIGIN)
    add_passkey(client, device)
    log_out(client)
    url, page = login_page(client)
    phished = device.assertion(options(page), origin="https://testserver.evil.example")
    answer = client.post(
        url,
        data={"csrf_token": csrf(page), "step": "credentials", "action": "passkey", "credential": phished},
        follow_redirects=False,
    )
    assert 'data-passkey-error="wrong"' in follow(client, answer).text
    assert client.get("/laposte/account", follow_redirects=False).status_code == 303


def test_a_passkey_as_second_factor_after_the_password(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    device = SoftAuthenticator(ORIGIN, user_verifying=False)
    add_passkey(client, device)
    log_out(client)
    second = follow(client, log_in(client))
    assert 'data-webauthn="assert"' in second.text
    flow_url = urlsplit(str(second.url)).path
    answer = post(
        client,
        flow_url,
        second.text,
        "second_factor",
        action="passkey",
        credential=device.assertion(options(second.text)),
    )
    assert answer.headers["location"] == "/laposte/account"
    assert session_amr(container, client, tenant) == ["pwd", "hwk", "mfa"]


# -- OpenID Connect: the login with a second factor hands back to the authorization flow ------------------


def test_the_second_factor_login_resumes_the_authorization_request(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account: Account
) -> None:
    log_in(client)
    secret = add_app(client, clock)
    log_out(client)
    service = register(container, tenant, "La Poste – suivi", skip_consent=True)
    started = client.get(f"/laposte/authorize?{authorize_query(service)}", follow_redirects=False)
    login_url = started.headers["location"]
    assert login_url.startswith("/laposte/login?")
    answer = log_in(client, query=login_url.removeprefix("/laposte/login"))
    second = follow(client, answer)
    assert 'data-flow-state="second_factor"' in second.text
    flow_url = urlsplit(str(second.url)).path
    done = post(client, flow_url, second.text, "second_factor", action="totp", code=pyotp.TOTP(secret).at(clock.now()))
    resume = done.headers["location"]
    assert resume.startswith("/laposte/authorize/")
    back = client.get(resume, follow_redirects=False)
    target = back.headers["location"]
    assert target.startswith(REDIRECT_URI) and "code" in parse_qs(urlsplit(target).query)

"""The login page's "Utiliser l'Identité Numérique" (seed 000): shown where the tenant offers the
phone app, it leads to the app's login with the flow's ``return_to``, so that what the person was
doing (an OpenID Connect interaction, say) resumes after an app login."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.web.pages.app_login import app_login_url
from sesame.web.pages.login import app_login_link
from sesame.web.session import session_cookie_name
from tests.app_support import CTX, MOBILE, SoftDevice, activate, verified_account

EMAIL = "louise.app@example.fr"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(r'<div class="alternative-login" data-app-login>.*?<a [^>]*href="([^"]+)"', re.S)
RESUME = "/laposte/authorize/flow-of-a-partner?x=1"


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def soft(container: Container, tenant: Tenant) -> SoftDevice:
    verified_account(container, tenant, EMAIL)
    return activate(container, tenant, EMAIL)[1]


def login_page(client: TestClient, query: str = "", tenant: str = "laposte") -> str:
    start = client.get(f"/{tenant}/login{query}", follow_redirects=False)
    assert start.status_code == 303, start.text
    page = client.get(start.headers["location"])
    assert page.status_code == 200
    return page.text


def app_link(page: str) -> str | None:
    match = LINK_RE.search(page)
    return html.unescape(match.group(1)) if match else None


def test_the_login_page_offers_the_digital_identity_in_french(client: TestClient, tenant: Tenant) -> None:
    page = login_page(client)
    assert "Utiliser l'Identité Numérique" in html.unescape(page)
    assert app_link(page) == "/laposte/login/app" == app_login_url(tenant)


def test_and_in_english(client: TestClient) -> None:
    page = login_page(client, "?lang=en")
    assert "Use the Digital Identity" in page and app_link(page) == "/laposte/login/app"


def test_a_tenant_without_the_app_shows_no_such_button(client: TestClient, container: Container) -> None:
    page = login_page(client, tenant="poste-ch")
    assert app_link(page) is None and "Use the Digital Identity" not in page
    assert app_login_link(container.tenants.get("poste-ch"), "/poste-ch/account") == ""


def test_the_link_keeps_return_to_and_stays_on_the_site(client: TestClient, tenant: Tenant) -> None:
    query = "?return_to=" + "%2Flaposte%2Fauthorize%2Fflow-of-a-partner%3Fx%3D1"
    assert app_link(login_page(client, query)) == app_login_url(tenant, RESUME)
    # Another site's address becomes a path of ours, here as for the password login.
    assert app_link(login_page(client, "?return_to=//evil.example/steal")) == app_login_url(
        tenant, "/evil.example/steal"
    )


def test_a_refused_password_keeps_the_button(client: TestClient) -> None:
    start = client.get("/laposte/login?return_to=/laposte/account", follow_redirects=False)
    url = start.headers["location"]
    token = CSRF_RE.search(client.get(url).text)
    assert token
    refused = client.post(
        url,
        data={"csrf_token": token.group(1), "step": "credentials", "identifier": EMAIL, "password": "Wrong-1234"},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert app_link(refused.text) == "/laposte/login/app?return_to=%2Flaposte%2Faccount"


def test_a_fresh_login_asked_stays_asked(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    """``prompt=login`` (a partner's step-up to eidas2): the app's login asks too, even when a
    session is open, instead of sending the person straight back to where a new login is needed."""
    link = app_link(login_page(client, "?return_to=/laposte/account&prompt=login"))
    assert link == "/laposte/login/app?return_to=%2Flaposte%2Faccount&prompt=login"
    client.cookies.set(session_cookie_name(container.settings, tenant), _session_token(container, tenant))
    assert client.get(link, follow_redirects=False).status_code == 200  # the number is asked
    # Without it, a logged-in person just goes on.
    plain = client.get("/laposte/login/app?return_to=%2Flaposte%2Faccount", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/laposte/account"


def test_an_app_login_from_the_button_comes_back_where_the_person_was_going(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    link = app_link(login_page(client, "?return_to=%2Flaposte%2Fauthorize%2Fflow-of-a-partner%3Fx%3D1"))
    assert link is not None
    number_page = client.get(link)
    assert number_page.status_code == 200
    assert f'name="return_to" value="{html.escape(RESUME)}"' in number_page.text
    token = CSRF_RE.search(number_page.text)
    assert token
    asked = client.post(
        "/laposte/login/app",
        data={"csrf_token": token.group(1), "mobile": MOBILE, "return_to": RESUME},
        follow_redirects=False,
    )
    wait = asked.headers["location"]
    request_id = wait.split("?")[0].rsplit("/", 1)[1]
    with container.uow(readonly=True) as uow:
        request = uow.approvals.get(request_id)
    assert request is not None
    assert container.approvals.decide(tenant, soft.answer(request), CTX).ok
    wait_page = client.get(wait)
    finished = client.post(
        wait.split("?")[0],
        data={"csrf_token": CSRF_RE.search(wait_page.text).group(1), "return_to": RESUME},  # type: ignore[union-attr]
        follow_redirects=False,
    )
    assert finished.status_code == 303 and finished.headers["location"] == RESUME
    live = container.sessions.resolve(tenant, client.cookies.get(session_cookie_name(container.settings, tenant)))
    assert live is not None and live.account.email == EMAIL and live.session.acr == "eidas2"


def _session_token(container: Container, tenant: Tenant) -> str:
    with container.uow() as uow:
        account = uow.accounts.by_email(tenant.id, EMAIL)
        assert account is not None
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="203.0.113.9", user_agent="t"
        )
        uow.commit()
    return opened.token

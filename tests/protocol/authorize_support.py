"""Shared by the authorization endpoint's tests: the demo tenant laposte with its demo account,
registered clients, the real login flow driven with TestClient, and the client's side of the
answer (the redirect to its redirect URI, parsed).

The browser is a TestClient over ``https://testserver`` that never follows redirects by itself:
each test follows them where a browser would, and looks at where they lead.
"""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from sesame.bootstrap import Container
from sesame.domain.audit import AuditRecord
from sesame.domain.tenants import Tenant
from sesame.oidc.models import AuthorizationCode, Grant, OidcClient
from sesame.oidc.tokens import hash_token
from sesame.services.demo import DEMO_PASSWORD, load_demo, load_demo_accounts
from sesame.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BASE_URL = "https://testserver"
ISSUER = f"{BASE_URL}/laposte"
EMAIL = "marie.dupont@example.fr"
PASSWORD = DEMO_PASSWORD
REDIRECT_URI = "https://rp.example/callback"
STATE = "af0ifjsldkj"
NONCE = "n-0S6_WzA2Mj"
ALL_SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access", "given_name", "birthdate")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_FLOW_RE = re.compile(r"^/laposte/login/[A-Za-z0-9_-]{43}$")
RESUME_RE = re.compile(r"^/laposte/authorize/[A-Za-z0-9_-]{43}$")


# -- fixtures ----------------------------------------------------------------------------------------


def demo_app(container: Container) -> FastAPI:
    """The app over the demo data: the three tenants, and marie.dupont@example.fr at laposte."""
    load_demo(container.tenants)
    load_demo_accounts(container.tenants, container.accounts)
    return create_app(container)


@pytest.fixture
def app(container: Container) -> FastAPI:
    return demo_app(container)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        yield client


@pytest.fixture
def laposte(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def rp(container: Container, laposte: Tenant) -> OidcClient:
    """A confidential partner service that may ask for every scope, with refresh tokens."""
    return register(container, laposte)


def register(container: Container, tenant: Tenant, name: str = "Impots.gouv", **options: Any) -> OidcClient:
    options.setdefault("scopes", ALL_SCOPES)
    client, _secret = container.oidc_clients.create(tenant, name, [REDIRECT_URI], **options)
    return client


# -- the authorization request ---------------------------------------------------------------------------


def authorize_query(client: OidcClient, **params: str | None) -> str:
    """The query of an authorization request; a parameter given as None is left out."""
    defaults: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": STATE,
        "nonce": NONCE,
    }
    defaults.update(params)
    return urlencode([(name, value) for name, value in defaults.items() if value is not None])


def authorize(browser: TestClient, client: OidcClient, **params: str | None) -> httpx.Response:
    return browser.get(f"/laposte/authorize?{authorize_query(client, **params)}")


def pkce_pair(verifier: str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") -> tuple[str, str]:
    """(verifier, S256 challenge): the example of RFC 7636 appendix B."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- the client's side ---------------------------------------------------------------------------------


def location(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    return response.headers["location"]


def callback(response: httpx.Response) -> dict[str, str]:
    """The parameters the client receives at its redirect URI (asserts it is sent there)."""
    target = location(response)
    assert target.startswith(REDIRECT_URI + "?"), target
    parsed = parse_qs(urlsplit(target).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values()), parsed
    return {name: values[0] for name, values in parsed.items()}


def assert_error(response: httpx.Response, error: str, *, state: str | None = STATE) -> dict[str, str]:
    """An error redirected to the client, with state and iss (RFC 9207)."""
    params = callback(response)
    assert params["error"] == error, params
    assert params["iss"] == ISSUER
    assert params.get("state") == state
    assert params["error_description"]
    assert "code" not in params
    return params


def assert_code(response: httpx.Response, *, state: str | None = STATE) -> str:
    """A successful answer: code, state and iss; returns the code."""
    params = callback(response)
    assert set(params) == ({"code", "state", "iss"} if state is not None else {"code", "iss"}), params
    assert params["iss"] == ISSUER and params.get("state") == state
    assert len(params["code"]) >= 43
    return params["code"]


def stored_code(container: Container, code: str) -> tuple[AuthorizationCode, Grant]:
    """The code's row and its grant, as the token endpoint will find them (read, then rolled back)."""
    with container.uow() as uow:
        row = uow.oidc.use_code(hash_token(code), container.clock.now())
        assert row is not None and row.used_at is None, "the code is stored, unused"
        grant = uow.oidc.get_grant(row.grant_id)
        assert grant is not None
        uow.rollback()
    return row, grant


# -- the person's side: the login flow and the pages -------------------------------------------------


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def is_login_page(response: httpx.Response) -> bool:
    return location(response).startswith("/laposte/login?")


def log_in(browser: TestClient, login_url: str, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    """Drive the real login flow from ``login_url``; returns the answer to the credentials (a
    redirect to where the login page was told to return)."""
    started = browser.get(login_url)
    flow_url = location(started)
    assert LOGIN_FLOW_RE.fullmatch(flow_url), flow_url
    page = browser.get(flow_url)
    assert page.status_code == 200, page.text[:500]
    data = {"csrf_token": csrf_token(page.text), "step": "credentials", "identifier": email, "password": password}
    return browser.post(flow_url, data=data)


def log_in_directly(browser: TestClient, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Open a session in this browser from the tenant's own login page."""
    answer = log_in(browser, "/laposte/login", email, password)
    assert location(answer) == "/laposte/account"


def login_then_back(browser: TestClient, response: httpx.Response, email: str = EMAIL) -> httpx.Response:
    """From the authorization endpoint's redirect to the login page: log in, then come back to the
    authorization flow; returns the flow's answer."""
    answer = log_in(browser, location(response), email)
    back = location(answer)
    assert RESUME_RE.fullmatch(back), back
    return browser.get(back)


def consent_page(browser: TestClient, response: httpx.Response) -> tuple[str, httpx.Response]:
    """Follow a redirect to the consent page; returns (its URL, the page)."""
    url = location(response)
    assert RESUME_RE.fullmatch(url), url
    page = browser.get(url)
    assert page.status_code == 200 and 'data-oidc-page="consent"' in page.text, page.text[:500]
    return url, page


def answer_consent(browser: TestClient, url: str, page: httpx.Response, action: str) -> httpx.Response:
    return browser.post(url, data={"csrf_token": csrf_token(page.text), "action": action})


def consent_items(page: httpx.Response) -> list[str]:
    return re.findall(r'data-consent-item="([^"]+)"', page.text)


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    return [record.event.type for record in audit_records(container, tenant)]


def audit_records(container: Container, tenant: Tenant) -> Sequence[AuditRecord]:
    with container.uow(readonly=True) as uow:
        return uow.audit.chain(tenant.id)

"""Shared by the logout tests: the demo tenants, partner services registered for logout, and a
person signed in to them through the real login, authorization and token endpoints.

The browser is a TestClient over ``https://testserver`` that follows no redirect by itself; the
client's side checks tokens as a client library would, against the tenant's ``jwks_uri``.
"""

from __future__ import annotations

import base64
import html
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import orjson
import pytest
from fastapi import FastAPI
from joserfc import jws
from joserfc.jwk import KeySet
from starlette.exceptions import StarletteDeprecationWarning

from sesame.bootstrap import Container
from sesame.domain.accounts import BrowserSession
from sesame.domain.messages import Channel, StoredMessage
from sesame.domain.tenants import Tenant
from sesame.oidc.models import OidcClient
from sesame.services.demo import DEMO_PASSWORD, load_demo, load_demo_accounts
from sesame.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BASE_URL = "https://testserver"
REDIRECT_URI = "https://rp.example/callback"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: RFC 7636 appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
ISSUER = f"{BASE_URL}/laposte"
POST_LOGOUT_URI = "https://rp.example/logged-out"
STATE = "bye-3kd9"
DEMO_EMAILS = {"laposte": "marie.dupont@example.fr", "poste-ch": "anna.muster@example.ch"}


@dataclass(frozen=True)
class Partner:
    """A registered client, with the secret its developer was shown once."""

    client: OidcClient
    secret: str

    @property
    def client_id(self) -> str:
        return self.client.client_id


@dataclass(frozen=True)
class SignedIn:
    """What a client holds once the person signed in: the token response."""

    partner: Partner
    id_token: str
    access_token: str
    refresh_token: str | None


# -- small helpers -----------------------------------------------------------------------------------


def location(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    return response.headers["location"]


def csrf_token(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: each part form-urlencoded, then base64."""
    return "Basic " + base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [record.event.type for record in uow.audit.chain(tenant.id)]


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def app(container: Container) -> FastAPI:
    load_demo(container.tenants)
    load_demo_accounts(container.tenants, container.accounts)
    return create_app(container)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        yield client


@pytest.fixture
def laposte(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def rp(container: Container, laposte: Tenant) -> Partner:
    """A partner with a post-logout redirect URI (and no back-channel logout)."""
    return register(container, laposte, "Impots.gouv", post_logout_redirect_uris=[POST_LOGOUT_URI])


def register(container: Container, tenant: Tenant, name: str, **options: Any) -> Partner:
    options.setdefault("skip_consent", True)
    options.setdefault("scopes", ("openid", "profile", "email", "offline_access"))
    client, secret = container.oidc_clients.create(tenant, name, [REDIRECT_URI], **options)
    assert secret is not None
    return Partner(client, secret)


# -- signing in, as a person and a client would ---------------------------------------------------------


def log_in_at(browser: TestClient, tenant_slug: str = "laposte") -> None:
    """The tenant's real login flow with its demo account, in this browser."""
    flow_url = location(browser.get(f"/{tenant_slug}/login"))
    assert flow_url.startswith(f"/{tenant_slug}/login/"), flow_url
    page = browser.get(flow_url)
    assert page.status_code == 200, page.text[:500]
    form = {
        "csrf_token": csrf_token(page.text),
        "step": "credentials",
        "identifier": DEMO_EMAILS[tenant_slug],
        "password": DEMO_PASSWORD,
    }
    assert location(browser.post(flow_url, data=form)) == f"/{tenant_slug}/account"


def sign_in(
    browser: TestClient, partner: Partner, *, scope: str = "openid profile", tenant_slug: str = "laposte"
) -> SignedIn:
    """The authorization code flow with PKCE for a browser already logged in at the tenant
    (consent given when asked), then the code exchanged for tokens by the partner."""
    verifier, challenge = VERIFIER, CHALLENGE
    query = httpx.QueryParams(
        {
            "response_type": "code",
            "client_id": partner.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": "st",
            "nonce": "nc",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    answer = browser.get(f"/{tenant_slug}/authorize?{query}")
    if location(answer).startswith(f"/{tenant_slug}/authorize/"):
        url, page = consent_page_at(browser, answer)
        answer = browser.post(url, data={"csrf_token": csrf_token(page.text), "action": "approve"})
    target = location(answer)
    assert target.startswith(REDIRECT_URI + "?"), target
    params = {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()}
    assert params["iss"] == f"{BASE_URL}/{tenant_slug}" and params["state"] == "st", params
    response = browser.post(
        f"/{tenant_slug}/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": basic(partner.client_id, partner.secret)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return SignedIn(partner, body["id_token"], body["access_token"], body.get("refresh_token"))


def consent_page_at(browser: TestClient, answer: httpx.Response) -> tuple[str, httpx.Response]:
    url = location(answer)
    page = browser.get(url)
    assert page.status_code == 200 and 'data-oidc-page="consent"' in page.text, page.text[:500]
    return url, page


def refresh(browser: TestClient, signed_in: SignedIn, tenant_slug: str = "laposte") -> httpx.Response:
    assert signed_in.refresh_token is not None
    partner = signed_in.partner
    return browser.post(
        f"/{tenant_slug}/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in.refresh_token},
        headers={"Authorization": basic(partner.client_id, partner.secret)},
    )


# -- the client's checks ---------------------------------------------------------------------------------


def jwks(browser: TestClient, tenant_slug: str = "laposte") -> KeySet:
    response = browser.get(f"/{tenant_slug}/jwks")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def verified(browser: TestClient, token: str, tenant_slug: str = "laposte") -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT, its signature checked with the key of the JWKS its kid names."""
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    obj = jws.deserialize_compact(token, jwks(browser, tenant_slug).get_by_kid(kid), algorithms=["ES256", "RS256"])
    return dict(obj.headers()), orjson.loads(obj.payload)


def claims_of(browser: TestClient, token: str) -> dict[str, Any]:
    return verified(browser, token)[1]


# -- the person's side ----------------------------------------------------------------------------------


def live_sessions(container: Container, tenant: Tenant) -> Sequence[BrowserSession]:
    with container.uow(readonly=True) as uow:
        account = uow.accounts.by_email(tenant.id, DEMO_EMAILS[tenant.slug])
        assert account is not None
        return uow.accounts.sessions_of(account.id, container.clock.now())


def logged_in(browser: TestClient, tenant_slug: str = "laposte") -> bool:
    """Whether the browser's session still opens the account page."""
    response = browser.get(f"/{tenant_slug}/account")
    return response.status_code == 200


def confirm_form(page: httpx.Response) -> dict[str, str]:
    """The hidden fields of the logout confirmation form, with its CSRF token."""
    assert page.status_code == 200 and 'data-oidc-page="logout-confirm"' in page.text, page.text[:500]
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page.text))
    fields["csrf_token"] = csrf_token(page.text)
    return {name: _unescape(value) for name, value in fields.items()}


def _unescape(value: str) -> str:
    return html.unescape(value)


# -- the outbox ---------------------------------------------------------------------------------------


def backchannel_messages(container: Container) -> list[StoredMessage]:
    """Every back-channel logout queued, oldest first."""
    with container.uow(readonly=True) as uow:
        messages = uow.outbox.list(limit=1000)
    found = [m for m in messages if m.channel is Channel.HTTP and m.template == "backchannel_logout"]
    return sorted(found, key=lambda m: m.id)


def logout_token_of(message: StoredMessage) -> str:
    assert message.body_text is not None
    fields = orjson.loads(message.body_text)
    assert set(fields) == {"logout_token"}
    token: str = fields["logout_token"]
    return token

"""Shared by the token endpoint's tests: a tenant, a person logged in, registered clients, and a
grant with its code made through the repository as the authorization endpoint makes them.

The client's side is played as a client library would: HTTP requests to the endpoints, and
tokens verified with joserfc against the document at the tenant's ``jwks_uri``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson
import pytest
from fastapi import FastAPI
from joserfc import jws
from joserfc.jwk import KeySet
from starlette.exceptions import StarletteDeprecationWarning

from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc.models import AuthorizationCode, Grant, OidcClient
from sesame.oidc.tokens import hash_token, new_token
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.sessions import SessionService
from sesame.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BASE_URL = "https://testserver"
ISSUER = f"{BASE_URL}/laposte"
TOKEN_URL = "/laposte/token"
REDIRECT_URI = "https://rp.example/callback"
NONCE = "n-0S6_WzA2Mj"
PASSWORD = "Vxq7-Lmpa-Rtz-2026"
#: RFC 7636 appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access")


@dataclass(frozen=True)
class Registered:
    """A client as its developer holds it: the registration and the secret shown once."""

    client: OidcClient
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email="camille.martin@example.fr", given_name="Camille", family_name="Martin", verified=True)
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


@pytest.fixture
def session(container: Container, tenant: Tenant, account: Account) -> BrowserSession:
    return open_session(container, tenant, account)


@pytest.fixture
def app(container: Container, tenant: Tenant) -> FastAPI:
    return create_app(container)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        yield client


@pytest.fixture
def rp(container: Container, tenant: Tenant) -> Registered:
    """A confidential partner service (client_secret_basic) with refresh tokens."""
    return register(container, tenant)


# -- making things as the other endpoints would ---------------------------------------------------------


def register(container: Container, tenant: Tenant, name: str = "Impots.gouv", **options: Any) -> Registered:
    options.setdefault("scopes", SCOPES)
    redirect_uris = [REDIRECT_URI] if "client_credentials" not in options.get("grant_types", ()) else []
    client, secret = container.oidc_clients.create(tenant, name, redirect_uris, **options)
    return Registered(client, secret)


def open_session(container: Container, tenant: Tenant, account: Account) -> BrowserSession:
    """A browser session as the password login opens it (acr eidas1, amr pwd)."""
    now = container.clock.now()
    with container.uow() as uow:
        opened = SessionService.open(
            uow, account, tenant, now, acr="eidas1", amr=["pwd"], ip="192.0.2.1", user_agent="t"
        )
        uow.commit()
    return opened.session


def issue_code(
    container: Container,
    registered: Registered,
    account: Account,
    session: BrowserSession,
    *,
    scope: str = "openid profile email",
    challenge: str | None = CHALLENGE,
    offline: bool = False,
    claims: Mapping[str, Any] | None = None,
    nonce: str | None = NONCE,
) -> tuple[str, Grant]:
    """A grant and its code, stored in one unit of work as the authorization endpoint stores them."""
    now, client = container.clock.now(), registered.client
    grant = Grant(
        id=secrets.token_urlsafe(24),
        tenant_id=client.tenant_id,
        client_id=client.client_id,
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(seconds=client.metadata.refresh_token_lifetime_seconds),
        account_id=account.id,
        session_id=None if offline else session.id,
        claims=dict(claims or {}),
        acr=session.acr,
        amr=list(session.amr),
        auth_time=session.auth_time,
        nonce=nonce,
    )
    code = new_token()
    with container.uow() as uow:
        uow.oidc.add_grant(grant)
        uow.oidc.add_code(
            AuthorizationCode(
                code_hash=hash_token(code),
                grant_id=grant.id,
                client_id=client.client_id,
                redirect_uri=REDIRECT_URI,
                created_at=now,
                expires_at=now + timedelta(seconds=60),
                code_challenge=challenge,
                code_challenge_method="S256" if challenge else None,
            )
        )
        uow.commit()
    return code, grant


# -- the client's side ----------------------------------------------------------------------------------


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: each part form-urlencoded, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def authenticated(registered: Registered) -> tuple[dict[str, str], dict[str, str]]:
    """(form fields, headers) that authenticate the client with its registered method."""
    method = registered.client.token_endpoint_auth_method.value
    if method == "client_secret_basic":
        assert registered.secret is not None
        return {}, {"Authorization": basic(registered.client_id, registered.secret)}
    if method == "client_secret_post":
        assert registered.secret is not None
        return {"client_id": registered.client_id, "client_secret": registered.secret}, {}
    if method == "none":
        return {"client_id": registered.client_id}, {}
    raise AssertionError(f"sign an assertion yourself for {method}")


def post(http: TestClient | httpx.Client, path: str, registered: Registered, **form: str) -> httpx.Response:
    fields, headers = authenticated(registered)
    return http.post(path, data={**fields, **form}, headers=headers)


def exchange(http: TestClient, registered: Registered, code: str, verifier: str | None = VERIFIER) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    return post(http, TOKEN_URL, registered, **form)


def tokens(http: TestClient, registered: Registered, code: str, verifier: str | None = VERIFIER) -> dict[str, Any]:
    response = exchange(http, registered, code, verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(http: TestClient, registered: Registered, refresh_token: str, **form: str) -> httpx.Response:
    return post(http, TOKEN_URL, registered, grant_type="refresh_token", refresh_token=refresh_token, **form)


def userinfo(http: TestClient, access_token: str) -> httpx.Response:
    return http.get("/laposte/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def introspect(http: TestClient, registered: Registered, token: str) -> dict[str, Any]:
    response = post(http, "/laposte/introspect", registered, token=token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def jwks(http: TestClient) -> KeySet:
    """The tenant's keys as a client gets them: from the jwks_uri."""
    response = http.get("/laposte/jwks")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def verify(http: TestClient, token: str, *, typ: str) -> dict[str, Any]:
    """A client's check of a JWT we issued: signature by a key of our JWKS (chosen by kid), and typ."""
    obj = jws.deserialize_compact(token, jws_key(http, token), algorithms=["ES256", "RS256"])
    assert obj.headers()["typ"] == typ
    claims: dict[str, Any] = orjson.loads(obj.payload)
    return claims


def jws_key(http: TestClient, token: str) -> Any:
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    return jwks(http).get_by_kid(kid)


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [record.event.type for record in uow.audit.chain(tenant.id)]

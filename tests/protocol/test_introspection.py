"""Token introspection (RFC 7662): authenticated clients only, each seeing only its own tokens,
access tokens and refresh tokens alike; anything else is ``{"active": false}``."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from tests.protocol.tokens_support import (
    ISSUER,
    Registered,
    account,
    app,
    http,
    introspect,
    issue_code,
    post,
    register,
    rp,
    session,
    tenant,
    tokens,
    verify,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures

URL = "/laposte/introspect"


def issued(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> dict[str, str]:
    return tokens(http, rp, issue_code(container, rp, account, session)[0])


def test_an_active_access_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    response = post(http, URL, rp, token=body["access_token"], token_type_hint="access_token")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    described = response.json()
    claims = verify(http, body["access_token"], typ="at+jwt")
    assert described == {
        "active": True,
        "token_type": "Bearer",
        "scope": "openid profile email",
        "client_id": rp.client_id,
        "sub": claims["sub"],
        "aud": rp.client_id,
        "iss": ISSUER,
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
        "auth_time": claims["auth_time"],
        "acr": "eidas1",
    }


def test_an_active_refresh_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    described = introspect(http, rp, body["refresh_token"])
    assert described["active"] is True
    assert described["client_id"] == rp.client_id and described["scope"] == "openid profile email"
    assert described["sub"] == verify(http, body["access_token"], typ="at+jwt")["sub"]
    assert described["iss"] == ISSUER
    assert described["exp"] > described["iat"]


def test_another_clients_tokens_look_inactive(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    other = register(container, tenant, "Ameli")
    assert introspect(http, other, body["access_token"]) == {"active": False}
    assert introspect(http, other, body["refresh_token"]) == {"active": False}
    assert introspect(http, rp, body["access_token"])["active"] is True


def test_unknown_expired_and_rotated_tokens_are_inactive(
    http: TestClient,
    container: Container,
    clock: FrozenClock,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    body = issued(http, container, rp, account, session)
    assert introspect(http, rp, "not-a-token") == {"active": False}
    assert introspect(http, rp, "a.b.c") == {"active": False}
    rotated = post(http, "/laposte/token", rp, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert rotated.status_code == 200
    assert introspect(http, rp, body["refresh_token"]) == {"active": False}
    assert introspect(http, rp, rotated.json()["refresh_token"])["active"] is True
    clock.advance(seconds=rp.client.metadata.access_token_lifetime_seconds)
    assert introspect(http, rp, body["access_token"]) == {"active": False}


def test_only_authenticated_clients(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    anonymous = http.post(URL, data={"token": body["access_token"]})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    public = register(container, tenant, "Mobile app", public=True)
    refused = post(http, URL, public, token=body["access_token"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    missing = post(http, URL, rp)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert http.post(URL, json={"token": "x"}).status_code == 400

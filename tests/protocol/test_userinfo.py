"""The UserInfo endpoint (OpenID Connect Core §5.3): GET and POST, a Bearer token in the header or
the form (never both), the claims of the scopes and of the ``claims`` parameter, and RFC 6750 errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.services.context import RequestContext
from tests.protocol.tokens_support import (
    Registered,
    account,
    app,
    http,
    issue_code,
    rp,
    session,
    tenant,
    tokens,
    userinfo,
    verify,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures

URL = "/laposte/userinfo"


def access_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession, **options: object
) -> dict[str, str]:
    code, _grant = issue_code(container, rp, account, session, **options)  # type: ignore[arg-type]
    return tokens(http, rp, code)


def test_get_with_a_bearer_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    issued = access_token(http, container, rp, account, session, scope="openid profile email")
    response = userinfo(http, issued["access_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    claims = response.json()
    assert claims == {
        "sub": verify(http, issued["id_token"], typ="JWT")["sub"],
        "name": "Camille Martin",
        "locale": "fr",
        "updated_at": int(account.updated_at.timestamp()),
        "email": "camille.martin@example.fr",
        "email_verified": True,
    }
    # the French identity set comes only from a verified identity, never from the profile
    assert "given_name" not in claims and "family_name" not in claims


def test_post_with_the_token_in_the_form(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    issued = access_token(http, container, rp, account, session, scope="openid email")
    response = http.post(URL, data={"access_token": issued["access_token"]})
    assert response.status_code == 200
    assert set(response.json()) == {"sub", "email", "email_verified"}
    by_header = http.post(URL, headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert by_header.status_code == 200


def test_the_token_only_once(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    token = access_token(http, container, rp, account, session)["access_token"]
    response = http.post(URL, data={"access_token": token}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_request"


def test_without_a_token(http: TestClient, tenant: Tenant) -> None:
    response = http.get(URL)
    assert response.status_code == 401
    # RFC 6750 §3.1: no error code when the request had no authentication at all
    assert response.headers["www-authenticate"] == 'Bearer realm="laposte"'
    # never in the query string (it would end up in logs and browser history)
    assert http.get(URL + "?access_token=anything").status_code == 401
    assert http.get(URL, headers={"Authorization": "Basic YTpi"}).status_code == 400


def test_only_sub_with_openid_alone_and_claims_asked_by_the_claims_parameter(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    bare = access_token(http, container, rp, account, session, scope="openid")
    assert set(userinfo(http, bare["access_token"]).json()) == {"sub"}
    claims = {"userinfo": {"email": {"essential": True}, "birthdate": None}}
    asked = access_token(http, container, rp, account, session, scope="openid", claims=claims)
    assert set(userinfo(http, asked["access_token"]).json()) == {"sub", "email"}


def test_an_expired_token(
    http: TestClient,
    container: Container,
    clock: FrozenClock,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    token = access_token(http, container, rp, account, session)["access_token"]
    clock.advance(seconds=rp.client.metadata.access_token_lifetime_seconds)
    response = userinfo(http, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="laposte", error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


def test_a_token_of_a_locked_account(
    http: TestClient,
    container: Container,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    token = access_token(http, container, rp, account, session)["access_token"]
    assert account.email is not None
    container.accounts.lock(tenant, account.email, "fraud suspected", RequestContext(actor="support:alice"))
    response = userinfo(http, token)
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]

"""Token revocation (RFC 7009): authenticated clients only, each revoking only its own tokens; 200
for unknown tokens; a refresh token takes its grant with it, an access token only itself."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from tests.protocol.tokens_support import (
    Registered,
    account,
    app,
    audit_types,
    http,
    introspect,
    issue_code,
    post,
    refresh,
    register,
    rp,
    session,
    tenant,
    tokens,
    userinfo,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures

URL = "/laposte/revoke"


def issued(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> dict[str, str]:
    return tokens(http, rp, issue_code(container, rp, account, session)[0])


def test_revoking_a_refresh_token_revokes_its_grant(
    http: TestClient,
    container: Container,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    body = issued(http, container, rp, account, session)
    response = post(http, URL, rp, token=body["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200 and response.content == b""
    assert refresh(http, rp, body["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(http, body["access_token"]).status_code == 401
    assert introspect(http, rp, body["access_token"]) == {"active": False}
    assert "oidc.token_revoked" in audit_types(container, tenant)


def test_revoking_an_access_token_revokes_only_it(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    assert post(http, URL, rp, token=body["access_token"]).status_code == 200
    assert userinfo(http, body["access_token"]).status_code == 401
    assert introspect(http, rp, body["access_token"]) == {"active": False}
    # the grant lives on: a refresh gives a new, working access token
    renewed = refresh(http, rp, body["refresh_token"])
    assert renewed.status_code == 200
    assert userinfo(http, renewed.json()["access_token"]).status_code == 200
    with container.uow(readonly=True) as uow:
        assert uow.oidc.access_token_revoked(introspect_jti(http, rp, renewed.json()["access_token"])) is False
    # revoking twice is fine
    assert post(http, URL, rp, token=body["access_token"]).status_code == 200


def introspect_jti(http: TestClient, rp: Registered, token: str) -> str:
    jti: str = introspect(http, rp, token)["jti"]
    return jti


def test_unknown_tokens_get_200(http: TestClient, rp: Registered) -> None:
    for token in ("not-a-token", "a.b.c", "x" * 500):
        assert post(http, URL, rp, token=token).status_code == 200


def test_a_client_cannot_revoke_another_clients_tokens(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    other = register(container, tenant, "Ameli")
    for token in (body["access_token"], body["refresh_token"]):
        response = post(http, URL, other, token=token)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert introspect(http, rp, body["access_token"])["active"] is True
    assert introspect(http, rp, body["refresh_token"])["active"] is True


def test_only_authenticated_clients(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    body = issued(http, container, rp, account, session)
    anonymous = http.post(URL, data={"token": body["refresh_token"]})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    public = register(container, tenant, "Mobile app", public=True)
    assert post(http, URL, public, token=body["refresh_token"]).status_code == 401
    assert post(http, URL, rp).json()["error"] == "invalid_request"
    assert introspect(http, rp, body["refresh_token"])["active"] is True

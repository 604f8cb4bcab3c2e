"""The client_credentials grant (RFC 6749 §4.4): an access token for the client itself, nothing else."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from tests.protocol.tokens_support import (
    ISSUER,
    TOKEN_URL,
    Registered,
    app,
    http,
    introspect,
    post,
    register,
    tenant,
    userinfo,
    verify,
)

__all__ = ["app", "http", "tenant"]  # fixtures


def machine(container: Container, tenant: Tenant) -> Registered:
    return register(container, tenant, "Batch", grant_types=["client_credentials"], scopes=["openid", "email"])


def test_an_access_token_only(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    response = post(http, TOKEN_URL, client, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}  # no refresh token, no ID token
    assert body["token_type"] == "Bearer" and body["scope"] == ""

    claims = verify(http, body["access_token"], typ="at+jwt")
    now = int(container.clock.now().timestamp())
    assert claims["sub"] == claims["client_id"] == claims["aud"] == client.client_id  # RFC 9068 §2.2
    assert claims["iss"] == ISSUER and claims["exp"] == now + body["expires_in"]
    assert "auth_time" not in claims and "acr" not in claims
    with container.uow(readonly=True) as uow:
        grant = uow.oidc.get_grant(claims["gid"])
    assert grant is not None and grant.account_id is None and grant.session_id is None
    assert grant.client_id == client.client_id


def test_the_token_is_introspectable_but_not_a_userinfo_token(
    http: TestClient, container: Container, tenant: Tenant
) -> None:
    client = machine(container, tenant)
    token = post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"]
    described = introspect(http, client, token)
    assert described["active"] is True and described["sub"] == client.client_id
    refused = userinfo(http, token)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_scopes_about_a_person_are_refused(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    for scope in ("openid", "email", "offline_access", "unknown"):
        response = post(http, TOKEN_URL, client, grant_type="client_credentials", scope=scope)
        assert response.status_code == 400 and response.json()["error"] == "invalid_scope", scope


def test_a_client_without_the_grant_type_cannot_use_it(http: TestClient, container: Container, tenant: Tenant) -> None:
    web = register(container, tenant)
    response = post(http, TOKEN_URL, web, grant_type="client_credentials")
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    public = register(container, tenant, "Mobile app", public=True)
    response = post(http, TOKEN_URL, public, grant_type="client_credentials")
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_issuance_is_audited_for_the_client(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    post(http, TOKEN_URL, client, grant_type="client_credentials")
    with container.uow(readonly=True) as uow:
        events = [r.event for r in uow.audit.chain(tenant.id) if r.event.type == "oidc.token_issued"]
    assert len(events) == 1
    assert events[0].subject == f"client:{client.client_id}" and events[0].actor == f"client:{client.client_id}"
    assert events[0].details["grant_type"] == "client_credentials"

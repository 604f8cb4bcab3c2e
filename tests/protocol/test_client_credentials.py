"""The client_credentials grant (RFC 6749 §4.4): an access token for the client itself, nothing else."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.issuance_audit import ClientTokenTally
from sesame.oidc.models import Grant
from sesame.oidc.tokens import issue_access_token
from sesame.services.audit import AuditService
from tests.protocol.tokens_support import (
    ISSUER,
    TOKEN_URL,
    Registered,
    app,
    audit_types,
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


def row_counts(container: Container) -> dict[str, int]:
    """Rows of every table a token could have written to."""
    tables = ("oidc_grants", "oidc_refresh_tokens", "oidc_revoked_access_tokens", "audit_events", "outbox_messages")
    with container.database.engine.connect() as connection:
        return {t: connection.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}  # noqa: S608


def tally(app: FastAPI) -> ClientTokenTally:
    """The app's count of client_credentials issuances, not yet in the audit log."""
    counted: ClientTokenTally = app.state.oidc_providers.full.tally
    return counted


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
    assert "gid" not in claims  # no grant row stands behind it (ADR 0006)


def test_issuing_writes_no_row(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    post(http, TOKEN_URL, client, grant_type="client_credentials")  # the tenant's first key is made here
    before = row_counts(container)
    tokens = {post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"] for _ in range(20)}
    assert len(tokens) == 20
    assert row_counts(container) == before


def test_the_token_is_introspectable_but_not_a_userinfo_token(
    http: TestClient, container: Container, tenant: Tenant
) -> None:
    client = machine(container, tenant)
    token = post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"]
    described = introspect(http, client, token)
    assert described["active"] is True and described["sub"] == client.client_id
    assert described["client_id"] == client.client_id and described["token_type"] == "Bearer"
    refused = userinfo(http, token)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_another_client_cannot_introspect_it(http: TestClient, container: Container, tenant: Tenant) -> None:
    client, other = machine(container, tenant), machine(container, tenant)
    token = post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"]
    assert introspect(http, other, token) == {"active": False}


def test_revoked_by_its_jti(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    token = post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"]
    kept = post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"]
    revoked = post(http, "/laposte/revoke", client, token=token)
    assert revoked.status_code == 200
    assert introspect(http, client, token) == {"active": False}
    assert userinfo(http, token).status_code == 401  # invalid_token, before any scope question
    assert introspect(http, client, kept)["active"] is True  # only that one
    with container.uow(readonly=True) as uow:
        assert uow.oidc.access_token_revoked(verify(http, token, typ="at+jwt")["jti"])
        events = [r.event for r in uow.audit.chain(tenant.id) if r.event.type == "oidc.token_revoked"]
    assert events[-1].details == {"kind": "access_token", "grant_id": None}


def test_disabling_the_client_ends_its_tokens(http: TestClient, container: Container, tenant: Tenant) -> None:
    client, witness = machine(container, tenant), machine(container, tenant)
    token = post(http, TOKEN_URL, client, grant_type="client_credentials").json()["access_token"]
    assert introspect(http, client, token)["active"] is True
    assert userinfo(http, token).status_code == 403  # a valid token, without openid
    container.oidc_clients.disable(tenant, client.client_id)
    assert userinfo(http, token).status_code == 401  # no longer valid at all
    assert post(http, "/laposte/introspect", client, token=token).status_code == 401  # nor may it ask
    assert container.protocol_reads.access_token("any", None, client.client_id).client_enabled is False
    assert container.protocol_reads.access_token("any", None, witness.client_id).client_enabled is True
    assert post(http, TOKEN_URL, client, grant_type="client_credentials").status_code == 401


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


def test_issuance_is_audited_once_per_client_and_window(
    app: FastAPI, http: TestClient, container: Container, tenant: Tenant
) -> None:
    client, other = machine(container, tenant), machine(container, tenant)
    for _ in range(5):
        assert post(http, TOKEN_URL, client, grant_type="client_credentials").status_code == 200
    post(http, TOKEN_URL, other, grant_type="client_credentials")
    assert "oidc.client_tokens_issued" not in audit_types(container, tenant)  # counted, not written yet
    assert tally(app).pending() == 6
    assert tally(app).flush() == 2
    assert tally(app).pending() == 0 and tally(app).flush() == 0
    with container.uow(readonly=True) as uow:
        events = [r.event for r in uow.audit.chain(tenant.id) if r.event.type == "oidc.client_tokens_issued"]
    counts = {e.subject: e.details["count"] for e in events}
    assert counts == {f"client:{client.client_id}": 5, f"client:{other.client_id}": 1}
    [first] = [e for e in events if e.subject == f"client:{client.client_id}"]
    assert first.actor == f"client:{client.client_id}" and first.ip == "testclient"
    assert first.details["grant_type"] == "client_credentials" and first.details["ips"] == ["testclient"]
    assert first.details["first_at"] == first.details["last_at"] == container.clock.now().isoformat()
    [verdict] = AuditService(container.uow, container.clock).verify(tenant.slug)
    assert verdict.broken_at is None  # the summaries are links of the tenant's chain like any event


def test_a_refused_client_is_audited_at_once(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    wrong = Registered(client.client, "not-the-secret")
    before = row_counts(container)["audit_events"]
    response = post(http, TOKEN_URL, wrong, grant_type="client_credentials")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert row_counts(container)["audit_events"] == before + 1
    assert audit_types(container, tenant)[-1] == "oidc.client_auth_refused"


def test_a_token_of_a_client_credentials_grant_row_still_works(
    http: TestClient, container: Container, tenant: Tenant
) -> None:
    """Tokens issued before ADR 0006 carry the gid of a grant row: they hold until they expire."""
    client = machine(container, tenant)
    now = container.clock.now()
    grant = Grant(
        id="legacy-grant-0123456789",
        tenant_id=tenant.id,
        client_id=client.client_id,
        scope="",
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )
    with container.uow() as uow:
        uow.oidc.add_grant(grant)
        uow.commit()
    signer = container.signing_keys.signer(tenant)
    old = issue_access_token(
        signer, issuer=ISSUER, grant=grant, sub=client.client_id, scope="", now=now, lifetime_seconds=600
    )
    assert introspect(http, client, old.token)["active"] is True
    with container.uow() as uow:
        uow.oidc.revoke_grant(grant.id, now, "test")
        uow.commit()
    assert introspect(http, client, old.token) == {"active": False}

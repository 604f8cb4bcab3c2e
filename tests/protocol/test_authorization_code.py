"""The authorization_code grant at the token endpoint (RFC 6749 §4.1.3, §5.1; OpenID Connect Core §3.1.3).

The grant and its code are stored as the authorization endpoint stores them; the client redeems
the code over HTTP and checks what it gets as a client library would: against the JWKS.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from joserfc import jws

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc.tokens import left_half_hash, pairwise_sub, session_sid
from tests.protocol.tokens_support import (
    ISSUER,
    NONCE,
    REDIRECT_URI,
    TOKEN_URL,
    Registered,
    account,
    app,
    audit_types,
    authenticated,
    exchange,
    http,
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


def test_a_code_gives_an_access_token_an_id_token_and_a_refresh_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, grant = issue_code(container, rp, account, session, scope="openid profile email")
    response = exchange(http, rp, code)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == rp.client.metadata.access_token_lifetime_seconds
    assert body["scope"] == "openid profile email"
    assert len(body["refresh_token"]) >= 43
    now = int(container.clock.now().timestamp())
    sub = pairwise_sub(container.keyed, account.tenant_id, rp.client_id, account.id)

    access = verify(http, body["access_token"], typ="at+jwt")
    assert access["iss"] == ISSUER and access["aud"] == rp.client_id and access["client_id"] == rp.client_id
    assert access["sub"] == sub and access["gid"] == grant.id
    assert access["iat"] == now and access["exp"] == now + body["expires_in"]
    assert access["scope"] == "openid profile email"
    assert access["acr"] == "eidas1" and access["amr"] == ["pwd"]
    assert access["auth_time"] == int(session.auth_time.timestamp())
    assert len(access["jti"]) >= 22

    id_token = verify(http, body["id_token"], typ="JWT")
    assert id_token["iss"] == ISSUER and id_token["aud"] == rp.client_id and id_token["azp"] == rp.client_id
    assert id_token["sub"] == sub and id_token["nonce"] == NONCE
    assert id_token["exp"] == now + rp.client.metadata.id_token_lifetime_seconds
    assert id_token["at_hash"] == left_half_hash(body["access_token"], "ES256")
    assert id_token["sid"] == session_sid(container.keyed, session.id) and session.id not in body["id_token"]
    assert id_token["acr"] == "eidas1" and id_token["amr"] == ["pwd"] and id_token["gid"] == grant.id
    # scope claims go to userinfo when an access token is issued (Core §5.4)
    assert "email" not in id_token and "name" not in id_token


def test_the_subject_is_pairwise(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    other = register(container, tenant, "Ameli")
    first = verify(http, tokens(http, rp, issue_code(container, rp, account, session)[0])["id_token"], typ="JWT")
    second = verify(http, tokens(http, other, issue_code(container, other, account, session)[0])["id_token"], typ="JWT")
    assert first["sub"] != second["sub"]
    assert str(account.id) not in (first["sub"], second["sub"])


def test_the_claims_parameter_puts_claims_in_the_id_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    claims = {"id_token": {"email": {"essential": True}, "name": None, "given_name": None}}
    code, _grant = issue_code(container, rp, account, session, claims=claims)
    id_token = verify(http, tokens(http, rp, code)["id_token"], typ="JWT")
    assert id_token["email"] == "camille.martin@example.fr"
    assert id_token["name"] == "Camille Martin"
    assert "given_name" not in id_token  # only from a verified identity, and there is none


def test_no_id_token_without_openid_and_no_refresh_token_without_the_grant_type(
    http: TestClient, container: Container, tenant: Tenant, account: Account, session: BrowserSession
) -> None:
    plain = register(container, tenant, "OAuth only", grant_types=["authorization_code"], scopes=["openid", "email"])
    body = tokens(http, plain, issue_code(container, plain, account, session, scope="email")[0])
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}


def test_the_redirect_uri_must_be_exactly_the_authorization_requests(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    for uri in (REDIRECT_URI + "/", REDIRECT_URI.upper(), REDIRECT_URI + "?x=1", None):
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": "x" * 43}
        if uri is not None:
            form["redirect_uri"] = uri
        response = post(http, TOKEN_URL, rp, **form)
        assert response.status_code == 400
        assert response.json()["error"] == ("invalid_grant" if uri else "invalid_request")
    assert exchange(http, rp, code).status_code == 200  # the refusals did not spend the code


def test_a_code_is_for_the_client_it_was_issued_to(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    other = register(container, tenant, "Ameli")
    response = exchange(http, other, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert exchange(http, rp, code).status_code == 200


def test_a_code_lives_sixty_seconds(
    http: TestClient,
    container: Container,
    clock: FrozenClock,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    clock.advance(seconds=60)
    response = exchange(http, rp, code)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "unknown, expired or used code"}


def test_an_unknown_code_is_an_invalid_grant(http: TestClient, rp: Registered) -> None:
    response = exchange(http, rp, "not-a-code")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_code_of_an_ended_session_gives_nothing(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    container.sessions.end(account.id, session.id, "logout")
    response = exchange(http, rp, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_issuance_is_audited_without_the_tokens(
    http: TestClient,
    container: Container,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    code, grant = issue_code(container, rp, account, session)
    body = tokens(http, rp, code)
    with container.uow(readonly=True) as uow:
        records = [r for r in uow.audit.chain(tenant.id) if r.event.type == "oidc.token_issued"]
    assert len(records) == 1
    event = records[0].event
    assert event.actor == f"client:{rp.client_id}" and event.subject == f"account:{account.id}"
    assert event.details["grant_id"] == grant.id and event.details["grant_type"] == "authorization_code"
    text = str(event)
    assert all(body[name] not in text for name in ("access_token", "refresh_token", "id_token"))
    assert code not in text
    assert "oidc.token_issued" in audit_types(container, tenant)


def test_unsupported_and_unauthorized_grant_types(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered
) -> None:
    assert post(http, TOKEN_URL, rp, grant_type="password").json()["error"] == "unsupported_grant_type"
    assert post(http, TOKEN_URL, rp).json()["error"] == "invalid_request"
    response = post(http, TOKEN_URL, rp, grant_type="client_credentials")
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_only_a_form_is_accepted(http: TestClient, rp: Registered, container: Container) -> None:
    code = "x" * 43
    response = http.post(TOKEN_URL, json={"grant_type": "authorization_code", "code": code})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in response.json()["error_description"]


def test_a_repeated_parameter_is_refused(http: TestClient, rp: Registered) -> None:
    _fields, headers = authenticated(rp)
    body = "grant_type=authorization_code&code=a&code=b&redirect_uri=x"
    response = http.post(
        TOKEN_URL, content=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_an_oversized_body_is_refused(http: TestClient, rp: Registered) -> None:
    response = post(http, TOKEN_URL, rp, grant_type="authorization_code", code="x" * 20_000)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_an_unknown_tenant_is_a_json_404(http: TestClient) -> None:
    response = http.post("/nowhere/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_an_rs256_client_gets_rs256_id_tokens_and_es256_access_tokens(
    http: TestClient, container: Container, tenant: Tenant, account: Account, session: BrowserSession
) -> None:
    rsa_client = register(container, tenant, "Legacy", id_token_signed_response_alg="RS256")
    body = tokens(http, rsa_client, issue_code(container, rsa_client, account, session)[0])
    assert jws.extract_compact(body["id_token"].encode()).headers()["alg"] == "RS256"
    assert jws.extract_compact(body["access_token"].encode()).headers()["alg"] == "ES256"
    id_token = verify(http, body["id_token"], typ="JWT")
    assert id_token["at_hash"] == left_half_hash(body["access_token"], "RS256")

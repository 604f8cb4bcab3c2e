"""PKCE at the token endpoint (RFC 7636 §4.6): S256 only, required of public clients, and no
verifier for a code issued without a challenge (a downgrade)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc.models import AuthorizationCode
from sesame.oidc.token.pkce import s256_challenge
from sesame.oidc.tokens import hash_token, new_token
from tests.protocol.tokens_support import (
    CHALLENGE,
    REDIRECT_URI,
    VERIFIER,
    Registered,
    account,
    app,
    exchange,
    http,
    issue_code,
    register,
    rp,
    session,
    tenant,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures


def error_of(response: object) -> str:
    assert getattr(response, "status_code") == 400  # noqa: B009
    error: str = getattr(response, "json")()["error"]  # noqa: B009
    return error


def test_s256_of_the_rfc_example() -> None:
    assert s256_challenge(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" == CHALLENGE


def test_the_right_verifier_redeems_the_code(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    assert exchange(http, rp, code).status_code == 200


def test_a_wrong_verifier_is_refused_and_leaves_the_code_to_its_client(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    wrong = VERIFIER[:-1] + ("A" if VERIFIER[-1] != "A" else "B")
    assert error_of(exchange(http, rp, code, wrong)) == "invalid_grant"
    assert error_of(exchange(http, rp, code, None)) == "invalid_grant"  # the challenge needs a verifier
    assert error_of(exchange(http, rp, code, "short")) == "invalid_request"  # RFC 7636 §4.1: 43 to 128
    assert exchange(http, rp, code).status_code == 200


def test_plain_is_refused(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    _code, grant = issue_code(container, rp, account, session, challenge=None)
    plain_code = new_token()
    with container.uow() as uow:  # as if the authorization endpoint had let "plain" through
        uow.oidc.add_code(
            AuthorizationCode(
                code_hash=hash_token(plain_code),
                grant_id=grant.id,
                client_id=rp.client_id,
                redirect_uri=REDIRECT_URI,
                created_at=container.clock.now(),
                expires_at=container.clock.now().replace(year=2100),
                code_challenge=VERIFIER,
                code_challenge_method="plain",
            )
        )
        uow.commit()
    assert error_of(exchange(http, rp, plain_code, VERIFIER)) == "invalid_grant"


def test_a_verifier_for_a_code_issued_without_challenge_is_a_downgrade(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session, challenge=None)
    response = exchange(http, rp, code, VERIFIER)
    assert error_of(response) == "invalid_grant"
    assert "without code_challenge" in response.json()["error_description"]
    # a confidential client may do without PKCE altogether
    assert exchange(http, rp, code, None).status_code == 200


def test_a_public_client_needs_pkce(
    http: TestClient, container: Container, tenant: Tenant, account: Account, session: BrowserSession
) -> None:
    public = register(container, tenant, "Mobile app", public=True)
    assert public.secret is None
    without, _grant = issue_code(container, public, account, session, challenge=None)
    assert error_of(exchange(http, public, without, None)) == "invalid_grant"
    with_pkce, _grant = issue_code(container, public, account, session)
    response = exchange(http, public, with_pkce)
    assert response.status_code == 200, response.text
    assert "access_token" in response.json()

"""The authorization request's checks (OpenID Connect Core §3.1.2.1, §3.1.2.6; RFC 6749 §4.1.2.1).

Until the client and its redirect URI are known good, an error is shown to the person and the
browser is never redirected (an open redirector otherwise). Every later error goes back to the
client with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.authorize import CHECKS, validate
from sesame.oidc.models import GrantType, OidcClient
from tests.protocol.authorize_support import (
    REDIRECT_URI,
    STATE,
    app,
    assert_code,
    assert_error,
    audit_types,
    authorize,
    browser,
    is_login_page,
    laposte,
    location,
    log_in_directly,
    pkce_pair,
    register,
    rp,
    stored_code,
)

__all__ = ["app", "browser", "laposte", "rp"]  # fixtures


def assert_shown(response: object, status: int = 400) -> str:
    """An error page for the person: no redirect anywhere."""
    assert getattr(response, "status_code") == status  # noqa: B009
    assert "location" not in getattr(response, "headers")  # noqa: B009
    text: str = getattr(response, "text")  # noqa: B009
    assert "<html" in text.lower()
    return text


# -- the client and its redirect URI: errors shown, never redirected ---------------------------------------


def test_the_checks_are_a_named_ordered_table() -> None:
    names = [check.__name__ for check in CHECKS]
    assert names[:2] == ["check_client", "check_redirect_uri"]
    assert all(name.startswith("check_") and check.__doc__ for name, check in zip(names, CHECKS, strict=True))


def test_an_unregistered_redirect_uri_shows_an_error_and_never_redirects(
    browser: TestClient, rp: OidcClient, container: Container, laposte: Tenant
) -> None:
    for uri in ("https://evil.example/callback", REDIRECT_URI + "/", REDIRECT_URI + "?x=1", REDIRECT_URI.upper()):
        assert_shown(authorize(browser, rp, redirect_uri=uri))
    # Even with an error the client would otherwise get (a wrong response_type), nothing goes there.
    assert_shown(authorize(browser, rp, redirect_uri="https://evil.example/cb", response_type="token"))
    assert "oidc.authorization.rejected" in audit_types(container, laposte)


def test_the_page_is_in_the_person_s_language(browser: TestClient, rp: OidcClient) -> None:
    english = authorize(browser, rp, redirect_uri="https://evil.example/cb", ui_locales="en-GB fr")
    assert "This login request cannot be accepted" in assert_shown(english)
    french = authorize(browser, rp, redirect_uri="https://evil.example/cb", ui_locales="fr")
    assert "This login request cannot be accepted" not in assert_shown(french)


def test_a_missing_redirect_uri_or_client_is_shown(browser: TestClient, rp: OidcClient) -> None:
    assert_shown(authorize(browser, rp, redirect_uri=None))
    assert_shown(authorize(browser, rp, client_id=None))
    assert_shown(authorize(browser, rp, client_id="no-such-client"))
    query = f"response_type=code&client_id={rp.client_id}&redirect_uri={REDIRECT_URI}&redirect_uri={REDIRECT_URI}"
    assert_shown(browser.get(f"/laposte/authorize?{query}&scope=openid"))


def test_a_client_of_another_tenant_is_unknown_here(browser: TestClient, container: Container) -> None:
    other = register(container, container.tenants.get("poste-ch"), "Poste CH app")
    assert_shown(authorize(browser, other))


def test_a_disabled_client_is_shown(browser: TestClient, rp: OidcClient, container: Container, laposte: Tenant) -> None:
    container.oidc_clients.disable(laposte, rp.client_id)
    assert_shown(authorize(browser, rp))


# -- errors redirected to the client, with state and iss -------------------------------------------------


def test_response_type_must_be_code(browser: TestClient, rp: OidcClient) -> None:
    for response_type in ("token", "id_token", "code id_token"):
        assert_error(authorize(browser, rp, response_type=response_type), "unsupported_response_type")
    assert_error(authorize(browser, rp, response_type=None), "invalid_request")


def test_scope_must_include_openid(browser: TestClient, rp: OidcClient) -> None:
    assert_error(authorize(browser, rp, scope="profile email"), "invalid_scope")
    assert_error(authorize(browser, rp, scope=None), "invalid_request")


def test_unknown_or_unallowed_scopes_are_refused(browser: TestClient, container: Container, laposte: Tenant) -> None:
    narrow = register(container, laposte, "Narrow", scopes=["openid", "email"])
    assert_error(authorize(browser, narrow, scope="openid profile"), "invalid_scope")
    assert_error(authorize(browser, narrow, scope="openid admin"), "invalid_scope")
    assert_error(authorize(browser, narrow, scope='openid "quoted"'), "invalid_scope")
    assert is_login_page(authorize(browser, narrow, scope="openid email"))


def test_offline_access_is_dropped_for_a_client_without_refresh_tokens(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    """§11: offline_access is ignored when no refresh token could be issued."""
    client = register(
        container,
        laposte,
        "No refresh",
        grant_types=[GrantType.AUTHORIZATION_CODE],
        skip_consent=True,
        scopes=["openid"],
    )
    log_in_directly(browser)
    _row, grant = stored_code(container, assert_code(authorize(browser, client, scope="openid offline_access")))
    assert grant.scope == "openid" and grant.session_id is not None


def test_a_client_without_the_code_grant_is_unauthorized(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    machine = register(container, laposte, "Machine", grant_types=[GrantType.CLIENT_CREDENTIALS], scopes=["openid"])
    assert_error(authorize(browser, machine), "unauthorized_client")
    # Without a redirect URI at all, there is nowhere to send an error: it is shown.
    batch, _ = container.oidc_clients.create(laposte, "Batch", [], grant_types=[GrantType.CLIENT_CREDENTIALS])
    assert_shown(authorize(browser, batch))


def test_request_objects_are_not_supported(browser: TestClient, rp: OidcClient) -> None:
    assert_error(authorize(browser, rp, request="eyJhbGciOiJub25lIn0.e30."), "request_not_supported")
    assert_error(authorize(browser, rp, request_uri="https://rp.example/req.jwt"), "request_uri_not_supported")


def test_a_parameter_sent_twice_is_refused(browser: TestClient, rp: OidcClient) -> None:
    query = f"response_type=code&client_id={rp.client_id}&redirect_uri={REDIRECT_URI}&scope=openid&scope=openid"
    assert_error(browser.get(f"/laposte/authorize?{query}&state={STATE}"), "invalid_request")


def test_response_mode_query_only(browser: TestClient, rp: OidcClient) -> None:
    assert_error(authorize(browser, rp, response_mode="fragment"), "invalid_request")
    assert_error(authorize(browser, rp, response_mode="form_post"), "invalid_request")
    assert is_login_page(authorize(browser, rp, response_mode="query"))


def test_state_is_returned_as_sent_and_left_out_when_absent(browser: TestClient, rp: OidcClient) -> None:
    odd = "a b&c=d/é"
    assert_error(authorize(browser, rp, state=odd, response_type="token"), "unsupported_response_type", state=odd)
    assert_error(authorize(browser, rp, state=None, response_type="token"), "unsupported_response_type", state=None)
    assert_error(authorize(browser, rp, state="x" * 2049), "invalid_request", state=None)


def test_the_redirect_uri_s_own_query_is_kept(browser: TestClient, container: Container, laposte: Tenant) -> None:
    uri = "https://rp.example/cb?tenant=42"
    client, _ = container.oidc_clients.create(laposte, "With query", [uri])
    response = authorize(browser, client, redirect_uri=uri, response_type="token")
    assert location(response).startswith(uri + "&error=unsupported_response_type")


# -- PKCE (RFC 7636) -------------------------------------------------------------------------------------


def test_pkce_s256_only(browser: TestClient, rp: OidcClient) -> None:
    _verifier, challenge = pkce_pair()
    assert_error(authorize(browser, rp, code_challenge=challenge, code_challenge_method="plain"), "invalid_request")
    # Without a method, RFC 7636 §4.3 means plain: refused too.
    assert_error(authorize(browser, rp, code_challenge=challenge), "invalid_request")
    assert_error(authorize(browser, rp, code_challenge_method="S256"), "invalid_request")
    assert_error(authorize(browser, rp, code_challenge="short", code_challenge_method="S256"), "invalid_request")
    assert is_login_page(authorize(browser, rp, code_challenge=challenge, code_challenge_method="S256"))


def test_public_clients_must_use_pkce(browser: TestClient, container: Container, laposte: Tenant) -> None:
    spa = register(container, laposte, "Mobile app", public=True, skip_consent=True)
    params = assert_error(authorize(browser, spa), "invalid_request")
    assert "PKCE" in params["error_description"]
    _verifier, challenge = pkce_pair()
    log_in_directly(browser)
    code = assert_code(authorize(browser, spa, code_challenge=challenge, code_challenge_method="S256"))
    row, _grant = stored_code(container, code)
    assert (row.code_challenge, row.code_challenge_method) == (challenge, "S256")


def test_a_confidential_client_may_go_without_pkce(browser: TestClient, container: Container, laposte: Tenant) -> None:
    client = register(container, laposte, "Server side", skip_consent=True)
    log_in_directly(browser)
    row, _grant = stored_code(container, assert_code(authorize(browser, client)))
    assert row.code_challenge is None and row.code_challenge_method is None


# -- prompt, max_age, nonce, locales, acr_values, claims ---------------------------------------------------


@pytest.mark.parametrize("prompt", ["none login", "consent none", "select_account", "login create"])
def test_invalid_prompt_values(browser: TestClient, rp: OidcClient, prompt: str) -> None:
    assert_error(authorize(browser, rp, prompt=prompt), "invalid_request")


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", "١٢"])
def test_max_age_must_be_a_non_negative_integer(browser: TestClient, rp: OidcClient, max_age: str) -> None:
    assert_error(authorize(browser, rp, max_age=max_age), "invalid_request")


def test_a_nonce_too_long_is_refused(browser: TestClient, rp: OidcClient) -> None:
    assert_error(authorize(browser, rp, nonce="n" * 513), "invalid_request")


@pytest.mark.parametrize(
    "claims",
    [
        "not json",
        "[]",
        '{"userinfo": []}',
        '{"id_token": {"acr": 3}}',
        '{"id_token": {"acr": {"essential": "yes"}}}',
        '{"userinfo": {"email": {"values": "a"}}}',
    ],
)
def test_the_claims_parameter_is_validated(browser: TestClient, rp: OidcClient, claims: str) -> None:
    assert_error(authorize(browser, rp, claims=claims), "invalid_request")


def test_a_valid_request_keeps_every_parameter(browser: TestClient, container: Container, laposte: Tenant) -> None:
    client = register(container, laposte, "Kept", skip_consent=True)
    log_in_directly(browser)
    claims = '{"id_token": {"acr": {"essential": false, "values": ["eidas1"]}}, "userinfo": {"email": null}, "x": 1}'
    response = authorize(
        browser,
        client,
        scope="openid email",
        max_age="3600",
        acr_values="eidas1",
        ui_locales="en",
        claims_locales="fr en",
        login_hint="someone@example.fr",
        claims=claims,
    )
    _row, grant = stored_code(container, assert_code(response))
    assert grant.claims == {
        "id_token": {"acr": {"essential": False, "values": ["eidas1"]}},
        "userinfo": {"email": None},
    }
    assert grant.scope == "openid email"


def test_validate_reports_which_client_a_bad_redirect_uri_came_from(rp: OidcClient, laposte: Tenant) -> None:
    from sesame.oidc.authorize import AuthorizationPageError

    params = [("client_id", rp.client_id), ("redirect_uri", "https://evil.example/")]
    with pytest.raises(AuthorizationPageError) as raised:
        validate(params, tenant_id=laposte.id, load_client=lambda client_id: rp if client_id == rp.client_id else None)
    assert raised.value.reason == "unregistered_redirect_uri" and raised.value.client_id == rp.client_id

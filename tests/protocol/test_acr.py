"""Assurance levels (issue point 6): acr_values eidas1 and eidas2, what is issued, what cannot be met.

A password login is eidas1 (amr pwd), and the grant says so. eidas2 needs a verified identity
and a second factor, which the demo account has not: asking for it ends with
``unmet_authentication_requirements`` at the client (OpenID Connect Core errata / EAP ACR
Values), and so does asking for the French identity claims with eidas2. Accounts with an
identity and the phone app: tests/protocol/test_assurance_eidas2.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.accounts import BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc import assurance
from sesame.oidc.models import OidcClient
from tests.protocol import tokens_support
from tests.protocol.authorize_support import (
    ISSUER,
    NONCE,
    app,
    assert_code,
    assert_error,
    audit_records,
    authorize,
    browser,
    is_login_page,
    laposte,
    log_in_directly,
    login_then_back,
    register,
    rp,
    stored_code,
)

__all__ = ["app", "browser", "laposte", "rp"]  # fixtures

UNMET = "unmet_authentication_requirements"
ESSENTIAL_EIDAS2 = '{"id_token": {"acr": {"essential": true, "values": ["eidas2"]}}}'


@pytest.fixture
def service(container: Container, laposte: Tenant) -> OidcClient:
    """A first-party service (no consent page) that may ask for the identity claims."""
    return register(container, laposte, "Identité numérique", skip_consent=True)


def test_a_password_login_is_issued_as_eidas1_with_amr_pwd(
    browser: TestClient, service: OidcClient, container: Container
) -> None:
    log_in_directly(browser)
    for acr_values in (None, "eidas1", "eidas2 eidas1", "eidas3"):
        _row, grant = stored_code(container, assert_code(authorize(browser, service, acr_values=acr_values)))
        assert (grant.acr, grant.amr) == ("eidas1", ["pwd"]), acr_values


def test_the_tokens_say_eidas1_and_pwd(browser: TestClient, container: Container, laposte: Tenant) -> None:
    """What a client library sees: the ID token's and the access token's acr and amr (verified
    against the JWKS), and the nonce and auth_time of the login."""
    registered = tokens_support.register(container, laposte, "Impots.gouv", skip_consent=True)
    log_in_directly(browser)
    login_time = container.clock.now()
    code = assert_code(authorize(browser, registered.client, acr_values="eidas1", scope="openid"))
    body = tokens_support.tokens(browser, registered, code, verifier=None)
    id_token = tokens_support.verify(browser, body["id_token"], typ="JWT")
    assert (id_token["acr"], id_token["amr"], id_token["nonce"]) == ("eidas1", ["pwd"], NONCE)
    assert id_token["iss"] == ISSUER and id_token["auth_time"] == int(login_time.timestamp())
    access = tokens_support.verify(browser, body["access_token"], typ="at+jwt")
    assert (access["acr"], access["amr"]) == ("eidas1", ["pwd"])


def test_eidas2_cannot_be_reached_after_the_login(
    browser: TestClient, service: OidcClient, container: Container, laposte: Tenant
) -> None:
    response = authorize(browser, service, acr_values="eidas2")
    assert is_login_page(response)  # who asks must be known before saying what they can reach
    params = assert_error(login_then_back(browser, response), UNMET)
    assert "eidas2" in params["error_description"]
    refused = [r.event for r in audit_records(container, laposte) if r.event.type == "oidc.authorization.refused"]
    assert refused and refused[-1].details["error"] == UNMET and refused[-1].subject == f"client:{service.client_id}"


def test_eidas2_with_a_session_is_refused_at_once(browser: TestClient, service: OidcClient) -> None:
    log_in_directly(browser)
    assert_error(authorize(browser, service, acr_values="eidas2"), UNMET)
    assert_error(authorize(browser, service, acr_values="eidas2", prompt="none"), UNMET)


def test_an_essential_acr_claim_counts_like_acr_values(browser: TestClient, service: OidcClient) -> None:
    log_in_directly(browser)
    assert_error(authorize(browser, service, claims=ESSENTIAL_EIDAS2), UNMET)
    voluntary = '{"id_token": {"acr": {"values": ["eidas2"]}}}'
    assert_code(authorize(browser, service, claims=voluntary))


def test_french_identity_claims_with_eidas2_fail_cleanly(browser: TestClient, service: OidcClient) -> None:
    log_in_directly(browser)
    assert_error(authorize(browser, service, scope="openid given_name birthdate", acr_values="eidas2"), UNMET)
    identity = '{"userinfo": {"family_name": {"essential": true}}}'
    assert_error(authorize(browser, service, claims=identity, acr_values="eidas2"), UNMET)


def test_identity_claims_at_eidas1_give_a_code_without_them(
    browser: TestClient, service: OidcClient, container: Container
) -> None:
    """Without eidas2 the request goes on; the claims are simply not released (no verified identity)."""
    log_in_directly(browser)
    _row, grant = stored_code(container, assert_code(authorize(browser, service, scope="openid given_name")))
    assert grant.scope == "openid given_name" and grant.acr == "eidas1"


# -- the assurance module ------------------------------------------------------------------------------


def _session(acr: str) -> BrowserSession:
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    return BrowserSession("s", 1, 1, now, now, now, now, now, acr, ["pwd"], "", "")


def test_levels_are_ordered() -> None:
    assert assurance.LEVELS == ("eidas1", "eidas2")
    assert assurance.satisfies("eidas2", "eidas1") and not assurance.satisfies("eidas1", "eidas2")
    assert not assurance.satisfies(None, "eidas1")
    assert assurance.session_level(_session("eidas1")) == "eidas1"
    assert assurance.session_level(_session("something")) is None


def test_the_requested_level_is_the_lowest_acceptable_one() -> None:
    assert assurance.requested_level(("eidas2", "eidas1"), {}) == "eidas1"
    assert assurance.requested_level(("eidas3",), {}) is None
    assert assurance.requested_level((), {"id_token": {"acr": {"essential": True, "value": "eidas2"}}}) == "eidas2"
    assert assurance.requested_level((), {"id_token": {"acr": {"values": ["eidas2"]}}}) is None


def test_eidas2_cannot_be_reached_without_an_identity_and_an_app() -> None:
    """Without a verified identity (nor a device of the phone app), only eidas1 can be reached;
    tests/protocol/test_assurance_eidas2.py covers the accounts that have them."""
    nothing = assurance.NOTHING
    assert assurance.can_reach("eidas1", nothing)
    assert not assurance.can_reach("eidas2", nothing)
    assert not assurance.can_reach("eidas3", nothing)
    reason = assurance.unmet_requirement(_session("eidas1"), "eidas2", ["openid"], {}, nothing)
    assert reason is not None and "eidas2" in reason
    assert assurance.unmet_requirement(_session("eidas1"), "eidas1", ["openid", "given_name"], {}, nothing) is None
    assert not assurance.has_verified_identity(None)

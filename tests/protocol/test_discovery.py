"""Discovery (OpenID Connect Discovery 1.0 §3, §4): each tenant is an issuer with its own metadata.

The document is checked by an independent implementation (Authlib's OpenIDProviderMetadata),
then member by member against what the provider really does.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from starlette.exceptions import StarletteDeprecationWarning

from sesame.bootstrap import Container
from sesame.domain.tenants import Languages, Tenant, TenantPolicy
from sesame.oidc.discovery import ProviderMetadataCache
from sesame.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ISSUER = "https://testserver/laposte"


@pytest.fixture
def laposte(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="https://testserver") as client:
        yield client


@pytest.fixture
def metadata(http: TestClient, laposte: Tenant) -> dict[str, Any]:
    response = http.get("/laposte/.well-known/openid-configuration")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_an_independent_implementation_accepts_the_document(metadata: dict[str, Any]) -> None:
    OpenIDProviderMetadata(metadata).validate()  # raises on any violation of Discovery §3 / RFC 8414


def test_the_issuer_is_the_tenants_url_and_the_document_lives_under_it(metadata: dict[str, Any]) -> None:
    # §4.3: the issuer in the document is exactly the one its well-known URL was built from.
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert metadata["token_endpoint"] == f"{ISSUER}/token"
    assert metadata["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert metadata["jwks_uri"] == f"{ISSUER}/jwks"
    assert metadata["end_session_endpoint"] == f"{ISSUER}/end-session"
    assert metadata["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert metadata["revocation_endpoint"] == f"{ISSUER}/revoke"


def test_the_jwks_uri_answers(http: TestClient, metadata: dict[str, Any]) -> None:
    response = http.get(metadata["jwks_uri"])
    assert response.status_code == 200 and response.json()["keys"]


def test_it_says_what_the_provider_supports(metadata: dict[str, Any]) -> None:
    expected = {
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": ["eidas1", "eidas2"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "ui_locales_supported": ["fr", "en"],
        "claims_locales_supported": ["fr", "en"],
    }
    assert {name: metadata.get(name) for name in expected} == expected


def test_no_weak_algorithm_is_offered(metadata: dict[str, Any]) -> None:
    for name, values in metadata.items():
        if name.endswith("alg_values_supported"):
            assert not {"none", "HS256", "HS384", "HS512"} & set(values), name
    assert "plain" not in metadata["code_challenge_methods_supported"]


def test_scopes_and_claims(metadata: dict[str, Any]) -> None:
    scopes = set(metadata["scopes_supported"])
    assert {"openid", "profile", "email", "phone", "address", "offline_access"} <= scopes
    identity = {"given_name", "family_name", "preferred_username", "birthdate", "gender", "birthplace", "birthcountry"}
    assert identity <= scopes  # FranceConnect's scope names for the identity set
    claims = set(metadata["claims_supported"])
    assert identity | {"sub", "iss", "acr", "amr", "auth_time", "sid", "email", "email_verified"} <= claims


def test_it_is_a_public_cacheable_json_document(http: TestClient, laposte: Tenant) -> None:
    response = http.get("/laposte/.well-known/openid-configuration")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"


def test_each_tenant_has_its_own_issuer_and_languages(http: TestClient, container: Container) -> None:
    container.tenants.create("poste-ch", "La Poste Suisse", TenantPolicy(languages=Languages(available=("fr", "de"))))
    metadata = http.get("/poste-ch/.well-known/openid-configuration").json()
    assert metadata["issuer"] == "https://testserver/poste-ch"
    assert metadata["jwks_uri"] == "https://testserver/poste-ch/jwks"
    assert metadata["ui_locales_supported"] == ["fr", "de"]


@pytest.mark.parametrize("slug", ["nobody", "Not_A_Slug"])
def test_an_unknown_tenant_gets_a_json_404(http: TestClient, slug: str) -> None:
    response = http.get(f"/{slug}/.well-known/openid-configuration")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "not_found"
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_document_is_serialised_once_per_tenant_version(laposte: Tenant) -> None:
    documents = ProviderMetadataCache("https://testserver")
    first = documents.body(laposte)
    assert documents.body(laposte) is first  # the same bytes object: no work per request
    # A policy change (a new updated_at) gives a new document at once.
    changed = laposte.model_copy(
        update={
            "policy": TenantPolicy(languages=Languages(default="en", available=("en",))),
            "updated_at": laposte.updated_at + timedelta(seconds=1),
        }
    )
    assert orjson.loads(documents.body(changed))["ui_locales_supported"] == ["en"]
    assert orjson.loads(documents.body(laposte))["ui_locales_supported"] == ["fr", "en"]


def test_a_client_revalidating_its_copy_gets_a_bodiless_304(http: TestClient, laposte: Tenant) -> None:
    url = "/laposte/.well-known/openid-configuration"
    first = http.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = http.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "public, max-age=300"
    assert http.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304  # weak comparison
    assert http.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_the_etag_changes_with_the_document(http: TestClient, container: Container, laposte: Tenant) -> None:
    container.tenants.create("poste-ch", "La Poste Suisse", TenantPolicy(languages=Languages(available=("fr", "de"))))
    assert (
        http.get("/laposte/.well-known/openid-configuration").headers["etag"]
        != http.get("/poste-ch/.well-known/openid-configuration").headers["etag"]
    )

"""The JWKS endpoint (RFC 7517 §5, Discovery §3 ``jwks_uri``): public keys only, cacheable, per tenant."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import delete
from starlette.exceptions import StarletteDeprecationWarning

from sesame.adapters.clock import FrozenClock
from sesame.adapters.sql.models import SigningKeyRow
from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.jwks import PUBLIC_MEMBERS
from sesame.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def laposte(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


@pytest.fixture
def banque(container: Container) -> Tenant:
    return container.tenants.create("banque", "La Banque Postale")


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="https://testserver") as client:
        yield client


def test_the_jwks_lists_the_tenants_public_keys(http: TestClient, laposte: Tenant) -> None:
    response = http.get("/laposte/jwks")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    (key,) = response.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert set(key) <= PUBLIC_MEMBERS and "d" not in key
    # RFC 7638: the kid is the key's thumbprint, so anyone can check it names this key.
    assert key["kid"] == ECKey.import_key(key).thumbprint()


def test_it_is_a_public_cacheable_document(http: TestClient, laposte: Tenant) -> None:
    response = http.get("/laposte/jwks")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=30"
    # Browsers read it from any origin without credentials: no cookie is set on it.
    assert "set-cookie" not in {name.lower() for name in response.headers}


def test_a_token_the_tenant_signs_verifies_with_its_jwks(
    http: TestClient, container: Container, laposte: Tenant
) -> None:
    signer = container.signing_keys.signer(laposte)
    token = jwt.encode({"alg": signer.alg, "kid": signer.kid}, {"sub": "x"}, signer.key)
    keys = KeySet.import_key_set(http.get("/laposte/jwks").json())
    assert jwt.decode(token, keys, algorithms=["ES256"]).claims == {"sub": "x"}


def test_each_tenant_publishes_only_its_own_keys(
    http: TestClient, container: Container, laposte: Tenant, banque: Tenant
) -> None:
    laposte_kids = {k["kid"] for k in http.get("/laposte/jwks").json()["keys"]}
    banque_kids = {k["kid"] for k in http.get("/banque/jwks").json()["keys"]}
    assert laposte_kids and banque_kids and not laposte_kids & banque_kids
    assert container.signing_keys.signer(banque).kid in banque_kids


@pytest.mark.parametrize("path", ["/nobody/jwks", "/NOT_A_SLUG/jwks"])
def test_an_unknown_tenant_gets_a_json_404(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_the_document_is_served_from_the_workers_cache_for_a_short_while(
    http: TestClient, container: Container, clock: FrozenClock, laposte: Tenant
) -> None:
    """The hot path does not read the database; the cache lives 30 s (then the keys are read again:
    here there are none left, so the tenant gets a new first key)."""
    (first,) = http.get("/laposte/jwks").json()["keys"]
    with container.uow() as uow:
        assert uow.session is not None
        uow.session.execute(delete(SigningKeyRow))
        uow.commit()
    assert http.get("/laposte/jwks").json()["keys"] == [first]
    clock.advance(seconds=31)
    (renewed,) = http.get("/laposte/jwks").json()["keys"]
    assert renewed["kid"] != first["kid"]


def test_a_client_revalidating_the_keys_gets_a_bodiless_304_until_they_change(
    http: TestClient, container: Container, laposte: Tenant
) -> None:
    first = http.get("/laposte/jwks")
    etag = first.headers["etag"]
    again = http.get("/laposte/jwks", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    container.signing_keys.rotate(laposte)  # a new key is published at once
    rotated = http.get("/laposte/jwks", headers={"If-None-Match": etag})
    assert rotated.status_code == 200 and rotated.headers["etag"] != etag
    assert len(rotated.json()["keys"]) == 2

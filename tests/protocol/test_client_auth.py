"""Client authentication (RFC 6749 §2.3, OpenID Connect Core §9): client_secret_basic, client_secret_post,
private_key_jwt and none; exactly one method per request, the one the client registered."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.models import ClientAuthMethod
from sesame.oidc.token.client_auth import presented_credentials
from sesame.oidc.token.errors import OAuthError
from tests.protocol.tokens_support import (
    ISSUER,
    TOKEN_URL,
    Registered,
    app,
    audit_types,
    basic,
    http,
    post,
    register,
    tenant,
)

__all__ = ["app", "http", "tenant"]  # fixtures

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def machine(container: Container, tenant: Tenant, **options: Any) -> Registered:
    """A confidential client for client_credentials, authenticating as ``options`` say."""
    return register(container, tenant, "Batch", grant_types=["client_credentials"], scopes=["openid"], **options)


def assert_invalid_client(response: Any, *, basic_challenge: bool) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    if basic_challenge:
        assert response.headers["www-authenticate"] == 'Basic realm="laposte"'
    else:
        assert "www-authenticate" not in response.headers


# -- client_secret_basic and client_secret_post ------------------------------------------------------------


def test_client_secret_basic(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    assert client.client.token_endpoint_auth_method is ClientAuthMethod.CLIENT_SECRET_BASIC
    assert post(http, TOKEN_URL, client, **CLIENT_CREDENTIALS).status_code == 200


def test_a_wrong_secret_is_401_with_a_basic_challenge(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    assert client.secret is not None
    wrong = client.secret[:-1] + ("A" if client.secret[-1] != "A" else "B")
    response = http.post(TOKEN_URL, data=CLIENT_CREDENTIALS, headers={"Authorization": basic(client.client_id, wrong)})
    assert_invalid_client(response, basic_challenge=True)
    assert "oidc.client_auth_refused" in audit_types(container, tenant)


def test_malformed_basic_credentials(http: TestClient, container: Container, tenant: Tenant) -> None:
    machine(container, tenant)
    headers: list[str | bytes] = [
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic é".encode("latin-1"),
    ]
    for header in headers:
        response = http.post(TOKEN_URL, data=CLIENT_CREDENTIALS, headers={"Authorization": header})
        assert_invalid_client(response, basic_challenge=True)


def test_basic_credentials_are_form_urlencoded() -> None:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64."""
    presented = presented_credentials({}, basic("a client:1", "s3cr+t:é%"), realm="laposte")
    assert (presented.client_id, presented.secret) == ("a client:1", "s3cr+t:é%")


def test_client_secret_post(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant, auth_method="client_secret_post")
    assert post(http, TOKEN_URL, client, **CLIENT_CREDENTIALS).status_code == 200
    assert client.secret is not None
    wrong = {"client_id": client.client_id, "client_secret": client.secret + "x", **CLIENT_CREDENTIALS}
    assert_invalid_client(http.post(TOKEN_URL, data=wrong), basic_challenge=False)


def test_the_registered_method_and_no_other(http: TestClient, container: Container, tenant: Tenant) -> None:
    by_post = machine(container, tenant, auth_method="client_secret_post")
    assert by_post.secret is not None
    response = http.post(
        TOKEN_URL, data=CLIENT_CREDENTIALS, headers={"Authorization": basic(by_post.client_id, by_post.secret)}
    )
    assert_invalid_client(response, basic_challenge=True)


def test_exactly_one_method_per_request(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    assert client.secret is not None
    response = http.post(
        TOKEN_URL,
        data={**CLIENT_CREDENTIALS, "client_id": client.client_id, "client_secret": client.secret},
        headers={"Authorization": basic(client.client_id, client.secret)},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_no_authentication_unknown_or_disabled_clients(http: TestClient, container: Container, tenant: Tenant) -> None:
    client = machine(container, tenant)
    assert_invalid_client(http.post(TOKEN_URL, data=CLIENT_CREDENTIALS), basic_challenge=False)
    # a confidential client sending its client_id only
    only_id = {**CLIENT_CREDENTIALS, "client_id": client.client_id}
    assert_invalid_client(http.post(TOKEN_URL, data=only_id), basic_challenge=False)
    unknown = http.post(TOKEN_URL, data=CLIENT_CREDENTIALS, headers={"Authorization": basic("nobody", "x" * 43)})
    assert_invalid_client(unknown, basic_challenge=True)
    container.oidc_clients.disable(tenant, client.client_id)
    assert_invalid_client(post(http, TOKEN_URL, client, **CLIENT_CREDENTIALS), basic_challenge=True)


def test_a_client_of_another_tenant_is_unknown_here(http: TestClient, container: Container, tenant: Tenant) -> None:
    other_tenant = container.tenants.create("banque", "La Banque")
    elsewhere = machine(container, other_tenant)
    assert_invalid_client(post(http, TOKEN_URL, elsewhere, **CLIENT_CREDENTIALS), basic_challenge=True)
    assert post(http, "/banque/token", elsewhere, **CLIENT_CREDENTIALS).status_code == 200


def test_a_public_client_cannot_send_a_secret(http: TestClient, container: Container, tenant: Tenant) -> None:
    public = register(container, tenant, "Mobile app", public=True)
    form = {"grant_type": "authorization_code", "code": "x", "redirect_uri": "https://rp.example/callback"}
    response = http.post(TOKEN_URL, data={**form, "client_id": public.client_id, "client_secret": "guess"})
    assert_invalid_client(response, basic_challenge=False)
    # with its client_id alone it is authenticated (and the unknown code is the next problem)
    response = http.post(TOKEN_URL, data={**form, "client_id": public.client_id})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# -- private_key_jwt --------------------------------------------------------------------------------------------


@pytest.fixture
def client_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"})


@pytest.fixture
def signed(container: Container, tenant: Tenant, client_key: ECKey) -> Registered:
    jwks = {"keys": [client_key.as_dict(private=False)]}
    return machine(container, tenant, jwks=jwks)


def assertion(key: Any, client_id: str, now: float, *, alg: str = "ES256", **overrides: Any) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER + "/token",
        "exp": int(now) + 60,
        "iat": int(now),
        "jti": secrets.token_urlsafe(16),
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"alg": alg, "typ": "JWT"}
    if getattr(key, "kid", None):
        header["kid"] = key.kid
    return jws.serialize_compact(header, orjson.dumps(claims), key, algorithms=[alg])


def with_assertion(http: TestClient, value: str, **extra: str) -> Any:
    form = {**CLIENT_CREDENTIALS, "client_assertion_type": ASSERTION_TYPE, "client_assertion": value, **extra}
    return http.post(TOKEN_URL, data=form)


def test_private_key_jwt(
    http: TestClient, container: Container, clock: FrozenClock, signed: Registered, client_key: ECKey
) -> None:
    assert signed.client.token_endpoint_auth_method is ClientAuthMethod.PRIVATE_KEY_JWT and signed.secret is None
    now = clock.now().timestamp()
    assert with_assertion(http, assertion(client_key, signed.client_id, now)).status_code == 200
    # the issuer is an accepted audience too, and client_id may be sent alongside
    by_issuer = assertion(client_key, signed.client_id, now, aud=[ISSUER])
    assert with_assertion(http, by_issuer, client_id=signed.client_id).status_code == 200


def test_a_replayed_assertion_is_refused(
    http: TestClient, clock: FrozenClock, signed: Registered, client_key: ECKey
) -> None:
    value = assertion(client_key, signed.client_id, clock.now().timestamp())
    assert with_assertion(http, value).status_code == 200
    assert_invalid_client(with_assertion(http, value), basic_challenge=False)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"aud": "https://elsewhere.example/token"}, "aud"),
        ({"aud": None}, "aud"),
        ({"exp": -1}, "expired"),
        ({"exp": None}, "expired"),
        ({"exp": 3600}, "at most"),
        ({"iss": "someone-else"}, "iss and sub"),
        ({"jti": None}, "jti"),
        ({"iat": 600}, "future"),
    ],
    ids=["wrong-aud", "no-aud", "expired", "no-exp", "too-long", "iss-not-sub", "no-jti", "iat-in-future"],
)
def test_bad_assertion_claims(
    http: TestClient, clock: FrozenClock, signed: Registered, client_key: ECKey, overrides: dict[str, Any], problem: str
) -> None:
    now = clock.now().timestamp()
    relative = {k: (int(now) + v if k in ("exp", "iat") and v is not None else v) for k, v in overrides.items()}
    response = with_assertion(http, assertion(client_key, signed.client_id, now, **relative))
    assert_invalid_client(response, basic_challenge=False)
    assert problem in response.json()["error_description"]


def test_an_assertion_signed_by_another_key_or_with_hmac_is_refused(
    http: TestClient, clock: FrozenClock, signed: Registered
) -> None:
    now = clock.now().timestamp()
    stranger = ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"})
    assert_invalid_client(with_assertion(http, assertion(stranger, signed.client_id, now)), basic_challenge=False)
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rp-key-1"})
    assert_invalid_client(
        with_assertion(http, assertion(rsa, signed.client_id, now, alg="RS256")), basic_challenge=False
    )
    hmac_key = OctKey.generate_key(256)
    hs256 = assertion(hmac_key, signed.client_id, now, alg="HS256")
    assert_invalid_client(with_assertion(http, hs256), basic_challenge=False)


def test_an_unsigned_assertion_is_refused(http: TestClient, clock: FrozenClock, signed: Registered) -> None:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    now = int(clock.now().timestamp())
    claims = {"iss": signed.client_id, "sub": signed.client_id, "aud": ISSUER, "exp": now + 60, "jti": "j1"}
    unsigned = f"{b64({'alg': 'none'})}.{b64(claims)}."
    assert_invalid_client(with_assertion(http, unsigned), basic_challenge=False)


def test_the_assertion_type_must_be_jwt_bearer(
    http: TestClient, clock: FrozenClock, signed: Registered, client_key: ECKey
) -> None:
    value = assertion(client_key, signed.client_id, clock.now().timestamp())
    response = with_assertion(http, value, client_assertion_type="urn:example:saml")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_presented_credentials_refuses_two_methods() -> None:
    with pytest.raises(OAuthError) as raised:
        presented_credentials({"client_secret": "s", "client_assertion": "a"}, None, realm="laposte")
    assert raised.value.error == "invalid_request"


def test_time_is_the_servers(http: TestClient, clock: FrozenClock, signed: Registered, client_key: ECKey) -> None:
    """The assertion's times are judged by the server's clock, not the test machine's."""
    real_now = time.time()
    if abs(real_now - clock.now().timestamp()) < 3600:
        pytest.skip("the frozen clock is too close to the real one to tell them apart")
    value = assertion(client_key, signed.client_id, real_now)
    assert_invalid_client(with_assertion(http, value), basic_challenge=False)

"""Tokens that are not what we issued are refused (RFC 9068 §4, RFC 8725 §3.1-3.2): a changed payload,
``alg: none``, an HMAC keyed with our public key, another tenant's key, another ``typ``, or simply
an expired token. UserInfo answers 401 with ``WWW-Authenticate: Bearer error="invalid_token"``, and
introspection ``{"active": false}``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc.tokens import sign
from tests.protocol.tokens_support import (
    TOKEN_URL,
    Registered,
    account,
    app,
    http,
    introspect,
    issue_code,
    jwks,
    post,
    register,
    rp,
    session,
    tenant,
    tokens,
    userinfo,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return orjson.loads(unb64(header)), orjson.loads(unb64(payload)), signature


def assemble(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(payload))}.{signature}"


@pytest.fixture
def issued(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> dict[str, str]:
    body = tokens(http, rp, issue_code(container, rp, account, session)[0])
    assert userinfo(http, body["access_token"]).status_code == 200  # the genuine token works
    return body


def assert_refused(http: TestClient, rp: Registered, token: str) -> None:
    response = userinfo(http, token)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="laposte", error="invalid_token"')
    assert response.json()["error"] == "invalid_token"
    assert introspect(http, rp, token) == {"active": False}


def test_a_modified_payload(http: TestClient, rp: Registered, issued: dict[str, str]) -> None:
    header, payload, signature = parts(issued["access_token"])
    for change in ({"scope": "openid profile email phone"}, {"sub": "someone-else"}, {"exp": payload["exp"] + 3600}):
        assert_refused(http, rp, assemble(header, {**payload, **change}, signature))


def test_alg_none(http: TestClient, rp: Registered, issued: dict[str, str]) -> None:
    header, payload, _signature = parts(issued["access_token"])
    for alg in ("none", "None", "NONE"):
        assert_refused(http, rp, assemble({**header, "alg": alg}, payload, ""))
    assert_refused(http, rp, assemble({"alg": "none", "typ": "at+jwt"}, payload, ""))


def test_hs256_keyed_with_our_public_key(http: TestClient, rp: Registered, issued: dict[str, str]) -> None:
    """The classic key-confusion attack: the public key, public to all, used as an HMAC secret."""
    header, payload, _signature = parts(issued["access_token"])
    public = jwks(http).get_by_kid(header["kid"])
    assert isinstance(public, ECKey)
    secrets_to_try = [public.as_pem(private=False), orjson.dumps(public.as_dict(private=False))]
    for secret in secrets_to_try:
        forged_header = {**header, "alg": "HS256"}
        signing_input = f"{b64(orjson.dumps(forged_header))}.{b64(orjson.dumps(payload))}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert_refused(http, rp, f"{signing_input}.{b64(mac)}")


def test_a_token_signed_with_another_tenants_key(
    http: TestClient, container: Container, rp: Registered, issued: dict[str, str]
) -> None:
    banque = container.tenants.create("banque", "La Banque")
    other_key = container.signing_keys.signer(banque)
    _header, payload, _signature = parts(issued["access_token"])
    # our claims, their key: the kid is not one of ours
    assert_refused(http, rp, sign(other_key, payload, typ="at+jwt"))
    # a genuine token of the other tenant is not valid here either
    elsewhere = register(container, banque, "Batch", grant_types=["client_credentials"], scopes=["openid"])
    their_token = post(http, "/banque/token", elsewhere, grant_type="client_credentials").json()["access_token"]
    assert userinfo(http, their_token).status_code == 401


def test_a_kid_pointing_at_nothing_or_a_changed_typ(http: TestClient, rp: Registered, issued: dict[str, str]) -> None:
    header, payload, signature = parts(issued["access_token"])
    assert_refused(http, rp, assemble({**header, "kid": "unknown"}, payload, signature))
    assert_refused(http, rp, assemble({**header, "jku": "https://evil.example/jwks"}, payload, signature))
    # an ID token is no access token (RFC 9068 §4: typ at+jwt), though signed by the same key
    assert_refused(http, rp, issued["id_token"])


def test_an_expired_token(http: TestClient, clock: FrozenClock, rp: Registered, issued: dict[str, str]) -> None:
    clock.advance(seconds=rp.client.metadata.access_token_lifetime_seconds + 1)
    assert_refused(http, rp, issued["access_token"])


def test_garbage(http: TestClient, rp: Registered, tenant: Tenant) -> None:
    for token in ("x", "a.b.c", "...", "é.é.é", "a" * 5000 + ".b.c"):
        response = http.get("/laposte/userinfo", headers={"Authorization": f"Bearer {token}".encode()})
        assert response.status_code == 401, token


def test_a_forged_token_gets_no_tokens_either(http: TestClient, rp: Registered, issued: dict[str, str]) -> None:
    """A refresh token is opaque: only the stored hash matters, a guess gets nothing."""
    genuine = issued["refresh_token"]
    # Two characters changed, never to what they were (a token ends in "AA" once in 1,024).
    guess = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")
    response = post(http, TOKEN_URL, rp, grant_type="refresh_token", refresh_token=guess)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"

"""Our JWTs: signed straight through ``cryptography`` and checked by an independent implementation
(joserfc), verified against the tenant's keys, with a verified signature remembered per KeySet."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.keys import KeySet
from sesame.oidc.tokens import (
    ACCESS_TOKEN_TYPE,
    InvalidAccessToken,
    decode_access_token,
    is_client_token,
    issue_client_access_token,
    sign,
    verify_signed,
)

ISSUER = "https://testserver/laposte"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> list[str]:
    return token.split(".")


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_signed_token_verifies_with_an_independent_implementation(
    container: Container, tenant: Tenant, alg: str
) -> None:
    signer = container.signing_keys.signer(tenant, alg)
    token = sign(signer, {"sub": "x", "n": 1}, typ="JWT")
    public = next(k for k in container.signing_keys.list(tenant) if k.kid == signer.kid).public_jwk
    key = ECKey.import_key(public) if alg == "ES256" else RSAKey.import_key(public)
    verified = jws.deserialize_compact(token, key, algorithms=[alg])
    assert verified.headers() == {"alg": alg, "kid": signer.kid, "typ": "JWT"}
    assert orjson.loads(verified.payload) == {"sub": "x", "n": 1}
    if alg == "ES256":  # RFC 7518 §3.4: R || S, 64 bytes, not DER
        assert len(base64.urlsafe_b64decode(parts(token)[2] + "==")) == 64


def test_two_signatures_of_the_same_claims_differ_but_both_verify(container: Container, tenant: Tenant) -> None:
    signer = container.signing_keys.signer(tenant)
    keys = container.signing_keys.keyset(tenant)
    now = container.clock.now()
    first, second = (sign(signer, {"sub": "x"}, typ="JWT") for _ in range(2))
    assert first != second  # ECDSA is randomised
    assert verify_signed(first, keys, now, typ="JWT") == verify_signed(second, keys, now, typ="JWT") == {"sub": "x"}


def client_token(container: Container, tenant: Tenant) -> str:
    return issue_client_access_token(
        container.signing_keys.signer(tenant),
        issuer=ISSUER,
        client_id="batch",
        scope="read",
        now=container.clock.now(),
        lifetime_seconds=600,
    ).token


def test_a_client_token_has_no_grant(container: Container, tenant: Tenant) -> None:
    keys = container.signing_keys.keyset(tenant)
    claims = decode_access_token(client_token(container, tenant), keys, issuer=ISSUER, now=container.clock.now())
    assert is_client_token(claims) and claims["sub"] == claims["client_id"] == "batch"
    assert claims["exp"] == int(container.clock.now().timestamp()) + 600


def test_a_remembered_signature_does_not_vouch_for_a_tampered_copy(container: Container, tenant: Tenant) -> None:
    keys = container.signing_keys.keyset(tenant)
    now = container.clock.now()
    token = client_token(container, tenant)
    header, payload, signature = parts(token)
    assert verify_signed(token, keys, now, typ=ACCESS_TOKEN_TYPE)["client_id"] == "batch"
    assert keys.verified(ACCESS_TOKEN_TYPE, token) is not None  # remembered
    forged_claims = {**orjson.loads(base64.urlsafe_b64decode(payload + "==")), "client_id": "other"}
    for forged in (
        f"{header}.{b64(orjson.dumps(forged_claims))}.{signature}",
        f"{b64(orjson.dumps({'alg': 'none', 'typ': 'at+jwt'}))}.{payload}.",
        f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'QQQQ'}",
    ):
        with pytest.raises(InvalidAccessToken):
            verify_signed(forged, keys, now, typ=ACCESS_TOKEN_TYPE)
    with pytest.raises(InvalidAccessToken):  # remembered for its own typ only
        verify_signed(token, keys, now, typ="JWT")


def test_the_memory_is_a_copy_and_dies_with_the_keyset(container: Container, tenant: Tenant) -> None:
    keys = container.signing_keys.keyset(tenant)
    now = container.clock.now()
    token = client_token(container, tenant)
    claims = verify_signed(token, keys, now, typ=ACCESS_TOKEN_TYPE)
    claims["client_id"] = "changed by a caller"
    assert verify_signed(token, keys, now, typ=ACCESS_TOKEN_TYPE)["client_id"] == "batch"
    container.signing_keys.rotate(tenant)  # a rotation replaces the process's KeySet
    fresh = container.signing_keys.keyset(tenant)
    assert isinstance(fresh, KeySet) and fresh is not keys and fresh.verified(ACCESS_TOKEN_TYPE, token) is None
    assert verify_signed(token, fresh, now, typ=ACCESS_TOKEN_TYPE)["client_id"] == "batch"  # still published


def test_expiry_is_checked_on_every_use(container: Container, tenant: Tenant) -> None:
    keys = container.signing_keys.keyset(tenant)
    token = client_token(container, tenant)
    now = container.clock.now()
    decode_access_token(token, keys, issuer=ISSUER, now=now)  # verified and remembered
    with pytest.raises(InvalidAccessToken, match="expired"):
        decode_access_token(token, keys, issuer=ISSUER, now=now + timedelta(seconds=600))


def test_a_grant_id_must_be_a_string(container: Container, tenant: Tenant) -> None:
    signer = container.signing_keys.signer(tenant)
    now = int(container.clock.now().timestamp())
    claims = {"iss": ISSUER, "sub": "s", "client_id": "c", "jti": "j", "exp": now + 60, "gid": 7}
    token = sign(signer, claims, typ=ACCESS_TOKEN_TYPE)
    with pytest.raises(InvalidAccessToken, match="gid"):
        decode_access_token(token, container.signing_keys.keyset(tenant), issuer=ISSUER, now=container.clock.now())

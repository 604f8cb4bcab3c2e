"""Client registration rules (sesame/oidc/clients.py): URIs, authentication, grants, scopes, keys."""

from __future__ import annotations

from typing import Any

import pytest

from sesame.oidc.clients import (
    InvalidClientMetadata,
    check_uri,
    check_uris,
    default_auth_method,
    response_types,
    validate_client,
)
from sesame.oidc.models import ClientAuthMethod, ClientMetadata, GrantType

EC_PUBLIC = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tie-_t7s5mwfyTi2gb1k3Xi7iQrk",
}


# -- redirect URIs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://rp.example/callback",
        "https://rp.example:8443/cb?tenant=a",  # a query is allowed (RFC 6749 §3.1.2)
        "http://127.0.0.1:8081/callback",  # loopback: development and native apps (RFC 8252 §7.3)
        "http://[::1]:8081/callback",
        "http://localhost:3000/cb",
    ],
)
def test_accepted_redirect_uris_are_kept_exactly(uri: str) -> None:
    assert check_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://rp.example/callback", "must use https"),
        ("http://127.0.0.1.evil.example/cb", "must use https"),
        ("https://rp.example/cb#section", "fragment"),
        ("https://rp.example/cb#", "fragment"),
        ("/callback", "absolute"),
        ("rp.example/callback", "absolute"),
        ("https:///callback", "absolute"),
        ("com.example.app:/oauth2redirect", "absolute"),
        ("javascript:alert(1)", "absolute"),
        ("ftp://rp.example/cb", "https"),
        ("https://user:pass@rp.example/cb", "user name"),
        ("https://*.rp.example/cb", "wildcards"),
        ("https://rp.example/cb ", "spaces"),
        ("", "spaces"),
        ("https://rp.example:99999/cb", "not a valid URI"),
        ("https://rp.example/" + "a" * 2000, "longer than"),
    ],
)
def test_refused_redirect_uris_say_why(uri: str, reason: str) -> None:
    with pytest.raises(InvalidClientMetadata, match=reason) as refused:
        check_uri(uri, "redirect_uris")
    assert refused.value.field == "redirect_uris"


def test_a_uri_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidClientMetadata, match="twice"):
        check_uris(["https://rp.example/cb", "https://rp.example/cb"], "redirect_uris")
    # Exact strings: these two are different URIs (the authorization endpoint will not equate them).
    assert check_uris(["https://rp.example/cb", "https://rp.example/cb/"], "redirect_uris") == (
        "https://rp.example/cb",
        "https://rp.example/cb/",
    )


# -- the registration as a whole ---------------------------------------------------------------------


def metadata(**fields: Any) -> ClientMetadata:
    fields.setdefault("redirect_uris", ("https://rp.example/cb",))
    return ClientMetadata(**fields)


def test_a_usual_confidential_client_is_valid() -> None:
    checked = validate_client(False, ClientAuthMethod.CLIENT_SECRET_BASIC, metadata())
    assert checked == metadata()
    assert response_types(checked) == ("code",)


def test_default_auth_methods() -> None:
    assert default_auth_method(True, None) is ClientAuthMethod.NONE
    assert default_auth_method(False, None) is ClientAuthMethod.CLIENT_SECRET_BASIC
    assert default_auth_method(False, {"keys": [EC_PUBLIC]}) is ClientAuthMethod.PRIVATE_KEY_JWT


@pytest.mark.parametrize(
    ("public", "method", "meta", "field", "reason"),
    [
        # The authentication method fits the kind of client.
        (True, ClientAuthMethod.CLIENT_SECRET_BASIC, {}, "token_endpoint_auth_method", "public client"),
        (False, ClientAuthMethod.NONE, {}, "token_endpoint_auth_method", "must authenticate"),
        # private_key_jwt needs the client's public keys, and only public ones.
        (False, ClientAuthMethod.PRIVATE_KEY_JWT, {}, "jwks", "needs the client's public keys"),
        (False, ClientAuthMethod.PRIVATE_KEY_JWT, {"jwks": {"keys": []}}, "jwks", "JWK Set"),
        (False, ClientAuthMethod.PRIVATE_KEY_JWT, {"jwks": {"keys": [{"x": "1"}]}}, "jwks", "JWK Set"),
        (
            False,
            ClientAuthMethod.PRIVATE_KEY_JWT,
            {"jwks": {"keys": [{**EC_PUBLIC, "d": "private"}]}},
            "jwks",
            "public keys only",
        ),
        (
            False,
            ClientAuthMethod.PRIVATE_KEY_JWT,
            {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
            "jwks",
            "public keys only",
        ),
        # Grants fit the client and each other.
        (False, ClientAuthMethod.CLIENT_SECRET_BASIC, {"grant_types": ()}, "grant_types", "at least one"),
        (False, ClientAuthMethod.CLIENT_SECRET_BASIC, {"redirect_uris": ()}, "redirect_uris", "redirect URI"),
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {"grant_types": (GrantType.REFRESH_TOKEN, GrantType.CLIENT_CREDENTIALS)},
            "grant_types",
            "comes with authorization_code",
        ),
        (
            True,
            ClientAuthMethod.NONE,
            {"grant_types": (GrantType.AUTHORIZATION_CODE, GrantType.CLIENT_CREDENTIALS)},
            "grant_types",
            "public client cannot use client_credentials",
        ),
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {
                "grant_types": (GrantType.CLIENT_CREDENTIALS,),
                "redirect_uris": (),
                "backchannel_logout_uri": "https://rp.example/bc",
            },
            "backchannel_logout_uri",
            "logout URIs need",
        ),
        # Logout URIs follow the redirect URI rules.
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {"post_logout_redirect_uris": ("http://rp.example/bye",)},
            "post_logout_redirect_uris",
            "https",
        ),
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {"backchannel_logout_uri": "https://rp.example/bc#x"},
            "backchannel_logout_uri",
            "fragment",
        ),
        # Scopes we know; offline_access with refresh tokens to carry it.
        (False, ClientAuthMethod.CLIENT_SECRET_BASIC, {"scopes": ("openid", "admin")}, "scopes", "unknown scope"),
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {"scopes": ("openid", "offline_access"), "grant_types": (GrantType.AUTHORIZATION_CODE,)},
            "scopes",
            "offline_access needs",
        ),
        # ID tokens signed with a real asymmetric algorithm.
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {"id_token_signed_response_alg": "none"},
            "id_token_signed_response_alg",
            "ES256",
        ),
        (
            False,
            ClientAuthMethod.CLIENT_SECRET_BASIC,
            {"id_token_signed_response_alg": "HS256"},
            "id_token_signed_response_alg",
            "ES256",
        ),
    ],
)
def test_inconsistent_registrations_are_refused(
    public: bool, method: ClientAuthMethod, meta: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidClientMetadata, match=reason) as refused:
        validate_client(public, method, metadata(**meta))
    assert refused.value.field == field


def test_other_valid_shapes() -> None:
    # A machine client: client_credentials only, no redirect URI, no response type.
    machine = metadata(grant_types=(GrantType.CLIENT_CREDENTIALS,), redirect_uris=(), scopes=())
    assert response_types(validate_client(False, ClientAuthMethod.CLIENT_SECRET_POST, machine)) == ()
    # A public native app on loopback, with PKCE and refresh tokens.
    native = metadata(redirect_uris=("http://127.0.0.1:53682/cb",), scopes=("openid", "offline_access"))
    validate_client(True, ClientAuthMethod.NONE, native)
    # private_key_jwt with a public key, RS256 ID tokens, the French identity scopes.
    keyed = metadata(
        jwks={"keys": [EC_PUBLIC]},
        id_token_signed_response_alg="RS256",
        scopes=("openid", "given_name", "family_name", "birthdate", "identite_pivot"),
    )
    validate_client(False, ClientAuthMethod.PRIVATE_KEY_JWT, keyed)

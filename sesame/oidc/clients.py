"""Validation of a client's registration: redirect URIs, authentication method, grants, scopes, keys.

OAuth 2.0 (RFC 6749 §2, §3.1.2), OAuth 2.0 Security BCP (RFC 9700 §2.1: exact redirect URI
matching), native apps (RFC 8252 §7.3: loopback redirects), client metadata names of RFC 7591 §2,
OpenID Connect Core §9 (client authentication) and Back-Channel Logout §2.2. Each rule is a small
named check; the first broken one raises :class:`InvalidClientMetadata` with a message for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sesame.oidc.claims import SCOPE_CLAIMS
from sesame.oidc.keys import SUPPORTED_ALGS
from sesame.oidc.models import ClientAuthMethod, ClientMetadata, GrantType

#: Loopback hosts where plain http is allowed (development and native apps, RFC 8252 §7.3).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: Every scope a client may register: OpenID Connect Core §5.4 and §11, and the identity set.
KNOWN_SCOPES: frozenset[str] = frozenset({"openid", "offline_access", *SCOPE_CLAIMS})
#: Methods that prove the client knows its secret.
SECRET_METHODS = frozenset({ClientAuthMethod.CLIENT_SECRET_BASIC, ClientAuthMethod.CLIENT_SECRET_POST})
#: The longest URI we store (the column's length).
MAX_URI_LENGTH = 2000
#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class InvalidClientMetadata(ValueError):
    """A registration that cannot be accepted; ``field`` names the metadata at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# -- URIs --------------------------------------------------------------------------------------------


def _parse_absolute(uri: str, field: str) -> SplitResult:
    """Absolute URI with a host, no fragment, no credentials, no wildcard, no whitespace."""
    if not uri or uri != uri.strip() or any(c.isspace() for c in uri):
        raise InvalidClientMetadata(f"{field}: {uri!r} must be a URI without spaces", field)
    if len(uri) > MAX_URI_LENGTH:
        raise InvalidClientMetadata(f"{field}: longer than {MAX_URI_LENGTH} characters", field)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as error:
        raise InvalidClientMetadata(f"{field}: {uri!r} is not a valid URI", field) from error
    if not parts.scheme or not parts.netloc or not parts.hostname:
        raise InvalidClientMetadata(f"{field}: {uri!r} must be an absolute URI (https://host/path)", field)
    if "#" in uri:
        raise InvalidClientMetadata(f"{field}: {uri!r} must not contain a fragment (#...)", field)
    if "@" in parts.netloc:
        raise InvalidClientMetadata(f"{field}: {uri!r} must not contain a user name or password", field)
    if "*" in uri:
        raise InvalidClientMetadata(f"{field}: {uri!r}: wildcards are not allowed, register each URI exactly", field)
    return parts


def _is_loopback(parts: SplitResult) -> bool:
    return (parts.hostname or "") in LOOPBACK_HOSTS  # hostname: lower-cased, IPv6 without brackets


def check_uri(uri: str, field: str = "redirect_uri") -> str:
    """One redirect (or logout) URI: absolute, no fragment, https, or http on a loopback host.

    The string is kept exactly as given: the authorization endpoint compares strings exactly
    (RFC 9700 §2.1), so what is registered is what must be sent.
    """
    parts = _parse_absolute(uri, field)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return uri
    if scheme == "http" and _is_loopback(parts):
        return uri
    if scheme == "http":
        raise InvalidClientMetadata(
            f"{field}: {uri!r} must use https (plain http only on 127.0.0.1, [::1] or localhost)", field
        )
    raise InvalidClientMetadata(f"{field}: {uri!r} must be an https URI", field)


def check_uris(uris: Iterable[str], field: str) -> tuple[str, ...]:
    """Each URI checked, duplicates refused (they are compared as exact strings)."""
    checked = tuple(check_uri(u, field) for u in uris)
    if len(set(checked)) != len(checked):
        raise InvalidClientMetadata(f"{field}: a URI is listed twice", field)
    return checked


# -- the registration as a whole ---------------------------------------------------------------------


def default_auth_method(public: bool, jwks: dict[str, Any] | None) -> ClientAuthMethod:
    """``none`` for public clients, ``private_key_jwt`` when keys are given, else ``client_secret_basic``."""
    if public:
        return ClientAuthMethod.NONE
    if jwks:
        return ClientAuthMethod.PRIVATE_KEY_JWT
    return ClientAuthMethod.CLIENT_SECRET_BASIC


def check_auth_method(public: bool, method: ClientAuthMethod) -> None:
    """A public client cannot keep a secret (``none``); a confidential one must authenticate."""
    if public and method is not ClientAuthMethod.NONE:
        raise InvalidClientMetadata(
            f"a public client cannot authenticate with {method.value}: its auth method is none (PKCE protects it)",
            "token_endpoint_auth_method",
        )
    if not public and method is ClientAuthMethod.NONE:
        raise InvalidClientMetadata(
            "a confidential client must authenticate: choose client_secret_basic, client_secret_post or "
            "private_key_jwt, or register the client as public",
            "token_endpoint_auth_method",
        )


def check_jwks(method: ClientAuthMethod, jwks: dict[str, Any] | None) -> None:
    """private_key_jwt needs the client's public keys (a JWK Set), and only public keys."""
    if jwks is None:
        if method is ClientAuthMethod.PRIVATE_KEY_JWT:
            raise InvalidClientMetadata("private_key_jwt needs the client's public keys (jwks)", "jwks")
        return
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) and "kty" in k for k in keys):
        raise InvalidClientMetadata('jwks must be a JWK Set: {"keys": [{"kty": ...}, ...]}', "jwks")
    for key in keys:
        if PRIVATE_JWK_MEMBERS & key.keys():
            raise InvalidClientMetadata("jwks must hold public keys only (a private or shared key was given)", "jwks")


def check_grant_types(public: bool, metadata: ClientMetadata) -> None:
    """Grants must fit the client: redirect URIs for the code flow, a credential for
    client_credentials and CIBA, a grant that logs people in under refresh tokens, the code flow
    under logout URIs."""
    grants = set(metadata.grant_types)
    if not grants:
        raise InvalidClientMetadata("a client needs at least one grant type", "grant_types")
    code_flow = GrantType.AUTHORIZATION_CODE in grants
    if code_flow and not metadata.redirect_uris:
        raise InvalidClientMetadata("the authorization_code grant needs at least one redirect URI", "redirect_uris")
    if GrantType.REFRESH_TOKEN in grants and not (code_flow or GrantType.CIBA in grants):
        raise InvalidClientMetadata(
            "the refresh_token grant comes with authorization_code or CIBA (refresh tokens are issued there)",
            "grant_types",
        )
    if GrantType.CLIENT_CREDENTIALS in grants and public:
        raise InvalidClientMetadata(
            "a public client cannot use client_credentials: it has no credential to prove who it is", "grant_types"
        )
    if GrantType.CIBA in grants and public:
        # CIBA 1.0 §4: "Only confidential clients are supported".
        raise InvalidClientMetadata(
            "a public client cannot use CIBA: the backchannel request is made by an authenticated client",
            "grant_types",
        )
    if not code_flow and (metadata.post_logout_redirect_uris or metadata.backchannel_logout_uri):
        raise InvalidClientMetadata(
            "logout URIs need the authorization_code grant (only that flow logs people in)",
            "post_logout_redirect_uris" if metadata.post_logout_redirect_uris else "backchannel_logout_uri",
        )


def response_types(metadata: ClientMetadata) -> tuple[str, ...]:
    """RFC 7591 §2.1: the response types that go with the grants (only ``code`` is offered)."""
    return ("code",) if GrantType.AUTHORIZATION_CODE in metadata.grant_types else ()


def check_scopes(metadata: ClientMetadata) -> None:
    """Only scopes we know; offline_access only with refresh tokens to carry it."""
    unknown = sorted(set(metadata.scopes) - KNOWN_SCOPES)
    if unknown:
        raise InvalidClientMetadata(
            f"unknown scope(s) {', '.join(unknown)}: known ones are {', '.join(sorted(KNOWN_SCOPES))}", "scopes"
        )
    if "offline_access" in metadata.scopes and GrantType.REFRESH_TOKEN not in metadata.grant_types:
        raise InvalidClientMetadata("offline_access needs the refresh_token grant", "scopes")


def check_signing_alg(metadata: ClientMetadata) -> None:
    """ID tokens are signed with one of the tenant's key types (never ``none``, never HS*)."""
    if metadata.id_token_signed_response_alg not in SUPPORTED_ALGS:
        raise InvalidClientMetadata(
            f"id_token_signed_response_alg must be one of {', '.join(SUPPORTED_ALGS)}", "id_token_signed_response_alg"
        )


def validate_client(public: bool, method: ClientAuthMethod, metadata: ClientMetadata) -> ClientMetadata:
    """Every rule, in order; returns the metadata with its URIs checked (unchanged otherwise)."""
    check_auth_method(public, method)
    check_jwks(method, metadata.jwks)
    redirect_uris = check_uris(metadata.redirect_uris, "redirect_uris")
    post_logout = check_uris(metadata.post_logout_redirect_uris, "post_logout_redirect_uris")
    if metadata.backchannel_logout_uri is not None:
        check_uri(metadata.backchannel_logout_uri, "backchannel_logout_uri")
    check_grant_types(public, metadata)
    check_scopes(metadata)
    check_signing_alg(metadata)
    return metadata.model_copy(update={"redirect_uris": redirect_uris, "post_logout_redirect_uris": post_logout})

"""The tokens we issue and check: JWT access tokens, ID tokens, opaque refresh tokens and codes.

Access tokens follow RFC 9068 (``typ: at+jwt``); ID tokens OpenID Connect Core §2 (with
``at_hash`` §3.1.3.6 and ``c_hash`` §3.3.2.11); subjects are pairwise per client (§8.1). Our own
tokens are verified against the tenant's keys only (never ``alg: none``, never an HMAC), and an
access token is valid only while its grant lives and its ``jti`` has not been revoked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError

from sesame.oidc.keys import ActiveKey, KeySet
from sesame.oidc.models import AccessTokenState, Grant
from sesame.ports import KeyedHasher, ProtocolReads

ACCESS_TOKEN_TYPE = "at+jwt"
#: The algorithms our keys sign with; anything else in a token's header is refused outright.
SIGNING_ALGORITHMS = frozenset({"ES256", "RS256"})
#: 256 random bits for codes and refresh tokens, 128 for a jti.
TOKEN_BYTES = 32
JTI_BYTES = 16
#: A token longer than this is not one of ours (checked before any base64 or crypto work).
MAX_TOKEN_LENGTH = 4096
SUB_PURPOSE = "oidc-sub"
SID_PURPOSE = "oidc-sid"
_HASH_OF_ALG = {"ES256": hashlib.sha256, "RS256": hashlib.sha256, "PS256": hashlib.sha256}


def new_token() -> str:
    """An opaque code or refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(value: str) -> str:
    """What the database keeps of a code or refresh token: its SHA-256 (hex). They carry 256
    random bits, so a fast unkeyed hash is enough: there is nothing to brute-force."""
    return hashlib.sha256(value.encode()).hexdigest()


def pairwise_sub(keyed: KeyedHasher, tenant_id: int, client_id: str, account_id: int) -> str:
    """OpenID Connect Core §8.1: a different ``sub`` for each client, so clients cannot join
    their users by it; stable for one client and account."""
    return keyed.digest(SUB_PURPOSE, f"{tenant_id}:{client_id}:{account_id}")[:40]


def session_sid(keyed: KeyedHasher, session_id: str) -> str:
    """The ``sid`` of ID and logout tokens (OpenID Connect Back-Channel Logout §2.1): a keyed hash
    of the browser session's id, never the id itself."""
    return keyed.digest(SID_PURPOSE, session_id)[:40]


def left_half_hash(value: str, alg: str) -> str:
    """``at_hash`` / ``c_hash`` (OpenID Connect Core §3.1.3.6, §3.3.2.11): base64url of the left
    half of the hash of ``value`` with the hash function of the ID token's ``alg``."""
    digest = _HASH_OF_ALG[alg](value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def sign(signer: ActiveKey, claims: Mapping[str, Any], *, typ: str) -> str:
    """A compact JWS of ``claims`` (serialised once, with orjson) signed by ``signer``, through
    joserfc: JOSE is never assembled by hand here (DESIGN.md "Protocols")."""
    header = {"alg": signer.alg, "kid": signer.kid, "typ": typ}
    return jws.serialize_compact(header, orjson.dumps(claims), signer.key, algorithms=[signer.alg])


# -- issuing -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    jti: str
    expires_at: datetime
    scope: str


def issue_access_token(
    signer: ActiveKey,
    *,
    issuer: str,
    grant: Grant,
    sub: str,
    scope: str,
    now: datetime,
    lifetime_seconds: int,
) -> IssuedAccessToken:
    """RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, then scope, auth_time, acr, amr; and
    ``gid``, our grant id, so that revoking the grant revokes the token."""
    claims = _access_claims(issuer, grant.client_id, sub, scope, now, lifetime_seconds)
    claims["gid"] = grant.id
    if grant.auth_time is not None:
        claims["auth_time"] = epoch(grant.auth_time)
    if grant.acr:
        claims["acr"] = grant.acr
    if grant.amr:
        claims["amr"] = list(grant.amr)
    return _signed_access_token(signer, claims, scope)


def issue_client_access_token(
    signer: ActiveKey, *, issuer: str, client_id: str, scope: str, now: datetime, lifetime_seconds: int
) -> IssuedAccessToken:
    """A client's own token (client_credentials, RFC 9068 §2.2: ``sub`` is the client_id). No
    ``gid``: no grant row stands behind it (ADR 0006); it dies with its client, or by its jti."""
    return _signed_access_token(
        signer, _access_claims(issuer, client_id, client_id, scope, now, lifetime_seconds), scope
    )


def _access_claims(
    issuer: str, client_id: str, sub: str, scope: str, now: datetime, lifetime_seconds: int
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "sub": sub,
        "aud": client_id,
        "client_id": client_id,
        "exp": epoch(now) + lifetime_seconds,
        "iat": epoch(now),
        "jti": secrets.token_urlsafe(JTI_BYTES),
        "scope": scope,
    }


def _signed_access_token(signer: ActiveKey, claims: dict[str, Any], scope: str) -> IssuedAccessToken:
    expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)
    token = sign(signer, claims, typ=ACCESS_TOKEN_TYPE)
    return IssuedAccessToken(token=token, jti=claims["jti"], expires_at=expires_at, scope=scope)


def issue_id_token(
    signer: ActiveKey,
    *,
    issuer: str,
    grant: Grant,
    sub: str,
    now: datetime,
    lifetime_seconds: int,
    access_token: str | None = None,
    code: str | None = None,
    nonce: str | None = None,
    sid: str | None = None,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """OpenID Connect Core §2: iss, sub, aud, exp, iat, auth_time, nonce, acr, amr, azp; ``at_hash``
    of the access token issued with it; ``sid``; ``gid``; and the claims asked for the ID token."""
    body: dict[str, Any] = dict(claims or {})
    body.update(
        {
            "iss": issuer,
            "sub": sub,
            "aud": grant.client_id,
            "azp": grant.client_id,
            "exp": epoch(now + timedelta(seconds=lifetime_seconds)),
            "iat": epoch(now),
            "gid": grant.id,
        }
    )
    if grant.auth_time is not None:
        body["auth_time"] = epoch(grant.auth_time)
    if nonce:
        body["nonce"] = nonce
    if grant.acr:
        body["acr"] = grant.acr
    if grant.amr:
        body["amr"] = list(grant.amr)
    if sid:
        body["sid"] = sid
    if access_token is not None:
        body["at_hash"] = left_half_hash(access_token, signer.alg)
    if code is not None:
        body["c_hash"] = left_half_hash(code, signer.alg)
    return sign(signer, body, typ="JWT")


# -- verifying our own access tokens -----------------------------------------------------------------


class InvalidAccessToken(Exception):
    """Not an access token of ours that is valid now (the reason is for logs, not for clients)."""


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2


def decode_access_token(token: str, keys: KeySet, *, issuer: str, now: datetime) -> dict[str, Any]:
    """RFC 9068 §4: the claims of an access token we signed, checked for signature, ``typ``,
    ``iss`` and ``exp``; :class:`InvalidAccessToken` otherwise. Only the tenant's keys verify,
    only with the algorithm the key itself was made for: no ``none``, no HMAC, no key confusion.
    Whether the token was revoked is :func:`access_token_grant`'s question (it needs the database).
    """
    claims = verify_signed(token, keys, now, typ=ACCESS_TOKEN_TYPE)
    if claims.get("iss") != issuer:
        raise InvalidAccessToken("issued by another issuer")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= epoch(now):
        raise InvalidAccessToken("expired")
    for name in ("jti", "client_id", "sub"):
        if not isinstance(claims.get(name), str):
            raise InvalidAccessToken(f"no {name}")
    if "gid" in claims and not isinstance(claims["gid"], str):
        raise InvalidAccessToken("gid is not a string")
    return claims


def verify_signed(token: str, keys: KeySet, now: datetime, *, typ: str) -> dict[str, Any]:
    """The payload of a JWS signed by one of the tenant's published ``keys``, with the ``typ`` we
    gave it and the algorithm its key was made for."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not looks_like_jwt(token):
        raise InvalidAccessToken("not a JWT")
    remembered = keys.verified(typ, token)
    if remembered is not None:
        return remembered
    try:
        raw = token.encode("ascii")
        header = jws.extract_compact(raw).headers()
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in SIGNING_ALGORITHMS or not isinstance(kid, str) or header.get("typ") != typ:
            raise InvalidAccessToken("unexpected header")
        if set(header) - {"alg", "kid", "typ"}:  # no crit, b64 or jku games: we never write them
            raise InvalidAccessToken("unexpected header")
        key = keys.public_key(kid, now)
        if key is None:
            raise InvalidAccessToken("unknown or unpublished key")
        if key.alg != alg:
            raise InvalidAccessToken("algorithm does not match the key")
        payload = jws.deserialize_compact(raw, key, algorithms=[alg]).payload
        claims = orjson.loads(payload)
    except (JoseError, ValueError, TypeError, KeyError, UnicodeEncodeError) as error:
        raise InvalidAccessToken("bad signature or encoding") from error
    if not isinstance(claims, dict):
        raise InvalidAccessToken("not a JSON object")
    keys.remember_verified(typ, token, claims)
    return claims


def is_client_token(claims: Mapping[str, Any]) -> bool:
    """A client's own token (client_credentials): no grant, and the client is its subject."""
    return "gid" not in claims


def live_access_token(reads: ProtocolReads, claims: Mapping[str, Any], now: datetime) -> Grant | None:
    """Whether a decoded access token still holds, in one read: :class:`InvalidAccessToken` when
    the token was revoked (its ``jti``), or its grant was (a replayed code, a logout, a password
    reset...), or for a client's own token its client was disabled. Returns the live grant of a
    person's token, None for a client's own token."""
    client_id = str(claims["client_id"])
    grant_id = None if is_client_token(claims) else str(claims["gid"])
    state = reads.access_token(str(claims["jti"]), grant_id, client_id)
    if state.revoked:
        raise InvalidAccessToken("token revoked")
    if grant_id is None:
        _check_client_token(state, claims)
        return None
    grant = state.grant
    if grant is None or not grant.active or grant.client_id != client_id or grant.expires_at <= now:
        raise InvalidAccessToken("grant revoked or expired")
    return grant


def _check_client_token(state: AccessTokenState, claims: Mapping[str, Any]) -> None:
    if claims["sub"] != claims["client_id"]:
        raise InvalidAccessToken("a token without a grant is its client's own")
    if state.client_tenant_id is None or not state.client_enabled:
        raise InvalidAccessToken("client unknown or disabled")


def scopes_of(scope: str) -> Sequence[str]:
    """A space-delimited scope (RFC 6749 §3.3) as a list, duplicates dropped, order kept."""
    return list(dict.fromkeys(part for part in scope.split(" ") if part))

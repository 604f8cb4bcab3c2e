"""Validating a logout token, as an RP must (OpenID Connect Back-Channel Logout 1.0, §2.6).

Authlib's client has no back-channel logout support, so the partner checks the token itself
with joserfc: signature against the issuer's JWKS, ``iss``, ``aud``, ``iat``, ``exp``, the
logout event, a ``sid`` or ``sub``, no ``nonce``, and a ``jti`` not seen before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Asymmetric algorithms only: "none" and HS* are refused (§2.6 step 2: the OP signs with its keys).
ALGORITHMS = ["ES256", "RS256"]
LEEWAY_SECONDS = 120


class InvalidLogoutToken(Exception):
    """The token fails one of §2.6's checks (the message says which; it never quotes the token)."""


class SeenTokens:
    """``jti`` values already accepted, kept until their token expires (§2.6 step 8: no replay)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_time(self, jti: str, expires_at: float, now: float) -> bool:
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if jti in self._seen:
                return False
            self._seen[jti] = expires_at + LEEWAY_SECONDS
            return True


def _claims(token: str, jwks: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """§2.6 steps 1-2: a JWS signed by one of the issuer's keys with an expected algorithm."""
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(dict(jwks)), algorithms=ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError) as error:
        raise InvalidLogoutToken(f"not a logout token signed by the issuer ({type(error).__name__})") from None
    return dict(decoded.header), dict(decoded.claims)


def validate_logout_token(
    token: str, jwks: Mapping[str, Any], *, issuer: str, client_id: str, seen: SeenTokens, now: float | None = None
) -> dict[str, Any]:
    """The token's claims if it is a valid logout token for ``client_id`` from ``issuer``."""
    header, claims = _claims(token, jwks)
    now = time.time() if now is None else now
    if header.get("typ") not in (None, "logout+jwt"):  # §2.4: "logout+jwt" when a typ is given
        raise InvalidLogoutToken("typ is not logout+jwt")
    if claims.get("iss") != issuer:
        raise InvalidLogoutToken("iss is not the issuer")
    audience = claims.get("aud")
    if not (audience == client_id or (isinstance(audience, list) and client_id in audience)):
        raise InvalidLogoutToken("aud is not this client")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or iat > now + LEEWAY_SECONDS:
        raise InvalidLogoutToken("iat is missing or in the future")
    if not isinstance(exp, int) or exp < now - LEEWAY_SECONDS:
        raise InvalidLogoutToken("the token has expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("events lacks the back-channel logout event")
    if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("sub"), str):
        raise InvalidLogoutToken("neither sid nor sub")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token has no nonce")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not seen.first_time(jti, float(exp), now):
        raise InvalidLogoutToken("jti missing or already used")
    return claims

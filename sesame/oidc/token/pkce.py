"""Proof Key for Code Exchange at the token endpoint (RFC 7636 §4.5, §4.6), S256 only.

A hook of the authorization_code grant, as Authlib attaches its ``CodeChallenge`` extension. The
authorization endpoint refuses ``plain`` and requires a challenge from public clients; here the
verifier must match the challenge the code was issued with, and a verifier sent for a code issued
without one is refused too: that is a downgrade attempt (an attacker who stripped the challenge).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sesame.oidc.models import AuthorizationCode, OidcClient
from sesame.oidc.token.errors import INVALID_GRANT, INVALID_REQUEST, OAuthError

S256 = "S256"
#: RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
CODE_VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_code_verifier(code: AuthorizationCode, verifier: str | None, client: OidcClient) -> None:
    """RFC 7636 §4.6, as an ``OAuthError`` when the proof is missing or wrong."""
    if code.code_challenge is None:
        # Public clients always send a challenge (the authorization endpoint insists): no proof
        # of possession at all would let anyone who sees the code redeem it.
        if client.public:
            raise OAuthError(INVALID_GRANT, "a public client's code needs PKCE")
        if verifier is not None:
            raise OAuthError(INVALID_GRANT, "code_verifier sent for a code issued without code_challenge")
        return
    if verifier is None:
        raise OAuthError(INVALID_GRANT, "code_verifier is required: the code was issued with a code_challenge")
    if not CODE_VERIFIER_RE.fullmatch(verifier):
        raise OAuthError(INVALID_REQUEST, "code_verifier must be 43 to 128 unreserved characters")
    if code.code_challenge_method != S256:
        raise OAuthError(INVALID_GRANT, "only the S256 code_challenge_method is supported")
    if not hmac.compare_digest(s256_challenge(verifier), code.code_challenge):
        raise OAuthError(INVALID_GRANT, "code_verifier does not match the code_challenge")

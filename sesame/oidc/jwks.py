"""The JWK Set a tenant publishes at ``/{tenant}/jwks``: its signing keys' public halves.

JSON Web Key (RFC 7517 §5, "JWK Set Format"; §8.5 registers ``application/jwk-set+json``) and
OpenID Connect Discovery 1.0 §3 (``jwks_uri``). Which keys are published when (new ones at once,
retired ones until their tokens expired) is decided in sesame/oidc/keys.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import orjson

from sesame.oidc.models import SigningKey

MEDIA_TYPE = "application/jwk-set+json"
#: How long a client or a shared cache may keep the document: a new key must reach clients within
#: the activation delay (60 s), of which a worker's own cache (30 s) already takes half.
MAX_AGE = timedelta(seconds=30)
#: The only members a published key keeps (RFC 7517 §4, RFC 7518 §6): never a private one.
PUBLIC_MEMBERS = frozenset({"kty", "kid", "use", "alg", "crv", "x", "y", "n", "e"})


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """The key as published: its public members only, whatever the stored document holds."""
    return {name: value for name, value in key.public_jwk.items() if name in PUBLIC_MEMBERS}


def jwk_set(keys: Iterable[SigningKey]) -> dict[str, Any]:
    """RFC 7517 §5: ``{"keys": [...]}``."""
    return {"keys": [public_jwk(k) for k in keys]}


def serialise(keys: Iterable[SigningKey]) -> bytes:
    return orjson.dumps(jwk_set(keys))


def etag(body: bytes) -> str:
    """A strong entity tag for a serialised document (RFC 9110 §8.8.3), made once with it: a
    client that kept the document revalidates it with ``If-None-Match`` and gets a 304."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

"""A tenant's signing keys: generation, encryption at rest, and which key signs and which are published.

JSON Web Key (RFC 7517), JWK thumbprint as ``kid`` (RFC 7638), ES256 / RS256 (RFC 7518 §3.4, §3.3).
Rotation without a failed verification anywhere:

* a new key is published in the JWKS at once but signs only ``ACTIVATION_DELAY`` later, longer
  than any worker's cache, so every JWKS a client can fetch lists it before the first token
  signed with it exists (the first key of a tenant, having no predecessor, signs at once);
* the key it replaces is retired but keeps signing until then, and stays published until
  ``publish_until``: the end of that hand-over plus the longest token lifetime of the tenant's
  clients, when every token it signed has expired.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, RSAKey
from joserfc.jwk import KeySet as JoseKeySet

from sesame.oidc.jwks import etag, jwk_set, serialise
from sesame.oidc.models import ClientMetadata, KeyStatus, OidcClient, SigningKey

#: A new key signs only this long after it is published (longer than sesame.oidc.cache.DEFAULT_TTL).
ACTIVATION_DELAY = timedelta(seconds=60)
DEFAULT_ALG = "ES256"
SUPPORTED_ALGS = ("ES256", "RS256")
RSA_KEY_BITS = 2048
#: The HKDF purpose of the key that encrypts private keys at rest.
ENCRYPTION_PURPOSE = "signing-keys"
#: Verified tokens remembered per KeySet (see :meth:`KeySet.verified`).
MAX_VERIFIED = 10_000

PrivateKey = ECKey | RSAKey


class KeyDecryptionError(Exception):
    """A stored private key cannot be decrypted: the server secret is not the one it was made with."""


class UnsupportedAlgorithm(ValueError):
    """Only ES256 and RS256 keys are made (no HS*: a shared secret cannot be published)."""


class KeyEncryption:
    """Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the server secret with HKDF,
    so a copy of the database alone does not give away the tenants' private keys."""

    def __init__(self, server_secret: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"sesame/encryption/v1", info=ENCRYPTION_PURPOSE.encode()
        ).derive(server_secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, private_jwk: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(private_jwk)).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            document: dict[str, Any] = orjson.loads(self._fernet.decrypt(token.encode("ascii")))
        except InvalidToken as error:
            raise KeyDecryptionError("the signing key was encrypted under another server secret") from error
        return document


def _generate(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "RS256":
        return RSAKey.generate_key(RSA_KEY_BITS)
    raise UnsupportedAlgorithm(f"unsupported signing algorithm {alg!r}: use one of {', '.join(SUPPORTED_ALGS)}")


def creation_time(existing: Iterable[SigningKey], now: datetime) -> datetime:
    """``now``, or just after the tenant's newest key if that is not earlier: keys are strictly
    ordered by creation, so "the tenant's first key" and "the newest key" are never a tie."""
    latest = max((k.created_at for k in existing), default=None)
    if latest is not None and latest >= now:
        return latest + timedelta(microseconds=1)
    return now


def new_signing_key(tenant_id: int, alg: str, now: datetime, encryption: KeyEncryption) -> SigningKey:
    """A fresh key pair, its private half encrypted, its public half ready for the JWKS."""
    key = _generate(alg)
    kid = key.thumbprint()  # RFC 7638: the same key always has the same kid
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    return SigningKey(
        kid=kid,
        tenant_id=tenant_id,
        alg=alg,
        private_jwk_encrypted=encryption.encrypt(key.as_dict(private=True)),
        public_jwk=public,
        status=KeyStatus.ACTIVE,
        created_at=now,
    )


def longest_token_lifetime(clients: Iterable[OidcClient]) -> timedelta:
    """The longest ID or access token lifetime of these clients (disabled ones too: their tokens
    may still be out there), never less than the default's."""
    default = ClientMetadata()
    seconds = max(default.access_token_lifetime_seconds, default.id_token_lifetime_seconds)
    for client in clients:
        meta = client.metadata
        seconds = max(seconds, meta.access_token_lifetime_seconds, meta.id_token_lifetime_seconds)
    return timedelta(seconds=seconds)


def retire(key: SigningKey, now: datetime, longest_token_lifetime: timedelta) -> None:
    """Mark ``key`` retired at ``now``: it may sign for one more activation delay (until its
    successor is ready), so it is published until that plus the longest token lifetime."""
    key.status = KeyStatus.RETIRED
    key.retired_at = now
    key.publish_until = now + ACTIVATION_DELAY + longest_token_lifetime


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The key that signs now: put ``kid`` and ``alg`` in the JWS header, sign with ``key``
    (a joserfc key)."""

    kid: str
    alg: str
    key: PrivateKey


class KeySet:
    """A tenant's keys at one moment (loaded from the database, cached a few seconds per worker).

    The rules depend on the time, so every question takes ``now``: one cached KeySet answers
    correctly while keys activate and expire. Private keys are decrypted once, when first used.
    """

    def __init__(
        self, keys: Sequence[SigningKey], encryption: KeyEncryption, activation_delay: timedelta = ACTIVATION_DELAY
    ) -> None:
        self.keys: tuple[SigningKey, ...] = tuple(sorted(keys, key=lambda k: k.created_at, reverse=True))
        self._encryption = encryption
        self._delay = activation_delay
        self._private: dict[str, ActiveKey] = {}
        self._public: dict[str, PrivateKey] = {}
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}
        self._jwks: tuple[datetime, datetime | None, bytes, str] | None = None

    # -- signing ---------------------------------------------------------------------------------

    def _ready(self, key: SigningKey, oldest: SigningKey, now: datetime) -> bool:
        """Published long enough for every worker's JWKS to list it (a first key: at once)."""
        return key is oldest or key.created_at + self._delay <= now

    def _still_signing(self, key: SigningKey, now: datetime) -> bool:
        """Active, or retired less than an activation delay ago (its successor not ready yet)."""
        if key.status is KeyStatus.ACTIVE:
            return True
        return key.retired_at is not None and key.retired_at + self._delay > now

    def signing_key(self, now: datetime, alg: str = DEFAULT_ALG) -> ActiveKey | None:
        """The key that signs at ``now`` with ``alg``: the newest one ready and still signing.
        None when the tenant has no key of that algorithm."""
        candidates = [k for k in self.keys if k.alg == alg]
        if not candidates:
            return None
        oldest = candidates[-1]
        for key in candidates:
            if self._ready(key, oldest, now) and self._still_signing(key, now):
                return self._activate(key)
        # Only when the clock went back past a key's creation: signing with the newest active key
        # is better than not signing at all.
        active = [k for k in candidates if k.status is KeyStatus.ACTIVE]
        return self._activate(active[0]) if active else None

    def _activate(self, key: SigningKey) -> ActiveKey:
        found = self._private.get(key.kid)
        if found is None:
            document = self._encryption.decrypt(key.private_jwk_encrypted)
            private: PrivateKey = ECKey.import_key(document) if key.alg == "ES256" else RSAKey.import_key(document)
            found = self._private[key.kid] = ActiveKey(kid=key.kid, alg=key.alg, key=private)
        return found

    # -- publication -----------------------------------------------------------------------------

    @staticmethod
    def is_published(key: SigningKey, now: datetime) -> bool:
        if key.status is KeyStatus.ACTIVE:
            return True
        return key.publish_until is not None and key.publish_until > now

    def published(self, now: datetime) -> list[SigningKey]:
        """The keys a verifier may meet at ``now``, newest first."""
        return [k for k in self.keys if self.is_published(k, now)]

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The JWK Set document (RFC 7517 §5): public keys only."""
        return jwk_set(self.published(now))

    def jwks_bytes(self, now: datetime) -> bytes:
        """:meth:`jwks` serialised once, until the published set changes (a key expires)."""
        return self.jwks_document(now)[0]

    def jwks_document(self, now: datetime) -> tuple[bytes, str]:
        """:meth:`jwks_bytes` and its ``ETag``, both made once per published set."""
        cached = self._jwks
        if cached is not None and cached[0] <= now and (cached[1] is None or now < cached[1]):
            return cached[2], cached[3]
        body = serialise(self.published(now))
        self._jwks = (now, self.next_change(now), body, etag(body))
        return body, self._jwks[3]

    def next_change(self, now: datetime) -> datetime | None:
        """The next moment the signing key or the published set changes (None: not before a rotation)."""
        moments = [k.created_at + self._delay for k in self.keys]
        moments += [k.retired_at + self._delay for k in self.keys if k.retired_at is not None]
        moments += [k.publish_until for k in self.keys if k.publish_until is not None]
        future = [m for m in moments if m > now]
        return min(future) if future else None

    # -- verification ----------------------------------------------------------------------------

    def public_key(self, kid: str, now: datetime) -> PrivateKey | None:
        """The published public key ``kid``, to verify a token this tenant signed (None: unknown
        or no longer published, so the token cannot be valid any more)."""
        for key in self.keys:
            if key.kid == kid and self.is_published(key, now):
                found = self._public.get(kid)
                if found is None:
                    imported: PrivateKey = (
                        ECKey.import_key(key.public_jwk) if key.alg == "ES256" else RSAKey.import_key(key.public_jwk)
                    )
                    found = self._public[kid] = imported
                return found
        return None

    # A resource server introspects (or calls userinfo with) the same token again and again: its
    # signature, checked once, is remembered with this KeySet (so for 30 s at most, and never
    # past a rotation, which replaces the KeySet). Only the signature: expiry, revocation and the
    # grant are checked on every request.

    def verified(self, typ: str, token: str) -> dict[str, Any] | None:
        """The payload of ``token`` if its signature was verified before (a copy)."""
        found = self._verified.get((typ, token))
        return dict(found) if found is not None else None

    def remember_verified(self, typ: str, token: str, claims: dict[str, Any]) -> None:
        if len(self._verified) >= MAX_VERIFIED:
            self._verified.clear()  # rare: simpler than an LRU, and bounded
        self._verified[(typ, token)] = dict(claims)

    def verification_keys(self, now: datetime) -> JoseKeySet:
        """Every published public key as a joserfc KeySet (``jwt.decode`` picks one by ``kid``)."""
        return JoseKeySet.import_key_set(self.jwks(now))  # type: ignore[arg-type]

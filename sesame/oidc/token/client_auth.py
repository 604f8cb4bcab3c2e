"""Client authentication at the token, introspection and revocation endpoints.

RFC 6749 §2.3 (``client_secret_basic`` §2.3.1, ``client_secret_post``), OpenID Connect Core §9
(``private_key_jwt``, a JWT assertion per RFC 7523 §3) and ``none`` for public clients. A request
uses exactly one method, and it must be the one the client registered.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from sesame.domain.tenants import Tenant
from sesame.oidc.models import ClientAuthMethod, OidcClient
from sesame.oidc.token.errors import INVALID_REQUEST, OAuthError, invalid_client
from sesame.ports import Counters, KeyedHasher

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Asymmetric algorithms only: a client_secret_jwt (HS256) assertion is not private_key_jwt.
ASSERTION_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")
#: An assertion is a one-shot proof: one valid for longer is refused (its jti is remembered this long).
MAX_ASSERTION_LIFETIME_SECONDS = 600
#: Tolerance for a client whose clock is a little ahead (``iat`` and ``nbf`` in the near future).
CLOCK_SKEW_SECONDS = 30
MAX_ASSERTION_LENGTH = 8192
MAX_CLIENT_ID_LENGTH = 64
MAX_SECRET_LENGTH = 256
SECRET_PURPOSE = "client-secret"

#: ``(tenant_id, client_id)`` to the client (a cached read), None when unknown or of another tenant.
ClientLookup = Callable[[int, str], OidcClient | None]
RefusalRecorder = Callable[[OidcClient, str], None]


@dataclass(frozen=True, slots=True)
class PresentedCredentials:
    """What the request carries to prove who the client is (one method, RFC 6749 §2.3)."""

    method: ClientAuthMethod
    client_id: str
    secret: str | None = None
    assertion: str | None = None


def _basic_credentials(authorization: str, realm: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(client_id) ":" urlencode(secret))``."""
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except ValueError as error:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        raise invalid_client("malformed HTTP Basic credentials", basic_realm=realm) from error
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise invalid_client("malformed HTTP Basic credentials", basic_realm=realm)
    return unquote_plus(client_id), unquote_plus(secret)


def presented_credentials(form: Mapping[str, str], authorization: str | None, *, realm: str) -> PresentedCredentials:
    """Which one authentication method the request uses, and its material.

    RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    request"; a request with none is a public client's (``client_id`` alone) or no client at all.
    """
    basic = authorization is not None and authorization[:6].lower() == "basic "
    in_post = "client_secret" in form
    in_jwt = "client_assertion" in form or "client_assertion_type" in form
    if basic + in_post + in_jwt > 1:
        raise OAuthError(INVALID_REQUEST, "use exactly one client authentication method")
    form_client_id = form.get("client_id")
    if basic:
        assert authorization is not None
        client_id, secret = _basic_credentials(authorization, realm)
        if form_client_id is not None and form_client_id != client_id:
            raise OAuthError(INVALID_REQUEST, "client_id differs from the HTTP Basic credentials")
        return PresentedCredentials(ClientAuthMethod.CLIENT_SECRET_BASIC, client_id, secret=secret)
    if in_jwt:
        return _assertion_credentials(form)
    if not form_client_id:
        raise invalid_client("client authentication is required")
    if in_post:
        return PresentedCredentials(ClientAuthMethod.CLIENT_SECRET_POST, form_client_id, secret=form["client_secret"])
    return PresentedCredentials(ClientAuthMethod.NONE, form_client_id)


def _assertion_credentials(form: Mapping[str, str]) -> PresentedCredentials:
    """RFC 7523 §2.2: the assertion names the client (``sub``); ``client_id``, if sent, agrees."""
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise OAuthError(INVALID_REQUEST, f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
    assertion = form.get("client_assertion", "")
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        raise invalid_client("client_assertion is missing or too long")
    subject = _unverified_claims(assertion).get("sub")
    if not isinstance(subject, str) or not subject:
        raise invalid_client("the client assertion has no sub")
    form_client_id = form.get("client_id")
    if form_client_id is not None and form_client_id != subject:
        raise invalid_client("client_id differs from the assertion's sub")
    return PresentedCredentials(ClientAuthMethod.PRIVATE_KEY_JWT, subject, assertion=assertion)


def _unverified_claims(assertion: str) -> dict[str, Any]:
    """The payload before the signature is checked: only to find whose keys check it."""
    try:
        payload = orjson.loads(jws.extract_compact(assertion.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeEncodeError) as error:
        raise invalid_client("the client assertion is not a signed JWT") from error
    if not isinstance(payload, dict):
        raise invalid_client("the client assertion is not a signed JWT")
    return payload


@dataclass(slots=True)
class ClientAuthenticator:
    """Authenticates the client of one request (RFC 6749 §2.3, OpenID Connect Core §9).

    ``find_client`` reads the (cached) client; ``counters`` remember the ``jti`` of every
    accepted assertion until it expires, in storage every worker shares, so a replayed
    assertion is refused wherever it lands; ``on_refused`` records notable refusals (audit).
    """

    find_client: ClientLookup
    keyed: KeyedHasher
    counters: Counters
    on_refused: RefusalRecorder | None = None

    def authenticate(
        self,
        tenant: Tenant,
        form: Mapping[str, str],
        authorization: str | None,
        *,
        now: datetime,
        audiences: Collection[str],
    ) -> OidcClient:
        """The authenticated client, or ``OAuthError`` (401 ``invalid_client``, with a ``Basic``
        challenge when Basic was tried; 400 ``invalid_request`` for a malformed request).

        ``audiences``: what a ``private_key_jwt`` assertion may name in ``aud`` (the endpoint's
        URL and the issuer).
        """
        realm = tenant.slug
        presented = presented_credentials(form, authorization, realm=realm)
        basic_realm = realm if presented.method is ClientAuthMethod.CLIENT_SECRET_BASIC else None
        client = self._client(tenant, presented.client_id)
        if client is None:
            raise invalid_client("unknown client", basic_realm=basic_realm)
        if presented.method is not client.token_endpoint_auth_method:
            self._refused(client, "wrong_method")
            raise invalid_client(
                f"this client authenticates with {client.token_endpoint_auth_method.value}", basic_realm=basic_realm
            )
        if presented.method is ClientAuthMethod.NONE:
            if not client.public:  # a confidential client registered with "none" is a misconfiguration
                raise invalid_client("client authentication is required", basic_realm=basic_realm)
        elif presented.method is ClientAuthMethod.PRIVATE_KEY_JWT:
            assert presented.assertion is not None
            self._check_assertion(client, presented.assertion, now, audiences)
        elif not self._secret_matches(client, presented.secret or ""):
            self._refused(client, "wrong_secret")
            raise invalid_client("wrong client secret", basic_realm=basic_realm)
        return client

    def _client(self, tenant: Tenant, client_id: str) -> OidcClient | None:
        if len(client_id) > MAX_CLIENT_ID_LENGTH:
            return None
        client = self.find_client(tenant.id, client_id)
        if client is None or client.tenant_id != tenant.id or not client.enabled:
            return None
        return client

    def _secret_matches(self, client: OidcClient, secret: str) -> bool:
        if client.secret_hash is None or not secret or len(secret) > MAX_SECRET_LENGTH:
            return False
        return self.keyed.matches(SECRET_PURPOSE, secret, client.secret_hash)

    def _refused(self, client: OidcClient, reason: str) -> None:
        if self.on_refused is not None:
            self.on_refused(client, reason)

    # -- private_key_jwt ---------------------------------------------------------------------------

    def _check_assertion(self, client: OidcClient, assertion: str, now: datetime, audiences: Collection[str]) -> None:
        """OpenID Connect Core §9 and RFC 7523 §3: signed by one of the client's registered keys,
        iss = sub = client_id, aud names us, not expired, and a jti never seen before."""
        claims = self._verified_claims(client, assertion)
        problem = _assertion_problem(claims, client.client_id, now, audiences)
        if problem is None and not self._first_use(client, claims, now):
            problem = "the client assertion was already used"
        if problem is not None:
            self._refused(client, "bad_assertion")
            raise invalid_client(problem)

    def _verified_claims(self, client: OidcClient, assertion: str) -> dict[str, Any]:
        if not client.metadata.jwks:
            raise invalid_client("the client has no registered keys")
        try:
            keys = KeySet.import_key_set(client.metadata.jwks)  # type: ignore[arg-type]
            header = jws.extract_compact(assertion.encode("ascii")).headers()
            alg = header.get("alg")
            if alg not in ASSERTION_ALGORITHMS:
                raise invalid_client("the client assertion's alg is not allowed")
            verified = jws.deserialize_compact(assertion, keys, algorithms=[alg])
            claims = orjson.loads(verified.payload)
        except (JoseError, ValueError, TypeError, KeyError) as error:
            self._refused(client, "bad_assertion")
            raise invalid_client("the client assertion's signature does not verify") from error
        if not isinstance(claims, dict):
            raise invalid_client("the client assertion is not a JWT")
        return claims

    def _first_use(self, client: OidcClient, claims: Mapping[str, Any], now: datetime) -> bool:
        """Count the jti in the shared counters until the assertion expires: only the first counts."""
        digest = hashlib.sha256(f"{client.client_id}\x00{claims['jti']}".encode()).hexdigest()
        remaining = max(1, math.ceil(claims["exp"] - now.timestamp()) + CLOCK_SKEW_SECONDS)
        return self.counters.increment(f"oidc:jti:{digest}", remaining, now) == 1


def _assertion_problem(
    claims: Mapping[str, Any], client_id: str, now: datetime, audiences: Collection[str]
) -> str | None:
    """What is wrong with a verified assertion's claims (None: nothing)."""
    timestamp = now.timestamp()
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return "the client assertion's iss and sub must be the client_id"
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in audiences for a in named):
        return "the client assertion's aud must be the token endpoint URL or the issuer"
    exp = _number(claims.get("exp"))
    if exp is None or exp <= timestamp:
        return "the client assertion has expired"
    if exp > timestamp + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        return f"the client assertion may live {MAX_ASSERTION_LIFETIME_SECONDS} seconds at most"
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if value is not None and ((moment := _number(value)) is None or moment > timestamp + CLOCK_SKEW_SECONDS):
            return f"the client assertion's {name} is in the future"
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        return "the client assertion needs a jti"
    return None


def _number(value: Any) -> float | None:
    """A NumericDate (RFC 7519 §2), or None when the value is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)

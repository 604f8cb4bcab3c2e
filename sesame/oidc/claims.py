"""Which claims about a person a client receives: scope values and the ``claims`` request parameter.

OpenID Connect Core §5.4 (``profile``, ``email``, ``phone``, ``address`` scope values) and §5.5
(the ``claims`` parameter, with ``userinfo`` and ``id_token`` members). The French identity set
(FranceConnect's names and scopes) comes only from a *verified* identity, never from what the
person typed on their profile: without one, those claims are simply not released.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from sesame.domain.accounts import Account

#: The French identity set: released only from a verified identity (birthplace and birthcountry
#: are INSEE codes; preferred_username is the usage name).
IDENTITY_CLAIMS: frozenset[str] = frozenset(
    {"given_name", "family_name", "preferred_username", "birthdate", "gender", "birthplace", "birthcountry"}
)

#: What only a verified identity says: the French identity set, and the mobile number and postal
#: address the proofing verified (an account holds no phone number nor address of its own).
VERIFIED_CLAIMS: frozenset[str] = IDENTITY_CLAIMS | {"phone_number", "phone_number_verified", "address"}

#: OpenID Connect Core §5.4, plus FranceConnect's scopes for the identity set (one per claim,
#: ``birth`` and ``identite_pivot`` for the usual groups).
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
    **{claim: (claim,) for claim in sorted(IDENTITY_CLAIMS)},
    "birth": ("birthplace", "birthcountry"),
    "identite_pivot": ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry"),
}

#: The members of the ``claims`` parameter we honour (§5.5); others are ignored, as §5.5 asks.
CLAIMS_MEMBERS = ("userinfo", "id_token")
#: A ``claims`` parameter longer than this is refused (it is stored with the grant).
MAX_CLAIMS_REQUEST_LENGTH = 4096


class InvalidClaimsRequest(ValueError):
    """The ``claims`` parameter is not the JSON object §5.5 describes (``invalid_request``)."""


def parse_claims_request(raw: str | None) -> dict[str, dict[str, Any]]:
    """OpenID Connect Core §5.5: the ``claims`` parameter, checked and reduced to what we honour.

    Returns ``{"userinfo": {claim: None | {"essential", "value", "values"}}, "id_token": {...}}``
    (members absent when not asked), the shape :class:`~sesame.oidc.models.Grant` keeps in
    ``claims``. Raises :class:`InvalidClaimsRequest` when it is not a JSON object of objects.
    """
    if raw is None or raw == "":
        return {}
    if len(raw) > MAX_CLAIMS_REQUEST_LENGTH:
        raise InvalidClaimsRequest("the claims parameter is too long")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidClaimsRequest("the claims parameter is not valid JSON") from error
    if not isinstance(document, dict):
        raise InvalidClaimsRequest("the claims parameter must be a JSON object")
    parsed: dict[str, dict[str, Any]] = {}
    for member in CLAIMS_MEMBERS:
        requests = document.get(member)
        if requests is None:
            continue
        if not isinstance(requests, dict):
            raise InvalidClaimsRequest(f"claims.{member} must be a JSON object")
        parsed[member] = {name: _claim_request(member, name, spec) for name, spec in requests.items()}
    return parsed


def _claim_request(member: str, name: str, spec: Any) -> dict[str, Any] | None:
    """One individual claim request (§5.5.1): null, or an object with essential/value/values."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise InvalidClaimsRequest(f"claims.{member}.{name} must be null or a JSON object")
    kept: dict[str, Any] = {}
    if "essential" in spec:
        if not isinstance(spec["essential"], bool):
            raise InvalidClaimsRequest(f"claims.{member}.{name}.essential must be a boolean")
        kept["essential"] = spec["essential"]
    if "value" in spec:
        kept["value"] = spec["value"]
    if "values" in spec:
        if not isinstance(spec["values"], list):
            raise InvalidClaimsRequest(f"claims.{member}.{name}.values must be an array")
        kept["values"] = spec["values"]
    return kept


def scope_claims(scopes: Iterable[str]) -> frozenset[str]:
    """The claim names the scope values ask for (§5.4); unknown scopes ask for none."""
    return frozenset(claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ()))


def requested_claims(scopes: Iterable[str], claims_request: Mapping[str, Any], member: str) -> frozenset[str]:
    """Every claim asked for ``member`` ("userinfo" or "id_token"): by scope for userinfo (§5.4:
    an access token is always issued, so scope claims go to userinfo), and by the ``claims``
    parameter's member (§5.5)."""
    by_scope = scope_claims(scopes) if member == "userinfo" else frozenset()
    asked = claims_request.get(member) or {}
    return by_scope | frozenset(asked)


def identity_claims_requested(scopes: Iterable[str], claims_request: Mapping[str, Any]) -> frozenset[str]:
    """The French identity claims a request asks for, by scope or by the ``claims`` parameter
    (the authorization endpoint needs a verified identity, and eidas2, to grant them)."""
    asked = scope_claims(scopes) | frozenset(
        name for member in CLAIMS_MEMBERS for name in (claims_request.get(member) or {})
    )
    return asked & IDENTITY_CLAIMS


def account_claims(account: Account) -> dict[str, Any]:
    """What the account itself can say (self-declared, except ``email_verified``).

    ``given_name`` and ``family_name`` are deliberately absent: under these names, clients of
    the French public services expect the civil-status names of a verified identity.
    """
    claims: dict[str, Any] = {
        "locale": account.locale,
        "updated_at": int(account.updated_at.timestamp()),
    }
    if account.display_name:
        claims["name"] = account.display_name
    if account.email:
        claims["email"] = account.email
        claims["email_verified"] = account.email_verified
    return claims


def verified_claims_requested(names: Iterable[str]) -> bool:
    """Whether releasing ``names`` needs the verified identity (so it is read only then)."""
    return not VERIFIED_CLAIMS.isdisjoint(names)


def release(names: Iterable[str], account: Account, *, identity: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values of the claims ``names`` that we hold: the French identity set, the phone number
    and the address from ``identity`` only (a verified identity's claims, see
    :func:`sesame.oidc.assurance.identity_claims_source`; None when none may be released), the
    others from the account. A claim we do not hold is left out (§5.3.2: never ``null`` nor empty)."""
    available = account_claims(account)
    released: dict[str, Any] = {}
    for name in sorted(names):
        source = identity if name in VERIFIED_CLAIMS else available
        if source is None:
            continue
        value = source.get(name)
        if value is not None and value != "":
            released[name] = value
    return released

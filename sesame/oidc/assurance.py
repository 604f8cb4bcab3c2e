"""Levels of assurance: the eIDAS levels a session reaches, and what a request for a higher one gets.

OpenID Connect Core §3.1.2.1 (``acr_values``) and §5.5.1.1 (an essential ``acr`` claim), with
the ``unmet_authentication_requirements`` error of OpenID Connect Core errata set 2 / OpenID
Connect EAP ACR Values §2. ``eidas1`` is one factor (a password); ``eidas2`` ("substantial")
needs a verified identity and a second factor, which no account has yet: the identity and app
issues extend :func:`can_reach`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sesame.domain.accounts import Account, BrowserSession
from sesame.oidc.claims import identity_claims_requested

EIDAS1 = "eidas1"
EIDAS2 = "eidas2"
#: Every level we issue, lowest first.
LEVELS: tuple[str, ...] = (EIDAS1, EIDAS2)
#: OpenID Connect Core errata set 2 §3.1.2.6 / EAP ACR Values §2.
UNMET_AUTHENTICATION_REQUIREMENTS = "unmet_authentication_requirements"


def rank(level: str | None) -> int:
    """The level's place in :data:`LEVELS` (-1 for an unknown level, which satisfies nothing)."""
    return LEVELS.index(level) if level in LEVELS else -1


def session_level(session: BrowserSession) -> str | None:
    """The level the session's login reached (its ``acr``), if it is one we know."""
    return session.acr if session.acr in LEVELS else None


def satisfies(reached: str | None, required: str) -> bool:
    return reached is not None and rank(reached) >= rank(required)


def requested_level(acr_values: Iterable[str], claims_request: Mapping[str, Any]) -> str | None:
    """The lowest known level that satisfies the request, None when it asks for none we know.

    ``acr_values`` lists acceptable levels in order of preference: any of them will do, so the
    lowest one we know is what must be reached. An essential ``acr`` claim (§5.5.1.1) narrows
    it the same way; unknown values are ignored, as voluntary claims may be.
    """
    asked = [value for value in acr_values if value in LEVELS]
    asked += _essential_acr_values(claims_request)
    return min(asked, key=rank) if asked else None


def _essential_acr_values(claims_request: Mapping[str, Any]) -> list[str]:
    spec = (claims_request.get("id_token") or {}).get("acr")
    if not isinstance(spec, dict) or not spec.get("essential"):
        return []
    listed = spec.get("values")
    values: list[Any] = listed if isinstance(listed, list) else [spec.get("value")]
    return [value for value in values if isinstance(value, str) and value in LEVELS]


def can_reach(account: Account, level: str) -> bool:
    """Whether the account could log in at ``level`` now (a step-up would then be offered).

    ``eidas1`` needs the password every account has. ``eidas2`` needs a verified identity and a
    second factor: neither exists yet (the identity and app issues extend this function).
    """
    return rank(level) == rank(EIDAS1)


def has_verified_identity(account: Account) -> bool:
    """Whether the account holds a verified identity (the proofing issue adds them)."""
    return False


def unmet_requirement(
    account: Account, session: BrowserSession, required: str | None, scopes: Iterable[str], claims: Mapping[str, Any]
) -> str | None:
    """Why the request cannot be met for this account, as an ``error_description``; None if it can.

    A level the session lacks and the account cannot reach, or the French identity claims asked
    with ``eidas2`` when the account has no verified identity to take them from.
    """
    if required is not None and not satisfies(session_level(session), required) and not can_reach(account, required):
        return f"the authentication level {required} cannot be reached for this account"
    identity = identity_claims_requested(scopes, claims)
    if required == EIDAS2 and identity and not has_verified_identity(account):
        return "the identity claims asked for need a verified identity, which this account does not have"
    return None


def needs_step_up(session: BrowserSession, required: str | None) -> bool:
    """The session is below the level asked (and the account can reach it: see unmet_requirement)."""
    return required is not None and not satisfies(session_level(session), required)

"""Levels of assurance: the eIDAS levels a session reaches, and what a request for a higher one gets.

OpenID Connect Core §3.1.2.1 (``acr_values``) and §5.5.1.1 (an essential ``acr`` claim), with
the ``unmet_authentication_requirements`` error of OpenID Connect Core errata set 2 / OpenID
Connect EAP ACR Values §2.

- ``eidas1`` ("low") is one factor: a password, a bank keypad code.
- ``eidas2`` ("substantial") is a verified identity usable at that level (its phone app is
  activated: :attr:`~sesame.domain.identity.VerifiedIdentity.usable_for_eidas2`) AND a login
  with two factors (the session's ``amr`` has "mfa", RFC 8176: an app approval with its 4-digit
  code ``["pop", "pin", "mfa"]``, or a password with a TOTP code or a passkey).

The level is decided from what really happened (the session's methods) and what the account
holds *now* (its identity, read with :meth:`Standing.read`): a session of a person whose
identity was revoked since is no longer ``eidas2``. A session below the level asked may reach
it by a step-up (an approval in the phone app) when the account has a usable identity and an
active device; otherwise the request ends with ``unmet_authentication_requirements``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sesame.domain.accounts import BrowserSession
from sesame.domain.devices import AMR_POSSESSION
from sesame.domain.factors import is_multi_factor
from sesame.domain.identity import VerifiedIdentity
from sesame.oidc.claims import identity_claims_requested, verified_claims_requested
from sesame.oidc.models import Grant
from sesame.ports import UnitOfWork

EIDAS1 = "eidas1"
EIDAS2 = "eidas2"
#: Every level we issue, lowest first.
LEVELS: tuple[str, ...] = (EIDAS1, EIDAS2)
#: OpenID Connect Core errata set 2 §3.1.2.6 / EAP ACR Values §2.
UNMET_AUTHENTICATION_REQUIREMENTS = "unmet_authentication_requirements"


@dataclass(frozen=True, slots=True)
class Standing:
    """What an account brings to the levels, as the database says now: its active verified
    identity (``uow.identities``) and how many active phone-app devices it has (``uow.devices``)."""

    identity: VerifiedIdentity | None = None
    app_devices: int = 0

    @classmethod
    def read(cls, uow: UnitOfWork, account_id: int, *, devices: bool = True) -> Standing:
        """The account's standing, in the caller's unit of work (``devices=False``: one read less
        when only the identity matters, e.g. to say which level a session reached)."""
        identity = uow.identities.of_account(account_id)
        count = uow.devices.count_active(account_id) if devices else 0
        return cls(identity=identity, app_devices=count)

    @property
    def verified(self) -> bool:
        """The account holds an active verified identity (its claims may be released)."""
        return has_verified_identity(self.identity)

    @property
    def usable_for_eidas2(self) -> bool:
        return self.identity is not None and self.identity.usable_for_eidas2


#: An account with nothing: no verified identity, no device.
NOTHING = Standing()


def rank(level: str | None) -> int:
    """The level's place in :data:`LEVELS` (-1 for an unknown level, which satisfies nothing)."""
    return LEVELS.index(level) if level in LEVELS else -1


def reached_level(acr: str | None, amr: Iterable[str], identity: VerifiedIdentity | None) -> str | None:
    """The level a login reached: ``eidas2`` for two factors with an identity usable at that
    level, ``eidas1`` for any other login we know; None for an ``acr`` we do not know."""
    if acr not in LEVELS:
        return None
    if is_multi_factor(list(amr)) and identity is not None and identity.usable_for_eidas2:
        return EIDAS2
    return EIDAS1


def session_level(session: BrowserSession, identity: VerifiedIdentity | None = None) -> str | None:
    """The level the session's login reached, given the account's identity (None: it has none)."""
    return reached_level(session.acr, session.amr, identity)


def issued_acr(session: BrowserSession, identity: VerifiedIdentity | None) -> str:
    """The ``acr`` a grant records for this session (what really happened): its level, or the
    session's own value when it is not one of our levels."""
    return session_level(session, identity) or session.acr


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


def has_verified_identity(identity: VerifiedIdentity | None) -> bool:
    """Whether the account holds an active verified identity (``uow.identities.of_account``)."""
    return identity is not None and identity.active


def can_reach(level: str, standing: Standing) -> bool:
    """Whether the account could log in at ``level`` now (a step-up is then offered).

    ``eidas1`` needs the password every account has. ``eidas2`` needs an identity usable at
    that level and an active device of the phone app to approve with.
    """
    if level == EIDAS1:
        return True
    return level == EIDAS2 and standing.usable_for_eidas2 and standing.app_devices > 0


def unmet_requirement(
    session: BrowserSession, required: str | None, scopes: Iterable[str], claims: Mapping[str, Any], standing: Standing
) -> str | None:
    """Why the request cannot be met for this account, as an ``error_description``; None if it can.

    A level the session lacks and the account cannot reach, or the French identity claims asked
    with ``eidas2`` when the account has no identity usable at that level to take them from.
    """
    reached = session_level(session, standing.identity)
    if required is not None and not satisfies(reached, required) and not can_reach(required, standing):
        return f"the authentication level {required} cannot be reached for this account"
    identity = identity_claims_requested(scopes, claims)
    if required == EIDAS2 and identity and not standing.usable_for_eidas2:
        return "the identity claims asked for need a verified identity, which this account does not have"
    return None


def needs_step_up(session: BrowserSession, required: str | None, identity: VerifiedIdentity | None = None) -> bool:
    """The session is below the level asked (and the account can reach it: see unmet_requirement)."""
    return required is not None and not satisfies(session_level(session, identity), required)


def approved_in_app(session: BrowserSession) -> bool:
    """The session's login was an approval in the phone app (its device key: RFC 8176 "pop")."""
    return AMR_POSSESSION in session.amr


def identity_claims_source(
    identity: VerifiedIdentity | None, *, acr: str | None, required: str | None = None
) -> dict[str, Any] | None:
    """What the French identity claims (and the verified phone and address) are released from:
    the account's active verified identity, and when ``eidas2`` was asked, only for a token
    issued at ``eidas2``. None: those claims are not released."""
    if not has_verified_identity(identity):
        return None
    assert identity is not None
    if required == EIDAS2 and acr != EIDAS2:
        return None
    return identity.claims()


#: How the account's active verified identity is read (``IdentityRepository.of_account``,
#: ``ProtocolReads.identity``).
IdentityLookup = Callable[[int], VerifiedIdentity | None]


def grant_identity_claims(identity_of: IdentityLookup, grant: Grant, names: Iterable[str]) -> dict[str, Any] | None:
    """The verified identity's claims for a token of ``grant`` (or a userinfo answer), read with
    ``identity_of`` (one query) only when ``names`` asks for one of them; None when none is released.

    The grant's ``acr`` was decided with the request: a request for ``eidas2`` only ever gets a
    grant at ``eidas2`` (the authorization flow and CIBA refuse it otherwise), so the identity's
    state now is what remains to check (a revoked identity releases nothing)."""
    if grant.account_id is None or not verified_claims_requested(names):
        return None
    return identity_claims_source(identity_of(grant.account_id), acr=grant.acr)

"""Consents: what a person agreed a partner service may see, remembered per client and scope set.

A request within what was agreed asks nothing; one that asks for more shows the consent page
again, and the agreement then covers both. ``offline_access`` is only ever agreed on that page.
From the account page ("connected services") a person withdraws a consent, which also revokes
every grant of that service for the account (and so each of its tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sesame.oidc.claims import CLAIMS_MEMBERS, scope_claims
from sesame.oidc.logout import BackchannelLogouts
from sesame.oidc.models import Consent
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext

#: Claims that say nothing about the person: asking for them (say, an essential acr) needs no consent.
PROTOCOL_CLAIMS = frozenset(
    {"sub", "iss", "aud", "exp", "iat", "nonce", "acr", "amr", "auth_time", "azp", "sid", "at_hash", "c_hash"}
)
#: Why the grants of a withdrawn consent are revoked (oidc_grants.revoke_reason).
WITHDRAWN = "consent_withdrawn"


def consent_items(scopes: Iterable[str], claims_request: Mapping[str, Any]) -> tuple[str, ...]:
    """What the person agrees to, sorted: the scopes, plus each claim of the ``claims`` parameter
    that the scopes do not already ask for (OpenID Connect Core §5.4, §5.5)."""
    scopes = tuple(scopes)
    asked = {name for member in CLAIMS_MEMBERS for name in (claims_request.get(member) or {})}
    extra = asked - scope_claims(scopes) - PROTOCOL_CLAIMS
    return tuple(sorted(set(scopes) | extra))


def covers(consent: Consent | None, items: Iterable[str]) -> bool:
    """Whether a remembered consent already covers every item."""
    return consent is not None and set(items) <= set(consent.scopes)


def remember(
    uow: UnitOfWork, tenant_id: int, account_id: int, client_id: str, items: Iterable[str], now: datetime
) -> Consent:
    """Record the person's agreement in the caller's transaction, widening what was agreed before."""
    existing = uow.oidc.get_consent(account_id, client_id)
    consent = Consent(
        tenant_id=tenant_id,
        account_id=account_id,
        client_id=client_id,
        scopes=sorted(set(items) | set(existing.scopes if existing else ())),
        granted_at=existing.granted_at if existing else now,
        updated_at=now,
    )
    uow.oidc.save_consent(consent)
    return consent


@dataclass(frozen=True, slots=True)
class ConnectedService:
    """One service the person agreed to, as the account page lists it."""

    client_id: str
    name: str
    scopes: tuple[str, ...]
    granted_at: datetime
    updated_at: datetime


class ConsentService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, logouts: BackchannelLogouts | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._logouts = logouts

    def connected_services(self, account_id: int) -> Sequence[ConnectedService]:
        """The services the account agreed to, by name (those of a deleted client are left out)."""
        with self._uow(readonly=True) as uow:
            listed: list[ConnectedService] = []
            for consent in uow.oidc.consents_of(account_id):
                client = uow.oidc.get_client(consent.client_id)
                if client is None:
                    continue
                listed.append(
                    ConnectedService(
                        client_id=client.client_id,
                        name=client.name,
                        scopes=tuple(consent.scopes),
                        granted_at=consent.granted_at,
                        updated_at=consent.updated_at,
                    )
                )
        return sorted(listed, key=lambda service: (service.name.casefold(), service.client_id))

    def withdraw(self, tenant_id: int, account_id: int, client_id: str, context: RequestContext) -> bool:
        """Forget the consent and revoke every grant of that client for the account (its refresh
        and access tokens die with them), and with ``logouts`` tell the client through its
        back-channel logout URI, in the same transaction (the outbox), as every other way access
        ends does; False when there was nothing to withdraw."""
        now = self._clock.now()
        with self._uow() as uow:
            deleted = uow.oidc.delete_consent(account_id, client_id)
            revoked = uow.oidc.revoke_grants(now, WITHDRAWN, account_id=account_id, client_id=client_id)
            if not deleted and not revoked:
                return False
            queued = 0
            if self._logouts is not None and revoked:
                tenant = uow.tenants.get(tenant_id)
                if tenant is not None:
                    queued = self._logouts.queue(uow, tenant, revoked, now)
            audit_event(
                uow,
                self._clock,
                tenant_id,
                "oidc.consent.withdrawn",
                actor=context.actor,
                subject=f"account:{account_id}",
                ip=context.ip,
                correlation_id=context.correlation_id,
                details={"client_id": client_id, "grants_revoked": len(revoked), "backchannel_logouts": queued},
            )
            uow.commit()
        return True

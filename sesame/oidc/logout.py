"""Logout: RP-initiated (OpenID Connect RP-Initiated Logout 1.0) and back-channel (Back-Channel Logout 1.0).

Ending a browser session ends its OpenID Connect side in the same transaction: the session's
*online* grants are revoked (with every code, refresh and access token of them; offline grants
survive a logout, not a password reset) and each client that had one and registered a
``backchannel_logout_uri`` gets a signed logout token, queued in the outbox so that a client
that is down receives it later. An RP's end-session request is checked by :data:`CHECKS`, an
ordered table of small named checks; whatever fails, no redirect goes to an unchecked URI.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from sesame.domain.accounts import BrowserSession
from sesame.domain.tenants import Tenant
from sesame.oidc.authorize import response_url
from sesame.oidc.discovery import issuer as issuer_of
from sesame.oidc.keys import DEFAULT_ALG, ActiveKey, KeyEncryption, KeySet
from sesame.oidc.models import Grant, OidcClient
from sesame.oidc.tokens import (
    JTI_BYTES,
    InvalidAccessToken,
    epoch,
    pairwise_sub,
    session_sid,
    sign,
    verify_signed,
)
from sesame.ports import Clock, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_http_form

log = structlog.get_logger(__name__)

#: Back-Channel Logout §2.4: the event that makes a JWT a logout token.
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Back-Channel Logout §2.4 (and RFC 8725 §3.11): explicit typing, so it is never taken for an ID token.
LOGOUT_TOKEN_TYPE = "logout+jwt"
#: §2.4 suggests two minutes, for a token POSTed at once. Ours wait in the outbox while the client
#: is down (retries at 30 s, 1, 2, 4 ... min): two hours cover its first eight attempts. A replay
#: can only end a session that has ended already, and the RP refuses a jti seen before (§2.6).
LOGOUT_TOKEN_LIFETIME = timedelta(hours=2)
#: The outbox template name of back-channel logouts (the dev inbox shows it).
OUTBOX_TEMPLATE = "backchannel_logout"
#: Why grants end, in their ``revoke_reason``.
REASON_LOGOUT = "logout"
#: An end-session parameter longer than this is not one we sent or registered.
PARAM_MAX = 4096


# -- back-channel logout ------------------------------------------------------------------------------


def logout_token_claims(
    *, issuer: str, client_id: str, sub: str | None, sid: str | None, now: datetime, jti: str | None = None
) -> dict[str, Any]:
    """Back-Channel Logout §2.4: iss, aud, iat, exp, jti, events, and sub and/or sid; never a nonce."""
    if sub is None and sid is None:
        raise ValueError("a logout token names a sub, a sid, or both")
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": epoch(now),
        "exp": epoch(now + LOGOUT_TOKEN_LIFETIME),
        "jti": jti or secrets.token_urlsafe(JTI_BYTES),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sub is not None:
        claims["sub"] = sub
    if sid is not None:
        claims["sid"] = sid
    return claims


def issue_logout_token(signer: ActiveKey, claims: Mapping[str, Any]) -> str:
    """The logout token, a JWS with ``typ: logout+jwt`` signed by the tenant's key."""
    return sign(signer, claims, typ=LOGOUT_TOKEN_TYPE)


@dataclass(frozen=True, slots=True)
class BackchannelLogouts:
    """Queues logout tokens: what it needs to name the person (pairwise ``sub``, ``sid``) and to sign.

    The tenant's keys are read through the caller's unit of work, so queueing never opens a
    transaction of its own inside the caller's (SQLite would wait on itself).
    """

    keyed: KeyedHasher
    encryption: KeyEncryption
    base_url: str

    @classmethod
    def for_server(cls, keyed: KeyedHasher, secret_key: str, base_url: str) -> BackchannelLogouts:
        return cls(keyed=keyed, encryption=KeyEncryption(secret_key), base_url=base_url)

    def issuer(self, tenant: Tenant) -> str:
        return issuer_of(self.base_url, tenant.slug)

    def keys(self, uow: UnitOfWork, tenant: Tenant) -> KeySet:
        return KeySet(uow.oidc.keys(tenant.id), self.encryption)

    def queue(self, uow: UnitOfWork, tenant: Tenant, grants: Iterable[Grant], now: datetime) -> int:
        """In ``uow``'s transaction: one logout token per client and session of ``grants`` whose
        client registered a ``backchannel_logout_uri``; returns how many were queued.

        A grant tied to a browser session gives ``sub`` and ``sid`` (that session ends); an offline
        grant gives ``sub`` alone (every session of the person at that client ends, §2.4).
        """
        targets = _targets(grants)
        if not targets:
            return 0
        keyset = self.keys(uow, tenant)
        queued = 0
        for (client_id, session_id), account_id in targets.items():
            client = uow.oidc.get_client(client_id)
            if client is None or client.tenant_id != tenant.id or not client.metadata.backchannel_logout_uri:
                continue
            signer = _signer(keyset, client, now)
            if signer is None:  # the tenant has never signed anything: no client can hold a session
                log.warning("logout.no_signing_key", tenant=tenant.slug, client_id=client_id)
                continue
            claims = logout_token_claims(
                issuer=self.issuer(tenant),
                client_id=client_id,
                sub=pairwise_sub(self.keyed, tenant.id, client_id, account_id),
                sid=session_sid(self.keyed, session_id) if session_id else None,
                now=now,
            )
            queue_http_form(
                uow,
                tenant,
                OUTBOX_TEMPLATE,
                client.metadata.backchannel_logout_uri,
                {"logout_token": issue_logout_token(signer, claims)},
                now=now,
                subject=f"Back-channel logout: {client.name}"[:500],
                metadata={"client_id": client_id, "jti": claims["jti"]},
            )
            queued += 1
        return queued


def _targets(grants: Iterable[Grant]) -> dict[tuple[str, str | None], int]:
    """(client, session or None) -> account, once each: people only (client_credentials grants
    have no one to log out)."""
    targets: dict[tuple[str, str | None], int] = {}
    for grant in grants:
        if grant.account_id is not None:
            targets.setdefault((grant.client_id, grant.session_id), grant.account_id)
    return targets


def _signer(keyset: KeySet, client: OidcClient, now: datetime) -> ActiveKey | None:
    """The key the client expects (its ID token algorithm), else the default one."""
    alg = client.metadata.id_token_signed_response_alg
    return keyset.signing_key(now, alg) or keyset.signing_key(now, DEFAULT_ALG)


# -- ending a session -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """What ending one browser session did, for the audit log."""

    ended: bool
    grants_revoked: int
    logouts_queued: int


def end_session(
    uow: UnitOfWork,
    tenant: Tenant,
    session: BrowserSession,
    now: datetime,
    reason: str,
    logouts: BackchannelLogouts,
) -> SessionEnded:
    """In the caller's transaction: end ``session``, revoke its online grants, queue the logout tokens.

    Offline grants (``offline_access``, no session) are not the session's: they survive a logout.
    """
    ended = uow.accounts.end_sessions(session.account_id, now, reason, only=session.id) == 1
    grants = uow.oidc.revoke_grants(now, reason, session_id=session.id)
    queued = logouts.queue(uow, tenant, grants, now)
    return SessionEnded(ended=ended, grants_revoked=len(grants), logouts_queued=queued)


class SessionLogout:
    """Logging a browser out (``/{tenant}/logout``, the end-session endpoint), in one transaction."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, logouts: BackchannelLogouts) -> None:
        self._uow = uow
        self._clock = clock
        self._logouts = logouts

    def end(
        self,
        tenant: Tenant,
        session: BrowserSession,
        context: RequestContext,
        *,
        via: str,
        client_id: str | None = None,
    ) -> SessionEnded:
        """End ``session`` (audited as ``logout`` with ``via``: the "logout" page or "end_session",
        and the client that asked, if one did)."""
        now = self._clock.now()
        with self._uow() as uow:
            outcome = end_session(uow, tenant, session, now, REASON_LOGOUT, self._logouts)
            audit_event(
                uow,
                self._clock,
                tenant.id,
                "logout",
                actor=context.actor,
                subject=f"account:{session.account_id}",
                ip=context.ip,
                correlation_id=context.correlation_id,
                details={
                    "session_ref": session.id[:16],
                    "ended": outcome.ended,
                    "via": via,
                    "grants_revoked": outcome.grants_revoked,
                    "backchannel_logouts": outcome.logouts_queued,
                    **({"client_id": client_id} if client_id else {}),
                },
            )
            uow.commit()
        return outcome


# -- RP-initiated logout: the end-session request -------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndSessionRequest:
    """RP-Initiated Logout §2: the parameters of a request to the end-session endpoint."""

    id_token_hint: str | None = None
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None
    ui_locales: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> EndSessionRequest:
        """From the query (GET) or the form (POST); empty or oversized values count as absent."""

        def value(name: str) -> str | None:
            raw = params.get(name)
            return raw if raw and len(raw) <= PARAM_MAX else None

        locales = tuple(dict.fromkeys((value("ui_locales") or "").split()))[:8]
        return cls(
            id_token_hint=value("id_token_hint"),
            client_id=value("client_id"),
            post_logout_redirect_uri=value("post_logout_redirect_uri"),
            state=value("state"),
            ui_locales=locales,
        )

    def as_params(self) -> dict[str, str]:
        """The request again, for the confirmation form's hidden fields."""
        params = {
            "id_token_hint": self.id_token_hint,
            "client_id": self.client_id,
            "post_logout_redirect_uri": self.post_logout_redirect_uri,
            "state": self.state,
            "ui_locales": " ".join(self.ui_locales) or None,
        }
        return {name: value for name, value in params.items() if value is not None}


@dataclass(slots=True)
class EndSessionDecision:
    """What the checks found: the client, the hint's claims, where to go afterwards."""

    client: OidcClient | None = None
    #: The ID token hint's claims (signature and issuer checked; it may have expired).
    hint: dict[str, Any] | None = None
    #: The hint names this browser's current session: log out without asking.
    hint_matches_session: bool = False
    #: The registered post_logout_redirect_uri with ``state``, or None: show "you are logged out".
    redirect_to: str | None = None
    #: Why the request could not be followed as asked (for the page and the log), if it could not.
    problem: str | None = None


@dataclass(slots=True)
class EndSessionChecking:
    """What the checks share: the request, the tenant's keys and clients, this browser's session."""

    request: EndSessionRequest
    tenant_id: int
    issuer: str
    keys: KeySet
    now: datetime
    load_client: Callable[[str], OidcClient | None]
    #: The browser's current session's ``sid`` and, per client, its pairwise ``sub`` (None: no session).
    session_sid: str | None
    session_sub: Callable[[str], str] | None
    decision: EndSessionDecision = field(default_factory=EndSessionDecision)


class EndSessionProblem(Exception):
    """A check failed: the logout may still happen (after confirmation), but there is no redirect."""


def _hint_client_id(hint: Mapping[str, Any]) -> str | None:
    audience = hint.get("aud")
    if isinstance(audience, str):
        return audience
    if isinstance(audience, list) and audience:
        azp = hint.get("azp")
        return azp if isinstance(azp, str) and azp in audience else None
    return None


def check_id_token_hint(checking: EndSessionChecking) -> None:
    """id_token_hint, when given, is an ID token we signed for this issuer (§2: expired is fine)."""
    token = checking.request.id_token_hint
    if token is None:
        return
    try:
        claims = verify_signed(token, checking.keys, checking.now, typ="JWT")
    except InvalidAccessToken as error:  # tampered, alg none, another tenant's key, not a JWT
        raise EndSessionProblem("the id_token_hint is not an ID token of this issuer") from error
    if claims.get("iss") != checking.issuer or _hint_client_id(claims) is None:
        raise EndSessionProblem("the id_token_hint is not an ID token of this issuer")
    checking.decision.hint = claims


def check_client(checking: EndSessionChecking) -> None:
    """The client named by the hint's aud and/or client_id (both: the same) is an enabled client here."""
    hint = checking.decision.hint
    from_hint = _hint_client_id(hint) if hint is not None else None
    client_id = checking.request.client_id
    if client_id is not None and from_hint is not None and client_id != from_hint:
        raise EndSessionProblem("client_id is not the audience of the id_token_hint")
    client_id = client_id or from_hint
    if client_id is None:
        return
    client = checking.load_client(client_id) if len(client_id) <= 64 else None
    if client is None or client.tenant_id != checking.tenant_id or not client.enabled:
        raise EndSessionProblem("the client is unknown or disabled")
    checking.decision.client = client


def check_session_match(checking: EndSessionChecking) -> None:
    """The hint was issued in this browser's current session (its sid, or its sub without sid)."""
    hint, client = checking.decision.hint, checking.decision.client
    if hint is None or client is None or checking.session_sid is None or checking.session_sub is None:
        return
    if "sid" in hint:
        matches = secrets.compare_digest(str(hint["sid"]), checking.session_sid)
    else:
        matches = hint.get("sub") == checking.session_sub(client.client_id)
    checking.decision.hint_matches_session = matches


def check_post_logout_redirect_uri(checking: EndSessionChecking) -> None:
    """post_logout_redirect_uri is one the identified client registered, as the exact string."""
    uri = checking.request.post_logout_redirect_uri
    if uri is None:
        return
    client = checking.decision.client
    if client is None:
        raise EndSessionProblem("post_logout_redirect_uri needs an id_token_hint or a client_id")
    if uri not in client.metadata.post_logout_redirect_uris:
        raise EndSessionProblem("post_logout_redirect_uri is not registered for this client")
    checking.decision.redirect_to = response_url(uri, {"state": checking.request.state})


EndSessionCheck = Callable[[EndSessionChecking], None]

#: The end-session request's checks, in order: the first failure stops them (no redirect then).
CHECKS: tuple[EndSessionCheck, ...] = (
    check_id_token_hint,
    check_client,
    check_session_match,
    check_post_logout_redirect_uri,
)


def decide(checking: EndSessionChecking, checks: Sequence[EndSessionCheck] = CHECKS) -> EndSessionDecision:
    """Run the checks; a failed one leaves the decision without redirect and with its ``problem``."""
    for check in checks:
        try:
            check(checking)
        except EndSessionProblem as problem:
            checking.decision.problem = str(problem)
            checking.decision.redirect_to = None
            break
    return checking.decision


def _sub_of(keyed: KeyedHasher, tenant: Tenant, account_id: int) -> Callable[[str], str]:
    return lambda client_id: pairwise_sub(keyed, tenant.id, client_id, account_id)


class EndSession:
    """The end-session endpoint's use cases: decide on a request, then end the session."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, logouts: BackchannelLogouts) -> None:
        self._uow = uow
        self._clock = clock
        self._logouts = logouts

    def decide(self, tenant: Tenant, request: EndSessionRequest, session: BrowserSession | None) -> EndSessionDecision:
        """Check ``request`` against the tenant's keys and clients and the browser's ``session``."""
        keyed = self._logouts.keyed
        with self._uow(readonly=True) as uow:
            keyset = self._logouts.keys(uow, tenant)
            now = self._clock.now()
            checking = EndSessionChecking(
                request=request,
                tenant_id=tenant.id,
                issuer=self._logouts.issuer(tenant),
                keys=keyset,
                now=now,
                load_client=uow.oidc.get_client,
                session_sid=session_sid(keyed, session.id) if session else None,
                session_sub=_sub_of(keyed, tenant, session.account_id) if session else None,
            )
            decision = decide(checking)
        if decision.problem:
            log.info("end_session.refused", tenant=tenant.slug, problem=decision.problem)
        return decision

    def end(
        self, tenant: Tenant, session: BrowserSession, context: RequestContext, decision: EndSessionDecision
    ) -> SessionEnded:
        """End ``session`` as the end-session endpoint was asked (or the person confirmed)."""
        client_id = decision.client.client_id if decision.client else None
        logout = SessionLogout(self._uow, self._clock, self._logouts)
        return logout.end(tenant, session, context, via="end_session", client_id=client_id)

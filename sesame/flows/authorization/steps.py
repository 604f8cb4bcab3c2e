"""Steps of the authorization flow (see states.mmd): decide with the browser's session, show the
consent page, then issue the grant and its code.

The page runs the LOGIN step when the flow starts and each time the browser comes back to
``/{tenant}/authorize/{flow_id}``: the interaction policy (:mod:`sesame.oidc.interaction`)
says whether a code can be issued now, the request cannot be met, or the person must log in or
agree first. A refusal without a state change means "send the person to log in" (nothing is
written). The code is drawn by the page before the step, like the login's session token: the
database keeps only its SHA-256, in the same transaction as the grant and the new state, so a
second submit of the same step (two tabs) cannot issue a second code.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.audit import AuditEvent, check_event
from sesame.flows.authorization.states import AuthorizationContext, AuthorizationState
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.oidc import assurance
from sesame.oidc.authorize import ACCESS_DENIED, UNAUTHORIZED_CLIENT
from sesame.oidc.interaction import PROMPT_NONE_ERRORS, Need, Situation, Unmet, assess
from sesame.oidc.models import AuthorizationCode, Grant, GrantType, OidcClient
from sesame.oidc.tokens import hash_token
from sesame.services.consents import consent_items, covers, remember
from sesame.services.context import RequestContext
from sesame.services.sessions import LiveSession

AuthorizationFlow = Flow[AuthorizationState, AuthorizationContext]

#: Where the page puts :class:`AuthorizationServices` in the steps' extras.
EXTRAS_KEY = "authorization"
#: A code (256 random bits: sesame.oidc.tokens.new_token) lives 60 s and is used once (RFC 6749 §4.1.2).
CODE_LIFETIME = timedelta(seconds=60)
GRANT_ID_BYTES = 24
#: What a refused step says to the page: log in (``Reject({NEED: need})``).
NEED = "need"


@dataclass(frozen=True, slots=True)
class AuthorizationServices:
    """What the steps use; the page gives it for each submit as ``extras["authorization"]``."""

    #: The browser's live session at this tenant, resolved by the page.
    live: LiveSession | None
    #: The code this submit may issue, drawn beforehand (``sesame.oidc.tokens.new_token()``); never stored.
    code: str
    request: RequestContext
    #: The submit that starts the flow: no login can have been made for it yet.
    starting: bool = False


def services_of(env: StepEnv) -> AuthorizationServices:
    services = env.extras.get(EXTRAS_KEY)
    if not isinstance(services, AuthorizationServices):
        raise TypeError(f"the authorization flow needs AuthorizationServices in extras[{EXTRAS_KEY!r}]")
    return services


# -- LOGIN ----------------------------------------------------------------------------------------


#: What the step-up page sends when the person would rather not confirm in the app.
CANCEL_STEP_UP = "cancel_step_up"


def resume(flow: AuthorizationFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[AuthorizationState]:
    """With the browser's session: a code, an error for the client, the consent page, or a login
    (or a step-up, which the person may decline: access_denied)."""
    if data.get("action") == CANCEL_STEP_UP:
        return _fail(flow, env, ACCESS_DENIED, "the person did not confirm in the app")
    return _decide(flow, env, approved=False)


# -- CONSENT --------------------------------------------------------------------------------------


def consent(flow: AuthorizationFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[AuthorizationState]:
    """ "approve" (the grant and its code), "deny" (access_denied), or "restart" (the session
    changed since the page was shown: decide again from LOGIN)."""
    action = data.get("action", "")
    live = services_of(env).live
    if action == "deny":
        return _fail(flow, env, ACCESS_DENIED, "the person did not agree")
    if action == "restart" or (action == "approve" and (live is None or live.account.id != flow.context.account_id)):
        # Another account (or nobody) is logged in than the one the page was shown to.
        flow.context.account_id = None
        return Advance(AuthorizationState.LOGIN)
    if action == "approve":
        return _decide(flow, env, approved=True)
    return Reject({"action": "required"})


# -- deciding -------------------------------------------------------------------------------------


def _decide(flow: AuthorizationFlow, env: StepEnv, *, approved: bool) -> StepResult[AuthorizationState]:
    services = services_of(env)
    request = flow.context.request
    client = env.uow.oidc.get_client(request.client_id)
    if client is None or not client.enabled or client.tenant_id != env.tenant.id:
        return _fail(flow, env, UNAUTHORIZED_CLIENT, "the client is no longer available")
    live = services.live
    session, account = (live.session, live.account) if live is not None else (None, None)
    items = consent_items(request.scopes, request.claims)
    remembered = account is not None and covers(env.uow.oidc.get_consent(account.id, client.client_id), items)
    standing = assurance.Standing.read(env.uow, account.id) if account is not None else assurance.NOTHING
    verdict = assess(
        Situation(
            request=request,
            client=client,
            session=session,
            account=account,
            now=env.now,
            logged_in_for_request=_logged_in_for(flow, session, services),
            consent_remembered=remembered,
            approved=approved,
            standing=standing,
        )
    )
    if isinstance(verdict, Unmet):
        return _fail(flow, env, verdict.error, verdict.description)
    if verdict is None:
        assert session is not None and account is not None  # the policy's first check
        return _issue(flow, env, client, session, account, items if approved else None, standing)
    if request.prompts("none"):
        return _fail(
            flow, env, PROMPT_NONE_ERRORS[verdict], f"prompt=none, but {verdict.value.replace('_', ' ')} is needed"
        )
    if verdict is Need.CONSENT:
        assert account is not None
        flow.context.account_id = account.id
        flow.context.consent_items = list(items)
        return Advance(AuthorizationState.CONSENT)
    return Reject({NEED: verdict.value})


def _logged_in_for(flow: AuthorizationFlow, session: BrowserSession | None, services: AuthorizationServices) -> bool:
    """Whether the session's login was made during this flow (for prompt=login and max_age)."""
    return session is not None and not services.starting and session.auth_time >= flow.record.created_at


def _issue(
    flow: AuthorizationFlow,
    env: StepEnv,
    client: OidcClient,
    session: BrowserSession,
    account: Account,
    approved_items: tuple[str, ...] | None,
    standing: assurance.Standing,
) -> StepResult[AuthorizationState]:
    """The grant (what the person authorised, with how they logged in: the level the session
    reached with the account's identity, sesame.oidc.assurance) and its code (§3.1.2.5)."""
    services, request = services_of(env), flow.context.request
    acr = assurance.issued_acr(session, standing.identity)
    if approved_items is not None:
        remember(env.uow, env.tenant.id, account.id, client.client_id, approved_items, env.now)
        details = {"client_id": client.client_id, "scopes": list(approved_items)}
        _audit(env, "oidc.consent.granted", f"account:{account.id}", f"account:{account.id}", details)
    grant = Grant(
        id=secrets.token_urlsafe(GRANT_ID_BYTES),
        tenant_id=env.tenant.id,
        client_id=client.client_id,
        scope=request.scope,
        created_at=env.now,
        expires_at=grant_expiry(client, session, offline=request.offline, now=env.now),
        account_id=account.id,
        # Without offline_access, the grant (and its refresh tokens) ends with the browser session.
        session_id=None if request.offline else session.id,
        claims=dict(request.claims),
        acr=acr,
        amr=list(session.amr),
        auth_time=session.auth_time,
        nonce=request.nonce,
    )
    env.uow.oidc.add_grant(grant)
    env.uow.oidc.add_code(
        AuthorizationCode(
            code_hash=hash_token(services.code),
            grant_id=grant.id,
            client_id=client.client_id,
            redirect_uri=request.redirect_uri,
            created_at=env.now,
            expires_at=env.now + CODE_LIFETIME,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
        )
    )
    flow.context.code_hash = hash_token(services.code)
    flow.context.grant_id = grant.id
    details = {"client_id": client.client_id, "grant_id": grant.id, "scope": request.scope, "acr": acr}
    _audit(env, "oidc.authorization.code_issued", f"account:{account.id}", f"account:{account.id}", details)
    return Advance(AuthorizationState.DONE)


def grant_expiry(client: OidcClient, session: BrowserSession, *, offline: bool, now: datetime) -> datetime:
    """Until when the grant may produce tokens: the longest of its tokens' lifetimes; an online
    grant (no offline_access) also ends with its session, though never before a first token does."""
    metadata = client.metadata
    tokens = max(metadata.access_token_lifetime_seconds, metadata.id_token_lifetime_seconds)
    refresh = metadata.refresh_token_lifetime_seconds if GrantType.REFRESH_TOKEN in metadata.grant_types else 0
    until = now + timedelta(seconds=max(tokens, refresh))
    if offline:
        return until
    return max(min(until, session.expires_at), now + timedelta(seconds=tokens))


def _fail(flow: AuthorizationFlow, env: StepEnv, error: str, description: str) -> StepResult[AuthorizationState]:
    """An error for the client (sent to its redirect URI with state and iss by the page)."""
    flow.context.error, flow.context.error_description = error, description
    actor = services_of(env).request.actor
    client_id = flow.context.request.client_id
    _audit(
        env, "oidc.authorization.refused", actor, f"client:{client_id}", {"error": error, "description": description}
    )
    return Advance(AuthorizationState.FAILED)


def _audit(env: StepEnv, event_type: str, actor: str, subject: str, details: Mapping[str, Any]) -> None:
    """In the step's transaction, at the step's time (committed with the new state or not at all)."""
    request = services_of(env).request
    event = AuditEvent(
        tenant_id=env.tenant.id,
        type=event_type,
        occurred_at=env.now,
        actor=actor,
        subject=subject,
        ip=request.ip,
        correlation_id=request.correlation_id,
        details=dict(details),
    )
    check_event(event)
    env.uow.audit.append(event)

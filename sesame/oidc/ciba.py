"""OpenID Connect Client-Initiated Backchannel Authentication (CIBA) Core 1.0, poll mode: the
backchannel authentication endpoint ``POST /{tenant}/bc-authorize``.

A partner's server (a confidential client registered for ``urn:openid:params:grant-type:ciba``)
names a person by their mobile number (``login_hint``), with a short ``binding_message`` that
it also shows on its own screen. The person's phone app shows the client's name and that
message (ADR 0008's "compare" mode) and asks for the 4-digit code; the client polls the token
endpoint with the ``auth_req_id`` (:mod:`sesame.oidc.token.ciba`). The machinery is the
website's decoupled login (:class:`~sesame.services.approvals.ApprovalService`): the same
limits per number, the same checks of the account (a locked or suspended account is never
asked, nor logged in), the same audit events.

Choices (ADR 0009):

- ``login_hint`` only, as a French mobile number; ``login_hint_token``, ``id_token_hint``,
  signed requests (``request``) and the ``claims`` parameter are refused (``invalid_request``),
  ``user_code`` is not supported (ignored, as discovery says).
- ``binding_message`` is required (at most 20 printable characters): without it the person
  would approve blind, which number matching exists to prevent (``invalid_binding_message``).
- An unknown number is never revealed (no ``unknown_user_id``): the request is made all the
  same, nobody can answer it, and the client's polls end with ``expired_token``, as for a
  person who did not answer.
- ``requested_expiry`` is checked and not honoured: a request lives the app policy's time
  (2 minutes), which ``expires_in`` says.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sesame.domain.devices import SERVICE_NAME_MAX, ApprovalKind, normalise_binding
from sesame.domain.phones import PhoneNumberRejected, parse_french_mobile
from sesame.domain.tenants import Tenant
from sesame.oidc import assurance
from sesame.oidc.authorize import OFFLINE_ACCESS, OPENID, SCOPE_TOKEN_RE
from sesame.oidc.discovery import BACKCHANNEL_AUTHENTICATION_PATH, offers_ciba
from sesame.oidc.models import GrantType, OidcClient
from sesame.oidc.token.context import Provider
from sesame.oidc.token.errors import INVALID_REQUEST, INVALID_SCOPE, UNAUTHORIZED_CLIENT, OAuthError
from sesame.services.approvals import (
    SCOPE_MAX,
    ApprovalRateLimited,
    ApprovalService,
    ApprovalUnavailable,
    NewApproval,
)
from sesame.services.context import RequestContext

#: CIBA §7.3: the minimum seconds between two polls of the token endpoint.
POLL_INTERVAL_SECONDS = 5
#: What a phone's screen shows at a glance, and the client's screen beside it.
BINDING_MESSAGE_MAX = 20
#: The ``auth_req_id``: 256 random bits (CIBA §7.3: "MUST be sufficiently random"); SHA-256 stored.
AUTH_REQ_ID_BYTES = 32
AUTH_REQ_ID_MAX = 128
#: A ``requested_expiry`` longer than this is not a number of seconds anyone means.
REQUESTED_EXPIRY_MAX = 86400
LIST_MAX = 32
#: A mobile number as typed, at most (spaces, dots, +33...).
LOGIN_HINT_MAX = 64

# CIBA §13 (authentication request) and §11 (token request) errors, beside RFC 6749's.
INVALID_BINDING_MESSAGE = "invalid_binding_message"
ACCESS_DENIED = "access_denied"
AUTHORIZATION_PENDING = "authorization_pending"
SLOW_DOWN = "slow_down"
EXPIRED_TOKEN = "expired_token"


@dataclass(frozen=True, slots=True)
class BackchannelRequest:
    """A checked authentication request (CIBA §7.1)."""

    #: The scopes granted if the person approves (openid first among them, as asked).
    scope: str
    #: The person's mobile number, E.164.
    mobile: str
    binding_message: str
    #: The lowest level of ``acr_values`` we know (sesame.oidc.assurance), None for none.
    acr: str | None


def approval_service(provider: Provider) -> ApprovalService:
    """The approvals over the provider's ports (the token endpoint's Provider has them all)."""
    return ApprovalService(
        provider.uow, provider.clock, keyed=provider.keyed, counters=provider.counters, base_url=provider.base_url
    )


def allowed(client: OidcClient) -> bool:
    """CIBA is for confidential clients registered for its grant (CIBA §4)."""
    return GrantType.CIBA in client.metadata.grant_types and not client.public


def parse_request(client: OidcClient, form: Mapping[str, str]) -> BackchannelRequest:
    """CIBA §7.1, checked in order; ``OAuthError`` (§13) for the first problem found."""
    if form.get("request") or form.get("request_uri"):
        raise OAuthError(INVALID_REQUEST, "signed authentication requests are not supported")
    if form.get("login_hint_token") or form.get("id_token_hint"):
        raise OAuthError(INVALID_REQUEST, "only login_hint (a mobile number) is supported")
    if form.get("claims"):
        raise OAuthError(INVALID_REQUEST, "the claims parameter is not supported here: ask with scope")
    scope = _scope(client, form.get("scope"))
    mobile = _mobile(form.get("login_hint"))
    binding = _binding_message(form.get("binding_message"))
    acr_values = _words(form.get("acr_values"), "acr_values")
    _requested_expiry(form.get("requested_expiry"))
    return BackchannelRequest(
        scope=scope, mobile=mobile, binding_message=binding, acr=assurance.requested_level(acr_values, {})
    )


def _words(value: str | None, name: str) -> tuple[str, ...]:
    words = tuple(dict.fromkeys((value or "").split()))
    if len(words) > LIST_MAX:
        raise OAuthError(INVALID_REQUEST, f"{name} has too many values")
    return words


def _scope(client: OidcClient, raw: str | None) -> str:
    """CIBA §7.1: scope is required and has openid; only scopes the client registered
    (offline_access dropped for a client without refresh tokens, OpenID Connect Core §11)."""
    scopes = _words(raw, "scope")
    if not scopes:
        raise OAuthError(INVALID_REQUEST, "scope is required")
    if not all(SCOPE_TOKEN_RE.fullmatch(scope) for scope in scopes):
        raise OAuthError(INVALID_SCOPE, "scope has characters RFC 6749 does not allow")
    if OPENID not in scopes:
        raise OAuthError(INVALID_SCOPE, "scope must include openid")
    metadata = client.metadata
    if OFFLINE_ACCESS in scopes and GrantType.REFRESH_TOKEN not in metadata.grant_types:
        scopes = tuple(scope for scope in scopes if scope != OFFLINE_ACCESS)
    refused = [scope for scope in scopes if scope not in metadata.scopes]
    if refused:
        raise OAuthError(INVALID_SCOPE, f"scope not allowed for this client: {' '.join(refused)[:200]}")
    scope = " ".join(scopes)
    if len(scope) > SCOPE_MAX:
        raise OAuthError(INVALID_SCOPE, "scope is too long")
    return scope


def _mobile(hint: str | None) -> str:
    """login_hint: a French mobile number, as typed or E.164. Malformed is invalid_request; a
    well-formed number nobody uses is never said to be unknown (the request just expires)."""
    if not hint:
        raise OAuthError(INVALID_REQUEST, "login_hint (the person's mobile number) is required")
    if len(hint) > LOGIN_HINT_MAX:
        raise OAuthError(INVALID_REQUEST, "login_hint must be a French mobile number")
    try:
        return parse_french_mobile(hint).e164
    except PhoneNumberRejected as error:
        raise OAuthError(INVALID_REQUEST, "login_hint must be a French mobile number (06, 07, +33 6, +33 7)") from error


def _binding_message(raw: str | None) -> str:
    """The message shown on both screens: required, printable, at most 20 characters."""
    message = normalise_binding(raw or "")
    if not message:
        raise OAuthError(INVALID_BINDING_MESSAGE, "binding_message is required: show it to the person too")
    if len(message) > BINDING_MESSAGE_MAX or not (raw or "").isprintable():
        raise OAuthError(
            INVALID_BINDING_MESSAGE, f"binding_message must be at most {BINDING_MESSAGE_MAX} printable characters"
        )
    return message


def _requested_expiry(raw: str | None) -> None:
    """CIBA §7.1: a positive integer of seconds (checked; the policy's lifetime applies)."""
    if raw is None or raw == "":
        return
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not 0 < int(raw) <= REQUESTED_EXPIRY_MAX:
        raise OAuthError(INVALID_REQUEST, "requested_expiry must be a positive number of seconds")


def backchannel_authentication(
    provider: Provider,
    tenant: Tenant,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    ip: str = "",
    correlation_id: str = "",
    user_agent: str = "",
) -> dict[str, Any]:
    """CIBA §7: authenticate the client (as at the token endpoint), check the request, ask the
    person's app; the successful response of §7.3, or ``OAuthError`` (§13)."""
    now = provider.clock.now()
    issuer = provider.issuer(tenant)
    client = provider.authenticator(tenant, ip=ip, correlation_id=correlation_id).authenticate(
        tenant, form, authorization, now=now, audiences=(issuer + BACKCHANNEL_AUTHENTICATION_PATH, issuer)
    )
    if not allowed(client):
        raise OAuthError(UNAUTHORIZED_CLIENT, "this client may not use backchannel authentication (CIBA)")
    if not offers_ciba(tenant):
        raise OAuthError(UNAUTHORIZED_CLIENT, "this issuer offers no backchannel authentication")
    asked = parse_request(client, form)
    auth_req_id = secrets.token_urlsafe(AUTH_REQ_ID_BYTES)
    new = NewApproval(
        kind=ApprovalKind.CIBA,
        service_name=client.name.strip()[:SERVICE_NAME_MAX] or client.client_id,
        handle=auth_req_id,
        client_id=client.client_id,
        binding_message=asked.binding_message,
        acr=asked.acr,
        scope=asked.scope,
    )
    context = RequestContext(
        ip=ip, user_agent=user_agent[:300], correlation_id=correlation_id, actor=f"client:{client.client_id}"
    )
    try:
        created = approval_service(provider).create_request(tenant, new, context, mobile=asked.mobile)
    except ApprovalRateLimited as limited:
        wait = max(1, int((limited.retry_at - now).total_seconds() + 0.999))
        raise OAuthError(
            ACCESS_DENIED,
            "too many requests for this person lately: try again later",
            status=429,
            headers={"Retry-After": str(wait)},
        ) from limited
    except ApprovalUnavailable as error:
        raise OAuthError(UNAUTHORIZED_CLIENT, "this issuer offers no backchannel authentication") from error
    expires_in = max(1, int((created.request.expires_at - now).total_seconds()))
    return {"auth_req_id": auth_req_id, "expires_in": expires_in, "interval": POLL_INTERVAL_SECONDS}

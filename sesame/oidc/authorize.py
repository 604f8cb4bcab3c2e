"""The authorization request and response (OpenID Connect Core 1.0 §3.1.2, RFC 6749 §4.1).

The request is validated by :data:`CHECKS`, an ordered table of small named checks (as
node-oidc-provider's ``lib/actions/authorization``). Until the client and its redirect URI are
known good, an error is shown to the person (:class:`AuthorizationPageError`): RFC 6749 §4.1.2.1
forbids redirecting to an unverified URI. Afterwards an error goes back to the client
(:class:`AuthorizationError`) with ``state`` and ``iss`` (RFC 9207), and so does the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from sesame.oidc.claims import InvalidClaimsRequest, parse_claims_request
from sesame.oidc.models import GrantType, OidcClient

# Errors of RFC 6749 §4.1.2.1 and OpenID Connect Core §3.1.2.6.
INVALID_REQUEST = "invalid_request"
UNAUTHORIZED_CLIENT = "unauthorized_client"
ACCESS_DENIED = "access_denied"
UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
INVALID_SCOPE = "invalid_scope"
SERVER_ERROR = "server_error"
LOGIN_REQUIRED = "login_required"
CONSENT_REQUIRED = "consent_required"
INTERACTION_REQUIRED = "interaction_required"
REQUEST_NOT_SUPPORTED = "request_not_supported"
REQUEST_URI_NOT_SUPPORTED = "request_uri_not_supported"

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"
PROMPTS = frozenset({"none", "login", "consent"})
PKCE_METHOD = "S256"
#: RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
CODE_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
#: RFC 6749 §3.3: a scope token is printable ASCII without space, ``"`` and ``\``.
SCOPE_TOKEN_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
#: BCP 47 language tags, loosely (we only ever pick one of ours out of them).
LOCALE_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
STATE_MAX = 2048
NONCE_MAX = 512  # the grants table keeps the nonce in 512 characters
LOGIN_HINT_MAX = 254  # an email address
MAX_AGE_MAX = 10 * 365 * 86400
LIST_MAX = 32  # scopes, locales, acr values: no request needs more


class AuthorizationRequest(BaseModel):
    """A validated authorization request (§3.1.2.1): what the flow keeps until it answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    redirect_uri: str
    response_type: str = "code"
    scopes: tuple[str, ...] = (OPENID,)
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: tuple[str, ...] = ()
    claims_locales: tuple[str, ...] = ()
    acr_values: tuple[str, ...] = ()
    #: The ``claims`` parameter as :func:`sesame.oidc.claims.parse_claims_request` keeps it.
    claims: dict[str, Any] = Field(default_factory=dict)

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def prompts(self, value: str) -> bool:
        return value in self.prompt

    @property
    def offline(self) -> bool:
        return OFFLINE_ACCESS in self.scopes


class AuthorizationPageError(Exception):
    """An error shown to the person, never sent to the client: the client or its redirect URI is
    unknown, disabled, missing or unregistered (RFC 6749 §4.1.2.1)."""

    def __init__(self, reason: str, description: str, *, client_id: str | None = None) -> None:
        super().__init__(f"{reason}: {description}")
        self.reason = reason
        self.description = description
        #: The client, when it is known (its redirect URI is what went wrong).
        self.client_id = client_id


class AuthorizationError(Exception):
    """An error for the client, sent to its (verified) redirect URI (OIDC Core §3.1.2.6)."""

    def __init__(self, error: str, description: str, *, redirect_uri: str = "", state: str | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state

    def response_url(self, issuer: str) -> str:
        params = {"error": self.error, "error_description": self.description, "state": self.state, "iss": issuer}
        return response_url(self.redirect_uri, params)


def response_url(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """``redirect_uri`` with the response's parameters added to its query (RFC 6749 §4.1.2:
    the URI's own query is kept as it is; ``None`` values are left out)."""
    query = urlencode([(name, value) for name, value in params.items() if value is not None])
    if not query:
        return redirect_uri
    if redirect_uri.endswith(("?", "&")):
        return redirect_uri + query
    return redirect_uri + ("&" if urlsplit(redirect_uri).query else "?") + query


def success_url(request: AuthorizationRequest, code: str, issuer: str) -> str:
    """The successful response (§3.1.2.5, RFC 9207 §2): ``code``, ``state`` and ``iss``."""
    return response_url(request.redirect_uri, {"code": code, "state": request.state, "iss": issuer})


# -- the checks -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Checking:
    """What the checks share: the parameters as sent, the client once found, the values kept."""

    params: Mapping[str, Sequence[str]]
    tenant_id: int
    load_client: Callable[[str], OidcClient | None]
    client: OidcClient | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def single(self, name: str) -> str | None:
        """The parameter's value; an empty one counts as absent (RFC 6749 §3.1)."""
        sent = self.params.get(name) or ()
        return sent[0] if sent and sent[0] != "" else None

    def repeated(self, name: str) -> bool:
        return len(self.params.get(name) or ()) > 1

    @property
    def known_client(self) -> OidcClient:
        if self.client is None:
            raise RuntimeError("a check after check_client ran without a client")
        return self.client


Check = Callable[[Checking], None]


def _invalid(description: str) -> AuthorizationError:
    return AuthorizationError(INVALID_REQUEST, description)


def _words(value: str | None, name: str) -> tuple[str, ...]:
    """A space-delimited parameter, in order, without duplicates."""
    words = tuple(dict.fromkeys((value or "").split()))
    if len(words) > LIST_MAX:
        raise _invalid(f"{name} has too many values")
    return words


def check_client(checking: Checking) -> None:
    """client_id names an enabled client of this tenant."""
    client_id = checking.single("client_id")
    if client_id is None or checking.repeated("client_id"):
        raise AuthorizationPageError("missing_client_id", "the request has no (single) client_id")
    client = checking.load_client(client_id) if len(client_id) <= 64 else None
    if client is None or client.tenant_id != checking.tenant_id:
        raise AuthorizationPageError("unknown_client", "no such client at this tenant")
    if not client.enabled:
        raise AuthorizationPageError("client_disabled", "this client is disabled")
    checking.client = client
    checking.values["client_id"] = client.client_id


def check_redirect_uri(checking: Checking) -> None:
    """redirect_uri is present and one the client registered, compared as exact strings."""
    redirect_uri = checking.single("redirect_uri")
    if redirect_uri is None or checking.repeated("redirect_uri"):
        raise AuthorizationPageError("missing_redirect_uri", "the request has no (single) redirect_uri")
    if redirect_uri not in checking.known_client.metadata.redirect_uris:
        raise AuthorizationPageError("unregistered_redirect_uri", "redirect_uri is not registered for this client")
    checking.values["redirect_uri"] = redirect_uri


def check_state(checking: Checking) -> None:
    """state is kept as sent, to be returned with the answer (checked early: errors carry it)."""
    state = checking.single("state")
    if state is not None and len(state) > STATE_MAX:
        raise _invalid(f"state is longer than {STATE_MAX} characters")
    checking.values["state"] = state


def check_parameters_once(checking: Checking) -> None:
    """No parameter is sent more than once (RFC 6749 §3.1)."""
    repeated = sorted(name for name, values in checking.params.items() if len(values) > 1)
    if repeated:
        raise _invalid(f"parameters sent more than once: {', '.join(repeated)[:200]}")


def check_request_objects(checking: Checking) -> None:
    """request and request_uri (request objects, §6) are refused: not supported here."""
    if checking.single("request") is not None:
        raise AuthorizationError(REQUEST_NOT_SUPPORTED, "request objects are not supported")
    if checking.single("request_uri") is not None:
        raise AuthorizationError(REQUEST_URI_NOT_SUPPORTED, "request_uri is not supported")


def check_response_type(checking: Checking) -> None:
    """response_type is "code": the authorization code flow is the only one offered (§3.1)."""
    response_type = checking.single("response_type")
    if response_type is None:
        raise _invalid("response_type is missing")
    if response_type != "code":
        raise AuthorizationError(UNSUPPORTED_RESPONSE_TYPE, "only response_type=code is supported")
    checking.values["response_type"] = response_type


def check_response_mode(checking: Checking) -> None:
    """response_mode, when given, is "query" (the code flow's default, the only one offered)."""
    mode = checking.single("response_mode")
    if mode is not None and mode != "query":
        raise _invalid("only response_mode=query is supported")


def check_client_grant(checking: Checking) -> None:
    """The client is registered for the authorization code grant."""
    if GrantType.AUTHORIZATION_CODE not in checking.known_client.metadata.grant_types:
        raise AuthorizationError(UNAUTHORIZED_CLIENT, "this client may not use the authorization code grant")


def check_scope(checking: Checking) -> None:
    """scope has openid, and only scopes the client may ask for (offline_access is dropped
    for a client without refresh tokens, as §11 says)."""
    raw = checking.single("scope")
    if raw is None:
        raise _invalid("scope is missing")
    scopes = _words(raw, "scope")
    if not all(SCOPE_TOKEN_RE.fullmatch(scope) for scope in scopes):
        raise AuthorizationError(INVALID_SCOPE, "scope has characters RFC 6749 does not allow")
    if OPENID not in scopes:
        raise AuthorizationError(INVALID_SCOPE, "scope must include openid")
    metadata = checking.known_client.metadata
    if OFFLINE_ACCESS in scopes and GrantType.REFRESH_TOKEN not in metadata.grant_types:
        scopes = tuple(scope for scope in scopes if scope != OFFLINE_ACCESS)
    refused = [scope for scope in scopes if scope not in metadata.scopes]
    if refused:
        raise AuthorizationError(INVALID_SCOPE, f"scope not allowed for this client: {' '.join(refused)[:200]}")
    checking.values["scopes"] = scopes


def check_pkce(checking: Checking) -> None:
    """PKCE (RFC 7636): S256 only, never plain; a challenge is required from public clients."""
    challenge = checking.single("code_challenge")
    method = checking.single("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise _invalid("code_challenge_method without code_challenge")
        if checking.known_client.public:
            raise _invalid("public clients must use PKCE (code_challenge with S256)")
        return
    if method != PKCE_METHOD:
        # An absent method means "plain" (RFC 7636 §4.3), which shows the verifier in the URL.
        raise _invalid("code_challenge_method must be S256")
    if not CODE_CHALLENGE_RE.fullmatch(challenge):
        raise _invalid("code_challenge is not a base64url string of 43 to 128 characters")
    checking.values["code_challenge"] = challenge
    checking.values["code_challenge_method"] = method


def check_nonce(checking: Checking) -> None:
    """nonce is kept as sent, for the ID token (§3.1.2.1)."""
    nonce = checking.single("nonce")
    if nonce is not None and len(nonce) > NONCE_MAX:
        raise _invalid(f"nonce is longer than {NONCE_MAX} characters")
    checking.values["nonce"] = nonce


def check_prompt(checking: Checking) -> None:
    """prompt is made of none, login and consent; none comes alone."""
    prompt = _words(checking.single("prompt"), "prompt")
    unknown = [value for value in prompt if value not in PROMPTS]
    if unknown:
        raise _invalid(f"prompt value not supported: {' '.join(unknown)[:100]}")
    if "none" in prompt and len(prompt) > 1:
        raise _invalid("prompt=none cannot be combined with other values")
    checking.values["prompt"] = prompt


def check_max_age(checking: Checking) -> None:
    """max_age is a number of seconds, zero or more."""
    raw = checking.single("max_age")
    if raw is None:
        return
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise _invalid("max_age must be a non-negative integer")
    checking.values["max_age"] = min(int(raw), MAX_AGE_MAX)


def check_login_hint(checking: Checking) -> None:
    """login_hint is kept if it could be an identifier (it is only a hint: a bad one is dropped)."""
    hint = (checking.single("login_hint") or "").strip()
    if hint and len(hint) <= LOGIN_HINT_MAX and hint.isprintable():
        checking.values["login_hint"] = hint


def check_locales(checking: Checking) -> None:
    """ui_locales and claims_locales are lists of language tags; malformed tags are ignored."""
    for name in ("ui_locales", "claims_locales"):
        tags = _words(checking.single(name), name)
        checking.values[name] = tuple(tag for tag in tags if LOCALE_RE.fullmatch(tag))


def check_acr_values(checking: Checking) -> None:
    """acr_values is kept in order of preference (sesame.oidc.assurance decides what it asks)."""
    checking.values["acr_values"] = _words(checking.single("acr_values"), "acr_values")


def check_claims(checking: Checking) -> None:
    """claims is the JSON object of §5.5 (userinfo and id_token members of claim requests)."""
    try:
        checking.values["claims"] = parse_claims_request(checking.single("claims"))
    except InvalidClaimsRequest as error:
        raise _invalid(str(error)) from error


#: The authorization request's checks, in order. The first two decide whether an error may be
#: redirected; state comes next so that every later error carries it.
CHECKS: tuple[Check, ...] = (
    check_client,
    check_redirect_uri,
    check_state,
    check_parameters_once,
    check_request_objects,
    check_response_type,
    check_response_mode,
    check_client_grant,
    check_scope,
    check_pkce,
    check_nonce,
    check_prompt,
    check_max_age,
    check_login_hint,
    check_locales,
    check_acr_values,
    check_claims,
)


def validate(
    params: Sequence[tuple[str, str]],
    *,
    tenant_id: int,
    load_client: Callable[[str], OidcClient | None],
    checks: Sequence[Check] = CHECKS,
) -> tuple[AuthorizationRequest, OidcClient]:
    """Run ``checks`` on the request's parameters (each name with its values, as sent).

    Raises :class:`AuthorizationPageError` (show it) or :class:`AuthorizationError` (redirect
    it: its ``redirect_uri`` and ``state`` are set).
    """
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    checking = Checking(params=grouped, tenant_id=tenant_id, load_client=load_client)
    for check in checks:
        try:
            check(checking)
        except AuthorizationPageError as error:
            error.client_id = checking.client.client_id if checking.client is not None else None
            raise
        except AuthorizationError as error:
            error.redirect_uri = str(checking.values["redirect_uri"])
            error.state = checking.values.get("state") if check is not check_state else None
            raise
    return AuthorizationRequest.model_validate(checking.values), checking.known_client

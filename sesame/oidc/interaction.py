"""What a valid authorization request still needs from the person: the interaction policy.

An ordered table of named checks, as node-oidc-provider's interaction policy: first the login
(a session; a fresh one for ``prompt=login`` or an exceeded ``max_age``, OpenID Connect Core
§3.1.2.1; the level of ``acr_values``), then what the client requires of the account (a
confirmed email), then consent. The OIDC layer only says what is needed; the authorization
flow hands the login to the login flow and shows the consent page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sesame.domain.accounts import Account, BrowserSession
from sesame.oidc import assurance
from sesame.oidc.authorize import CONSENT_REQUIRED, INTERACTION_REQUIRED, LOGIN_REQUIRED, AuthorizationRequest
from sesame.oidc.models import OidcClient


class Need(StrEnum):
    LOGIN = "login"  # nobody is logged in at this tenant in this browser
    FRESH_LOGIN = "fresh_login"  # a login made for this very request (prompt=login, max_age)
    STEP_UP = "step_up"  # a login at the level acr_values asks for
    CONFIRMED_EMAIL = "confirmed_email"  # the client takes only confirmed email addresses
    CONSENT = "consent"  # the person has not agreed to everything asked


#: What ``prompt=none`` answers instead of each interaction (§3.1.2.6).
PROMPT_NONE_ERRORS: dict[Need, str] = {
    Need.LOGIN: LOGIN_REQUIRED,
    Need.FRESH_LOGIN: LOGIN_REQUIRED,
    Need.STEP_UP: LOGIN_REQUIRED,
    Need.CONFIRMED_EMAIL: INTERACTION_REQUIRED,
    Need.CONSENT: CONSENT_REQUIRED,
}


@dataclass(frozen=True, slots=True)
class Unmet:
    """The request cannot be met for this person: an error for the client."""

    error: str
    description: str


@dataclass(frozen=True, slots=True)
class Situation:
    """The request and what the browser brings to it."""

    request: AuthorizationRequest
    client: OidcClient
    session: BrowserSession | None
    account: Account | None
    now: datetime
    #: The session's login was made during this request's flow (after it started).
    logged_in_for_request: bool = False
    #: A remembered consent covers every scope and claim asked.
    consent_remembered: bool = False
    #: The person approved the consent page of this request.
    approved: bool = False
    #: What the account holds now (its verified identity, its app devices), for the levels.
    standing: assurance.Standing = assurance.NOTHING


Verdict = Need | Unmet | None
InteractionCheck = Callable[[Situation], Verdict]


def check_logged_in(situation: Situation) -> Verdict:
    """Someone is logged in at this tenant in this browser."""
    return Need.LOGIN if situation.session is None or situation.account is None else None


def check_login_prompt(situation: Situation) -> Verdict:
    """prompt=login: only a login made for this request will do, even with a session."""
    if situation.request.prompts("login") and not situation.logged_in_for_request:
        return Need.FRESH_LOGIN
    return None


def check_max_age(situation: Situation) -> Verdict:
    """max_age: the login is at most max_age seconds old (a login made for this request always does)."""
    max_age, session = situation.request.max_age, situation.session
    if max_age is None or session is None or situation.logged_in_for_request:
        return None
    return Need.FRESH_LOGIN if situation.now - session.auth_time > timedelta(seconds=max_age) else None


def check_assurance(situation: Situation) -> Verdict:
    """acr_values (or an essential acr claim): the session's level is enough, or can be reached.

    ``eidas2`` is reached by a step-up, an approval in the phone app, even right after a
    password login made for this request; any other login, or an approval, that did not reach
    the level is final (asking again would loop).
    """
    session, account, request = situation.session, situation.account, situation.request
    assert session is not None and account is not None  # check_logged_in came first
    standing = situation.standing
    required = assurance.requested_level(request.acr_values, request.claims)
    unmet = assurance.unmet_requirement(session, required, request.scopes, request.claims, standing)
    if unmet is not None:
        return Unmet(assurance.UNMET_AUTHENTICATION_REQUIREMENTS, unmet)
    if not assurance.needs_step_up(session, required, standing.identity):
        return None
    by_app = required == assurance.EIDAS2 and not assurance.approved_in_app(session)
    if situation.logged_in_for_request and not by_app:
        return Unmet(assurance.UNMET_AUTHENTICATION_REQUIREMENTS, f"the login did not reach the level {required}")
    return Need.STEP_UP


def check_confirmed_email(situation: Situation) -> Verdict:
    """A client that requires a confirmed email address gets only people who confirmed theirs."""
    account = situation.account
    assert account is not None
    if situation.client.metadata.require_confirmed_email and not account.email_verified:
        return Need.CONFIRMED_EMAIL
    return None


def check_consent(situation: Situation) -> Verdict:
    """The person agreed to what is asked: prompt=consent and offline_access always ask (unless
    remembered), first-party clients may skip the page otherwise."""
    request, metadata = situation.request, situation.client.metadata
    if situation.approved:
        return None
    if request.prompts("consent"):
        return Need.CONSENT
    if situation.consent_remembered:
        return None
    if metadata.skip_consent and not request.offline:
        return None
    return Need.CONSENT


#: The interaction policy, in order: the first check that finds something decides.
INTERACTION_CHECKS: tuple[InteractionCheck, ...] = (
    check_logged_in,
    check_login_prompt,
    check_max_age,
    check_assurance,
    check_confirmed_email,
    check_consent,
)


def assess(situation: Situation, checks: Sequence[InteractionCheck] = INTERACTION_CHECKS) -> Verdict:
    """What the request still needs (None: a code can be issued now)."""
    for check in checks:
        verdict = check(situation)
        if verdict is not None:
            return verdict
    return None

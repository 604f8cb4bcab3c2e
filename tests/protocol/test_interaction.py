"""The hand-off between the authorization endpoint and the login flow (OpenID Connect Core §3.1.2.3).

The OIDC layer never draws the login page: without a session the person is sent to the tenant's
login flow with ``return_to`` pointing at the authorization flow, which resumes when they come
back and sends the client its code with ``state`` and ``iss`` (RFC 9207). A browser already
logged in goes straight back to the client.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.models import OidcClient
from tests.protocol import tokens_support
from tests.protocol.authorize_support import (
    EMAIL,
    ISSUER,
    NONCE,
    REDIRECT_URI,
    RESUME_RE,
    app,
    assert_code,
    audit_types,
    authorize,
    browser,
    is_login_page,
    laposte,
    location,
    log_in,
    log_in_directly,
    login_then_back,
    pkce_pair,
    register,
    rp,
    stored_code,
)

__all__ = ["app", "browser", "laposte", "rp"]  # fixtures


def first_party(container: Container, laposte: Tenant) -> OidcClient:
    """A service of the tenant itself: no consent page (skip_consent)."""
    return register(container, laposte, "La Poste – suivi", skip_consent=True)


def test_without_a_session_the_person_is_sent_to_the_login_page(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    client = first_party(container, laposte)
    response = authorize(browser, client, login_hint=EMAIL)
    assert is_login_page(response)
    query = parse_qs(urlsplit(location(response)).query)
    assert RESUME_RE.fullmatch(query["return_to"][0])
    assert query["login_hint"] == [EMAIL]
    assert "prompt" not in query  # an ordinary login: a session would do
    assert "lang" not in query  # no ui_locales: the browser's own language
    # The login page prefills the hint: the person only types the password.
    flow_page = browser.get(location(browser.get(location(response))))
    assert f'value="{EMAIL}"' in flow_page.text


def test_ui_locales_choose_the_login_page_s_language(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    response = authorize(browser, first_party(container, laposte), ui_locales="en-US fr")
    assert parse_qs(urlsplit(location(response)).query)["lang"] == ["en"]
    flow_page = browser.get(location(browser.get(location(response))))
    assert "Log in" in flow_page.text and "Se connecter" not in flow_page.text


def test_after_the_login_the_client_gets_a_code_with_state_and_iss(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    client = first_party(container, laposte)
    response = authorize(browser, client)
    clock.advance(seconds=20)  # the person types their password
    code = assert_code(login_then_back(browser, response))
    row, grant = stored_code(container, code)
    assert row.client_id == client.client_id and row.redirect_uri == REDIRECT_URI
    assert row.expires_at == clock.now() + (row.expires_at - row.created_at)
    assert (row.expires_at - row.created_at).total_seconds() == 60
    assert grant.account_id is not None and grant.nonce == NONCE and grant.scope == "openid"
    assert grant.acr == "eidas1" and grant.amr == ["pwd"] and grant.auth_time == clock.now()
    assert grant.session_id is not None  # online: the grant ends with the browser session
    assert "oidc.authorization.code_issued" in audit_types(container, laposte)


def test_the_client_exchanges_the_code_for_tokens_about_this_login(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    """End to end: the code the login produced is exchanged at the token endpoint; the ID token
    has the request's nonce and the login's auth_time, and its issuer is the iss of the answer."""
    registered = tokens_support.register(container, laposte, "La Poste – suivi", skip_consent=True)
    _verifier, challenge = pkce_pair()
    response = authorize(browser, registered.client, code_challenge=challenge, code_challenge_method="S256")
    clock.advance(seconds=30)
    code = assert_code(login_then_back(browser, response))
    id_token = tokens_support.verify(browser, tokens_support.tokens(browser, registered, code)["id_token"], typ="JWT")
    assert id_token["iss"] == ISSUER and id_token["aud"] == registered.client_id
    assert id_token["nonce"] == NONCE and id_token["auth_time"] == int(clock.now().timestamp())


def test_the_code_is_stored_hashed_and_not_in_the_flow(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    log_in_directly(browser)
    code = assert_code(authorize(browser, first_party(container, laposte)))
    with container.uow(readonly=True) as uow:
        flows = [uow.flows.get(flow_id) for flow_id in _authorization_flow_ids(container)]
    assert flows and all(code not in str(flow) for flow in flows)


def _authorization_flow_ids(container: Container) -> list[str]:
    from sqlalchemy import text

    with container.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT id FROM flows WHERE kind = 'authorization'")).all()
    return [row[0] for row in rows]


def test_a_browser_already_logged_in_goes_straight_back(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    log_in_directly(browser)
    response = authorize(browser, first_party(container, laposte))
    assert_code(response)


def test_the_resume_page_is_bound_to_the_browser(
    browser: TestClient, app: object, container: Container, laposte: Tenant
) -> None:
    response = authorize(browser, first_party(container, laposte))
    resume = parse_qs(urlsplit(location(response)).query)["return_to"][0]
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as other:  # type: ignore[arg-type]
        log_in_directly(other)
        stolen = other.get(resume)
    assert stolen.status_code == 403
    assert "location" not in stolen.headers


def test_the_login_flow_returns_to_the_resume_page(browser: TestClient, container: Container, laposte: Tenant) -> None:
    response = authorize(browser, first_party(container, laposte))
    answer = log_in(browser, location(response))
    assert RESUME_RE.fullmatch(location(answer))


def test_a_finished_flow_never_sends_a_second_code(browser: TestClient, container: Container, laposte: Tenant) -> None:
    response = authorize(browser, first_party(container, laposte))
    resume = parse_qs(urlsplit(location(response)).query)["return_to"][0]
    log_in(browser, location(response))
    assert_code(browser.get(resume))
    again = browser.get(resume)
    assert again.status_code == 409 and "location" not in again.headers


def test_post_to_the_authorization_endpoint(browser: TestClient, container: Container, laposte: Tenant) -> None:
    """§3.1.2.1: the request may be a form POST; a cross-site one (no cookie) is replayed as a GET."""
    client = first_party(container, laposte)
    fields = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "s1",
    }
    replayed = browser.post("/laposte/authorize", data=fields)
    assert location(replayed).startswith("/laposte/authorize?")
    log_in_directly(browser)  # the browser now has its cookies: a same-site POST is answered at once
    assert_code(browser.post("/laposte/authorize", data=fields), state="s1")

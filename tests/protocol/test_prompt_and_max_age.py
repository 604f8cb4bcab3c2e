"""prompt (none, login, consent) and max_age (OpenID Connect Core §3.1.2.1, §3.1.2.3, §3.1.2.6).

prompt=none never shows a page: the client gets login_required, consent_required or
interaction_required instead. prompt=login and an exceeded max_age ask for a login made for
this request, even with a session: the login page shows its form, and the new login's time is
the grant's auth_time.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.oidc.models import OidcClient
from tests.protocol.authorize_support import (
    LOGIN_FLOW_RE,
    answer_consent,
    app,
    assert_code,
    assert_error,
    authorize,
    browser,
    consent_page,
    is_login_page,
    laposte,
    location,
    log_in,
    log_in_directly,
    login_then_back,
    register,
    rp,
    stored_code,
)

__all__ = ["app", "browser", "laposte", "rp"]  # fixtures


def own_service(container: Container, laposte: Tenant) -> OidcClient:
    return register(container, laposte, "La Poste – suivi", skip_consent=True)


def login_query(response: object) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location(response)).query)  # type: ignore[arg-type]


# -- prompt=none -----------------------------------------------------------------------------------------


def test_prompt_none_without_a_session_is_login_required(browser: TestClient, rp: OidcClient) -> None:
    assert_error(authorize(browser, rp, prompt="none"), "login_required")


def test_prompt_none_without_consent_is_consent_required(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    assert_error(authorize(browser, rp, prompt="none", scope="openid email"), "consent_required")


def test_prompt_none_with_everything_in_place_answers_at_once(browser: TestClient, rp: OidcClient) -> None:
    log_in_directly(browser)
    url, page = consent_page(browser, authorize(browser, rp, scope="openid email"))
    assert_code(answer_consent(browser, url, page, "approve"))
    assert_code(authorize(browser, rp, prompt="none", scope="openid email"))
    # Asking for more than was agreed needs the page: not with prompt=none.
    assert_error(authorize(browser, rp, prompt="none", scope="openid email profile"), "consent_required")


def test_prompt_none_with_an_old_login_and_max_age_is_login_required(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    log_in_directly(browser)
    clock.advance(minutes=10)
    assert_error(authorize(browser, own_service(container, laposte), prompt="none", max_age="60"), "login_required")


# -- prompt=login ------------------------------------------------------------------------------------------


def test_prompt_login_asks_for_a_new_login_even_with_a_session(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    log_in_directly(browser)
    clock.advance(minutes=5)
    response = authorize(browser, own_service(container, laposte), prompt="login")
    assert is_login_page(response) and login_query(response)["prompt"] == ["login"]
    # The login page shows its form although the browser is logged in.
    assert LOGIN_FLOW_RE.fullmatch(location(browser.get(location(response))))
    clock.advance(seconds=30)
    _row, grant = stored_code(container, assert_code(login_then_back(browser, response)))
    assert grant.auth_time == clock.now()


def test_prompt_login_is_not_satisfied_by_the_old_session(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    log_in_directly(browser)
    clock.advance(minutes=1)
    response = authorize(browser, own_service(container, laposte), prompt="login")
    resume = login_query(response)["return_to"][0]
    # Coming back without logging in again (the URL typed by hand): still the login page.
    again = browser.get(resume)
    assert is_login_page(again) and login_query(again)["prompt"] == ["login"]


def test_without_prompt_login_the_login_page_sends_a_logged_in_person_on(browser: TestClient) -> None:
    log_in_directly(browser)
    assert location(browser.get("/laposte/login?return_to=/laposte/account")) == "/laposte/account"


# -- max_age -----------------------------------------------------------------------------------------------


def test_a_recent_enough_login_satisfies_max_age(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    log_in_directly(browser)
    login_time = clock.now()
    clock.advance(seconds=50)
    _row, grant = stored_code(container, assert_code(authorize(browser, own_service(container, laposte), max_age="60")))
    assert grant.auth_time == login_time


def test_an_exceeded_max_age_asks_for_a_new_login(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    log_in_directly(browser)
    clock.advance(seconds=61)
    response = authorize(browser, own_service(container, laposte), max_age="60")
    assert is_login_page(response) and login_query(response)["prompt"] == ["login"]
    clock.advance(seconds=10)
    _row, grant = stored_code(container, assert_code(login_then_back(browser, response)))
    assert grant.auth_time == clock.now()


def test_max_age_zero_means_a_login_now_and_does_not_loop(
    browser: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    log_in_directly(browser)
    clock.advance(seconds=1)
    response = authorize(browser, own_service(container, laposte), max_age="0")
    assert is_login_page(response)
    answer = log_in(browser, location(response))
    clock.advance(seconds=3)  # the browser comes back a few seconds after the login: still made for this request
    assert_code(browser.get(location(answer)))

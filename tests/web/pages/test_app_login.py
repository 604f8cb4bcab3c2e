"""The decoupled login page ``/{tenant}/login/app`` (seed 000, "Utiliser l'Identité Numérique"):
the number, the binding code, the wait (events, status, the no-JS button), and what an approval,
a denial or the two minutes passing do to the browser. Unknown numbers look the same."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.devices import ApprovalRequest, Decision
from sesame.domain.tenants import Tenant
from sesame.services.app_login import AppLogin
from sesame.services.context import RequestContext
from sesame.web.csrf import cookie_name
from sesame.web.pages.app_login import app_login_url, wait_url
from sesame.web.session import session_cookie_name
from tests.app_support import CTX, MOBILE, SoftDevice, activate, verified_account
from tests.web.conftest import BASE_URL

EMAIL = "marie.web@example.fr"
UNKNOWN = "07 81 22 33 44"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
WAIT_RE = re.compile(r"^/laposte/login/app/(ar_[A-Za-z0-9_-]+)")
BINDING_RE = re.compile(r'<p class="binding-code" id="binding-code"[^>]*>(\d\d)</p>')


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def soft(container: Container, tenant: Tenant) -> SoftDevice:
    verified_account(container, tenant, EMAIL)
    return activate(container, tenant, EMAIL)[1]


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def ask(client: TestClient, mobile: str = MOBILE, return_to: str = "") -> str:
    """Type the number; returns the waiting page's path."""
    token = csrf(client.get("/laposte/login/app").text)
    response = client.post(
        "/laposte/login/app",
        data={"csrf_token": token, "mobile": mobile, "return_to": return_to},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def request_of(container: Container, wait_path: str) -> ApprovalRequest:
    match = WAIT_RE.match(wait_path)
    assert match, wait_path
    with container.uow(readonly=True) as uow:
        found = uow.approvals.get(match.group(1))
    assert found is not None
    return found


def finish(client: TestClient, wait_path: str, return_to: str = "") -> object:
    token = csrf(client.get("/laposte/login/app?prompt=login").text)
    return client.post(
        wait_path.split("?")[0], data={"csrf_token": token, "return_to": return_to}, follow_redirects=False
    )


def events(client: TestClient, wait_path: str) -> list[str]:
    with client.stream("GET", wait_path.split("?")[0] + "/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line for line in response.iter_lines() if line.startswith("data:")]


# -- the number ---------------------------------------------------------------------------------------------


def test_the_page_asks_for_the_mobile_number_in_french(client: TestClient, tenant: Tenant) -> None:
    page = client.get("/laposte/login/app")
    assert page.status_code == 200
    assert "Numéro de mobile" in page.text or "numéro de mobile" in page.text
    assert 'name="mobile"' in page.text and 'autocomplete="tel"' in page.text
    assert app_login_url(tenant) == "/laposte/login/app"
    assert app_login_url(tenant, "/laposte/oidc/x") == "/laposte/login/app?return_to=%2Flaposte%2Foidc%2Fx"


def test_the_form_needs_its_csrf_token(client: TestClient, tenant: Tenant) -> None:
    client.get("/laposte/login/app")
    response = client.post("/laposte/login/app", data={"mobile": MOBILE}, follow_redirects=False)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("mobile", "message"),
    [("", "Saisissez"), ("01 23 45 67 89", "06 ou 07"), ("+44 7700 900123", "français"), ("06 12", "06 12 34 56 78")],
)
def test_a_wrong_number_is_said_and_nothing_is_asked(
    client: TestClient, container: Container, tenant: Tenant, mobile: str, message: str
) -> None:
    token = csrf(client.get("/laposte/login/app").text)
    response = client.post("/laposte/login/app", data={"csrf_token": token, "mobile": mobile}, follow_redirects=False)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text
    with container.uow(readonly=True) as uow:
        assert uow.approvals.by_poll_handle("x") is None
    assert [r for r in _audit(container, tenant) if r == "approval.requested"] == []


def _audit(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [r.event.type for r in uow.audit.chain(tenant.id)]


def test_a_tenant_without_the_app_has_no_such_login(client: TestClient, tenant: Tenant) -> None:
    assert client.get("/poste-ch/login/app").status_code == 404


# -- approval -----------------------------------------------------------------------------------------------------


def test_an_approval_in_the_app_logs_the_browser_in_at_eidas2(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    wait = ask(client, "06 12 34 56 78")
    page = client.get(wait)
    assert page.status_code == 200
    request = request_of(container, wait)
    match = BINDING_RE.search(page.text)
    assert match and match.group(1) == request.binding_code, "the page shows the number to type in the app"
    assert "La Poste" in page.text and 'data-events-url="' in page.text
    assert client.get(wait.split("?")[0] + "/status").json()["status"] == "pending"
    assert container.approvals.decide(tenant, soft.answer(request, binding_code=match.group(1)), CTX).ok
    assert events(client, wait) == ['data: {"status": "approved"}']
    response = finish(client, wait)
    assert response.status_code == 303 and response.headers["location"] == "/laposte/account"  # type: ignore[attr-defined]
    token = client.cookies.get(session_cookie_name(container.settings, tenant))
    live = container.sessions.resolve(tenant, token)
    assert live is not None and live.account.email == EMAIL
    assert live.session.acr == "eidas2" and live.session.amr == ["pop", "pin", "mfa"]
    assert client.get("/laposte/account", follow_redirects=False).status_code == 200
    with container.uow(readonly=True) as uow:
        succeeded = [r.event.details for r in uow.audit.chain(tenant.id) if r.event.type == "login.succeeded"]
    assert succeeded[-1]["method"] == "app" and succeeded[-1]["acr"] == "eidas2"
    # A second submit (a double click) just goes on; the approval opened one session only.
    again = finish(client, wait)
    assert again.status_code == 303  # type: ignore[attr-defined]
    assert len(container.sessions.list(live.account.id)) == 1


def test_return_to_is_kept(client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice) -> None:
    wait = ask(client, return_to="/laposte/account?tab=sessions")
    assert "return_to=" in wait
    request = request_of(container, wait)
    container.approvals.decide(tenant, soft.answer(request), CTX)
    response = finish(client, wait, return_to="//evil.example/steal")
    assert response.headers["location"] == "/evil.example/steal"  # type: ignore[attr-defined]


def test_only_the_browser_that_asked_can_follow_and_finish(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    wait = ask(client)
    request = request_of(container, wait)
    container.approvals.decide(tenant, soft.answer(request), CTX)
    other_browser.get("/laposte/login/app")
    assert other_browser.get(wait).status_code == 404
    assert other_browser.get(wait.split("?")[0] + "/status").status_code == 404
    stolen = other_browser.post(
        wait, data={"csrf_token": csrf(other_browser.get("/laposte/login/app").text)}, follow_redirects=False
    )
    assert stolen.status_code == 404
    assert other_browser.cookies.get(session_cookie_name(container.settings, tenant)) is None
    assert finish(client, wait).status_code == 303  # type: ignore[attr-defined]


def test_the_button_before_the_approval_keeps_waiting(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    wait = ask(client)
    response = finish(client, wait)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "pas encore" in response.text  # type: ignore[attr-defined]
    assert client.cookies.get(session_cookie_name(container.settings, tenant)) is None


# -- denial, expiry, locked accounts --------------------------------------------------------------------------------


def test_a_denial_is_told_to_the_browser(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    wait = ask(client)
    request = request_of(container, wait)
    container.approvals.decide(tenant, soft.answer(request, Decision.DENY, binding_code="", pin=None), CTX)
    assert events(client, wait) == ['data: {"status": "denied"}']
    page = client.get(wait)
    assert 'data-app-login-result="denied"' in page.text
    response = finish(client, wait)
    assert 'data-app-login-result="denied"' in response.text  # type: ignore[attr-defined]
    assert client.cookies.get(session_cookie_name(container.settings, tenant)) is None


def test_after_two_minutes_the_request_expires(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, soft: SoftDevice
) -> None:
    wait = ask(client)
    request = request_of(container, wait)
    clock.advance(seconds=120)
    assert events(client, wait) == ['data: {"status": "expired"}']
    assert 'data-app-login-result="expired"' in client.get(wait).text
    assert not container.approvals.decide(tenant, soft.answer(request), CTX).ok


def test_a_locked_account_is_not_logged_in(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    wait = ask(client)
    container.approvals.decide(tenant, soft.answer(request_of(container, wait)), CTX)
    container.accounts.lock(tenant, EMAIL, "fraud", RequestContext(actor="support:alice"))
    response = finish(client, wait)
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert 'data-app-login-result="refused"' in response.text  # type: ignore[attr-defined]
    assert client.cookies.get(session_cookie_name(container.settings, tenant)) is None


# -- no enumeration, no push bombing ----------------------------------------------------------------------------------


def _neutral(page: str) -> str:
    """A waiting page without what differs by chance: the request id, the number, the tokens."""
    page = re.sub(r"ar_[A-Za-z0-9_-]+", "ID", page)
    page = BINDING_RE.sub("CODE", page)
    page = re.sub(r"Numéro à saisir dans l’?'?application[^\"]*", "CODE", page)
    page = re.sub(r'aria-label="[^"]*: \d \d"', 'aria-label="CODE"', page)
    return CSRF_RE.sub("CSRF", page)


def test_an_unknown_number_gets_the_same_pages(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    known = ask(client, MOBILE)
    other_browser.get("/laposte/login/app")
    unknown = ask(other_browser, UNKNOWN)
    assert WAIT_RE.match(known) and WAIT_RE.match(unknown)
    known_page, unknown_page = client.get(known), other_browser.get(unknown)
    assert known_page.status_code == unknown_page.status_code == 200
    assert _neutral(known_page.text) == _neutral(unknown_page.text)
    assert client.get(known + "/status").json().keys() == other_browser.get(unknown + "/status").json().keys()


def test_requests_per_number_are_limited(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, soft: SoftDevice
) -> None:
    for number in (MOBILE, UNKNOWN):
        for _ in range(3):
            ask(client, number)
        token = csrf(client.get("/laposte/login/app").text)
        response = client.post(
            "/laposte/login/app", data={"csrf_token": token, "mobile": number}, follow_redirects=False
        )
        assert response.status_code == 429
        assert "Trop de demandes" in response.text
    clock.advance(minutes=10)
    ask(client, MOBILE)


# -- the step-up mode ----------------------------------------------------------------------------------------------


def test_a_step_up_waits_for_the_logged_in_account_and_opens_its_session_again(
    client: TestClient, container: Container, tenant: Tenant, soft: SoftDevice
) -> None:
    """A step-up (asked by the authorization endpoint, tests/protocol/test_assurance_eidas2.py):
    the page names the partner, offers no other number nor the password login, a refusal's
    "try again" goes back to the page that asked, and an approval opens the session again."""
    account = container.accounts.find(tenant, EMAIL)
    client.get("/laposte/login/app")
    handle = client.cookies.get(cookie_name(container.settings))
    assert handle
    login = AppLogin(container.approvals)
    back = "/laposte/authorize/flow-id"
    refused = login.step_up(tenant, account.id, "Impots.gouv", handle, CTX)
    page = client.get(wait_url(tenant, refused.request.id, back))
    assert "Impots.gouv" in page.text and "Confirmez dans votre application" in page.text
    assert "/laposte/login?" not in page.text and "Utiliser un autre numéro" not in page.text
    container.approvals.decide(tenant, soft.answer(refused.request, Decision.DENY, binding_code="", pin=None), CTX)
    result = client.get(wait_url(tenant, refused.request.id, back))
    assert 'data-app-login-result="denied"' in result.text and f'href="{back}"' in result.text

    approved = login.step_up(tenant, account.id, "Impots.gouv", handle, CTX)
    wait = wait_url(tenant, approved.request.id, back)
    assert container.approvals.decide(tenant, soft.answer(approved.request), CTX).ok
    response = finish(client, wait, return_to=back)
    assert response.headers["location"] == back  # type: ignore[attr-defined]
    live = container.sessions.resolve(tenant, client.cookies.get(session_cookie_name(container.settings, tenant)))
    assert live is not None and live.account.id == account.id and live.session.acr == "eidas2"

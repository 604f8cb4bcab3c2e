"""Login and logout pages: the cookie, the refusals people read, the timeouts, logout for real.

Driven with TestClient over ``https://testserver`` on the demo tenants and the frozen clock
(09:00 UTC on 15 January 2026 is 10:00 in Paris).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from sesame.services.sessions import session_id_of

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOW_URL_RE = re.compile(r"^/laposte/login/[A-Za-z0-9_-]{43}$")
COOKIE = "__Host-sesame_session_laposte"
EMAIL = "jeanne.martin@example.fr"
PASSWORD = "Sesame-Login-2026!"
NEW_PASSWORD = "Another-Secret-77"
WRONG = "Wrong-password-1"
GENERIC_FR = "Erreur de saisie du login ou du mot de passe. Les informations saisies sont incorrectes."
GENERIC_EN = "Incorrect login or password. The information entered is not correct."


@pytest.fixture
def account(app: FastAPI, container: Container) -> Account:
    laposte = container.tenants.get("laposte")
    new = NewAccount(email=EMAIL, given_name="Jeanne", family_name="Martin", verified=True)
    return container.accounts.create(laposte, new, PASSWORD, RequestContext(actor="test"))


def other_client(app: FastAPI, ip: str = "testclient") -> TestClient:
    return TestClient(app, base_url="https://testserver", client=(ip, 50000))


@pytest.fixture
def second(app: FastAPI) -> Iterator[TestClient]:
    with other_client(app) as client:
        yield client


def start(client: TestClient, query: str = "") -> tuple[str, str]:
    """Open the login page; returns (flow URL, CSRF token)."""
    response = client.get(f"/laposte/login{query}", follow_redirects=False)
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    assert FLOW_URL_RE.fullmatch(url)
    page = client.get(url)
    assert page.status_code == 200
    return url, token_of(page.text)


def token_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def post_credentials(
    client: TestClient, url: str, token: str, identifier: str = EMAIL, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    data = {"csrf_token": token, "step": "credentials", "identifier": identifier, "password": password, **extra}
    return client.post(url, data=data, follow_redirects=False)


def log_in(client: TestClient, identifier: str = EMAIL, password: str = PASSWORD, query: str = "") -> httpx.Response:
    url, token = start(client, query)
    return post_credentials(client, url, token, identifier, password)


def session_cookie_header(response: httpx.Response) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def cookie_value(response: httpx.Response) -> str:
    return session_cookie_header(response).split(";", 1)[0].split("=", 1)[1]


def logged_in(client: TestClient) -> bool:
    """Whether this browser's cookie opens a live session (the login page sends it on)."""
    response = client.get("/laposte/login", follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"] == "/laposte/account"


def audit_records(container: Container) -> list[tuple[str, dict[str, object]]]:
    with container.uow(readonly=True) as uow:
        laposte = uow.tenants.get_by_slug("laposte")
        assert laposte is not None
        return [(r.event.type, r.event.details) for r in uow.audit.chain(laposte.id)]


def refusal(html: str) -> str | None:
    match = re.search(r'data-login-error="([a-z_]+)"', html)
    return match.group(1) if match else None


# -- success and the cookie --------------------------------------------------------------------------


def test_login_sets_a_secure_cookie_and_goes_to_the_account(client: TestClient, account: Account) -> None:
    response = log_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/laposte/account"
    header = session_cookie_header(response)
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes
    assert "SameSite=Lax" in header and "Path=/" in header
    assert len(cookie_value(response)) >= 43  # >= 256 random bits
    assert logged_in(client)


def test_every_login_gets_a_new_id_and_ends_the_previous_session(
    client: TestClient, account: Account, container: Container
) -> None:
    # Two login tabs opened while logged out; logging in with the second replaces the first session.
    first_url, token = start(client)
    second_url, _ = start(client)
    first = cookie_value(post_credentials(client, first_url, token))
    second = cookie_value(post_credentials(client, second_url, token))
    assert first != second
    laposte = container.tenants.get("laposte")
    assert container.sessions.resolve(laposte, first) is None
    assert container.sessions.resolve(laposte, second) is not None
    with container.uow(readonly=True) as uow:
        old = uow.accounts.get_session(session_id_of(first))
        assert old is not None and old.end_reason == "replaced"


def test_return_to_and_login_hint(client: TestClient, account: Account) -> None:
    url, _ = start(client, f"?login_hint={EMAIL}")
    assert f'value="{EMAIL}"' in client.get(url).text
    response = log_in(client, query="?return_to=/laposte/account%3Ftab%3Dsessions")
    assert response.headers["location"] == "/laposte/account?tab=sessions"
    # A logged-in person opening the login page goes on at once, to return_to when given.
    again = client.get("/laposte/login?return_to=/laposte/elsewhere", follow_redirects=False)
    assert again.headers["location"] == "/laposte/elsewhere"


def test_return_to_never_leaves_the_site(client: TestClient, account: Account) -> None:
    response = log_in(client, query="?return_to=//evil.example/steal")
    assert response.headers["location"] == "/evil.example/steal"


def test_the_page_has_the_eye_the_autocomplete_hints_and_no_remember_me(client: TestClient) -> None:
    url, _ = start(client)
    page = client.get(url).text
    # "webauthn": the browser offers the site's passkeys among the identifier's suggestions.
    assert 'autocomplete="username webauthn"' in page and 'autocomplete="current-password"' in page
    assert "data-password-toggle" in page and "js/password.js" in page
    assert 'type="checkbox"' not in page
    assert 'href="/laposte/recovery"' in page and 'href="/laposte/register"' in page
    assert "Mot de passe" in page and 'lang="fr"' in page


# -- refusals ----------------------------------------------------------------------------------------


def _normalized(html: str) -> str:
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    html = re.sub(r"/laposte/login/[A-Za-z0-9_-]{43}", "/laposte/login/FLOW", html)
    html = re.sub(r'data-webauthn-options="[^"]*"', 'data-webauthn-options=""', html)  # each flow's own challenge
    return re.sub(r'name="identifier"([^>]*)value="[^"]*"', r'name="identifier"\1value=""', html)


def test_unknown_and_wrong_password_get_the_same_page(client: TestClient, account: Account) -> None:
    wrong = log_in(client, EMAIL, WRONG)
    unknown = log_in(client, "nobody@example.fr", WRONG)
    assert wrong.status_code == unknown.status_code == 400
    assert GENERIC_FR in wrong.text
    assert _normalized(wrong.text) == _normalized(unknown.text)
    # The identifier stays in its field, the password never comes back.
    assert f'value="{EMAIL}"' in wrong.text and WRONG not in wrong.text


def test_english(client: TestClient, account: Account) -> None:
    url, token = start(client, "?lang=en")
    response = post_credentials(client, url, token, password=WRONG)
    assert GENERIC_EN in response.text and 'lang="en"' in response.text


def test_lockout_tells_until_when_in_paris_time_and_ends_with_the_clock(
    client: TestClient, account: Account, clock: FrozenClock
) -> None:
    url, token = start(client)
    for _ in range(4):  # laposte: 5 failures
        assert refusal(post_credentials(client, url, token, password=WRONG).text) == "invalid"
    response = post_credentials(client, url, token, password=WRONG)
    assert refusal(response.text) == "suspended"
    assert "15 janvier 2026" in response.text and "10:15" in response.text  # 09:15 UTC
    # The right password changes nothing while suspended, in English too.
    english = client.get(url + "?lang=en")
    response = post_credentials(client, url, token_of(english.text))
    assert refusal(response.text) == "suspended" and "January 15, 2026" in response.text
    clock.advance(minutes=15)
    assert post_credentials(client, url, token).status_code == 303


def test_throttling_per_ip(app: FastAPI, container: Container) -> None:
    container.tenants.update_policy("laposte", {"lockout": {"ip_requests_per_minute": 5}}, actor="test")
    with other_client(app, "192.0.2.1") as noisy, other_client(app, "192.0.2.2") as quiet:
        url, token = start(noisy)
        for number in range(5):
            response = post_credentials(noisy, url, token, f"user{number}@example.fr", WRONG)
            assert refusal(response.text) == "invalid"
        response = post_credentials(noisy, url, token, "user9@example.fr", WRONG)
        assert refusal(response.text) == "throttled" and "10:01" in response.text
        assert 'value="user9@example.fr"' in response.text
        other_url, other_token = start(quiet)
        assert refusal(post_credentials(quiet, other_url, other_token, "user9@example.fr", WRONG).text) == "invalid"


def test_parallel_wrong_passwords_over_http_are_each_counted(
    app: FastAPI, account: Account, container: Container
) -> None:
    container.tenants.update_policy(
        "laposte", {"lockout": {"max_failures": 30, "ip_requests_per_minute": 1000}}, actor="test"
    )
    with other_client(app) as browser:
        flows = [start(browser) for _ in range(100)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            pages = list(pool.map(lambda flow: post_credentials(browser, flow[0], flow[1], password=WRONG), flows))
    outcomes = [refusal(page.text) for page in pages]
    assert outcomes.count("invalid") == 29 and outcomes.count("suspended") == 71
    types = [kind for kind, _ in audit_records(container)]
    assert types.count("login.failed") + types.count("login.refused") == 100


def test_locked_account_is_told_only_after_the_right_password(
    client: TestClient, account: Account, container: Container
) -> None:
    container.accounts.lock(container.tenants.get("laposte"), EMAIL, "support", RequestContext(actor="cli"))
    assert refusal(log_in(client, password=WRONG).text) == "invalid"
    response = log_in(client)
    assert response.status_code == 400 and refusal(response.text) == "locked"
    assert "verrouillé" in response.text and 'href="/laposte/recovery"' in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Veuillez saisir votre adresse e-mail."),
        ({"identifier": EMAIL}, "Veuillez saisir votre mot de passe."),
        ({"identifier": "a" * 300 + "@example.fr", "password": PASSWORD}, "254 caractères"),
        ({"identifier": EMAIL, "password": "p" * 2000}, "1024 caractères"),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(
    client: TestClient, account: Account, container: Container, data: dict[str, str], message: str
) -> None:
    before = audit_records(container)
    url, token = start(client)
    response = client.post(url, data={"csrf_token": token, "step": "credentials", **data})
    assert response.status_code == 400
    assert message in response.text and 'aria-invalid="true"' in response.text and 'role="alert"' in response.text
    assert audit_records(container) == before
    assert 'data-flow-state="credentials"' in client.get(url).text


def test_wrong_or_missing_csrf_token(client: TestClient, account: Account, container: Container) -> None:
    url, token = start(client)
    for data in ({}, {"csrf_token": token[:-2] + "xx"}):
        response = client.post(url, data={**data, "step": "credentials", "identifier": EMAIL, "password": PASSWORD})
        assert response.status_code == 403
    assert not logged_in(client)
    assert audit_records(container)[-1][0] == "account.created"  # no login was even tried


def test_expired_flow_offers_a_fresh_start(client: TestClient, account: Account, clock: FrozenClock) -> None:
    url, token = start(client)
    clock.advance(hours=2)
    response = post_credentials(client, url, token)
    assert response.status_code == 410 and 'href="/laposte/login"' in response.text
    assert not logged_in(client)


def test_double_submit_opens_one_session(client: TestClient, account: Account, container: Container) -> None:
    url, token = start(client)
    first = post_credentials(client, url, token)
    again = post_credentials(client, url, token)
    assert first.status_code == again.status_code == 303
    assert not any(h.startswith(COOKIE) for h in again.headers.get_list("set-cookie"))
    assert logged_in(client)
    assert len(container.sessions.list(account.id)) == 1


def test_a_customer_number_tenant_gets_its_keypad_login(client: TestClient) -> None:
    response = client.get("/banque/login", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/banque/keypad-login/")
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and 'name="customer_number"' in page.text and 'name="password"' not in page.text


# -- what an account may owe before its session ---------------------------------------------------------


def test_forced_change_then_review_then_session(client: TestClient, account: Account, container: Container) -> None:
    laposte = container.tenants.get("laposte")
    container.accounts.flag_password_change(laposte, EMAIL, "fraud", RequestContext(actor="cli"))
    url, token = start(client)
    page = client.post(
        url, data={"csrf_token": token, "step": "credentials", "identifier": EMAIL, "password": PASSWORD}
    )
    assert 'data-flow-state="change_password"' in page.text
    assert 'autocomplete="new-password"' in page.text and 'data-password-rules="password"' in page.text
    refused = client.post(
        url, data={"csrf_token": token, "step": "change_password", "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert refused.status_code == 400 and "différent" in refused.text
    page = client.post(
        url,
        data={
            "csrf_token": token,
            "step": "change_password",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert 'data-flow-state="review_profile"' in page.text
    assert "Jeanne" in page.text and "Martin" in page.text and EMAIL in page.text
    assert not logged_in(client)  # no session before the review
    done = client.post(
        url, data={"csrf_token": token, "step": "review_profile", "action": "confirm"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/laposte/account"
    assert logged_in(client)
    notice = list_messages(container.uow, tenant_slug="laposte")[0].message
    assert notice.template == "password_changed" and "modifié" in notice.subject


def test_unconfirmed_email_is_told_how_to_finish(client: TestClient, app: FastAPI, container: Container) -> None:
    laposte = container.tenants.get("laposte")
    new = NewAccount(email=EMAIL, given_name="Jeanne", family_name="Martin", verified=False)
    container.accounts.create(laposte, new, PASSWORD, RequestContext(actor="test"))
    url, token = start(client)
    page = client.post(
        url, data={"csrf_token": token, "step": "credentials", "identifier": EMAIL, "password": PASSWORD}
    )
    assert 'data-flow-state="confirm_email"' in page.text and "confirm" in page.text.lower()
    page = client.post(url, data={"csrf_token": token, "step": "confirm_email", "action": "resend"})
    assert "Un nouvel e-mail a été envoyé" in page.text
    inbox = client.get("/_dev/outbox.json?tenant=laposte").json()
    message = next(m for m in inbox if m["template"] == "confirm_email")
    code = re.search(r"\b(\d{6})\b", message["text"])
    assert code and "/laposte/confirm-email?token=" in message["text"]
    done = client.post(
        url,
        data={"csrf_token": token, "step": "confirm_email", "action": "confirm", "code": code.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and cookie_value(done)
    assert logged_in(client)


# -- timeouts -------------------------------------------------------------------------------------------


def test_idle_timeout(client: TestClient, account: Account, container: Container, clock: FrozenClock) -> None:
    log_in(client)
    idle = container.tenants.get("laposte").policy.session.idle_timeout_seconds
    clock.advance(seconds=idle - 1)
    assert logged_in(client)  # this request counts as activity
    clock.advance(seconds=idle - 1)
    assert logged_in(client)
    clock.advance(seconds=idle)
    response = client.get("/laposte/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/laposte/login")
    assert not logged_in(client)


def test_absolute_timeout(client: TestClient, account: Account, container: Container, clock: FrozenClock) -> None:
    log_in(client)
    policy = container.tenants.get("laposte").policy.session
    elapsed = 0
    step = policy.idle_timeout_seconds // 2
    while elapsed + step < policy.absolute_timeout_seconds:
        clock.advance(seconds=step)
        elapsed += step
        assert logged_in(client), f"still active after {elapsed} s"
    clock.advance(seconds=policy.absolute_timeout_seconds - elapsed)
    assert not logged_in(client)
    response = client.get("/laposte/account", follow_redirects=False)
    assert response.headers["location"].startswith("/laposte/login")


# -- logout ---------------------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(
    client: TestClient, second: TestClient, account: Account, container: Container
) -> None:
    stolen = cookie_value(log_in(client))
    page = client.get("/laposte/logout")
    assert page.status_code == 200 and "Me déconnecter" in page.text
    response = client.post("/laposte/logout", data={"csrf_token": token_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/laposte?logged_out=1"
    assert "Max-Age=0" in session_cookie_header(response)
    assert "Vous êtes déconnecté" in client.get(response.headers["location"]).text
    assert not logged_in(client)
    # The old cookie, replayed from another browser, opens nothing.
    second.cookies.set(COOKIE, stolen, domain="testserver")
    assert not logged_in(second)
    with container.uow(readonly=True) as uow:
        ended = uow.accounts.get_session(session_id_of(stolen))
        assert ended is not None and ended.end_reason == "logout"
    kind, details = audit_records(container)[-1]
    assert kind == "logout" and details["ended"] is True


def test_get_logout_does_not_log_out_nor_does_a_forged_post(client: TestClient, account: Account) -> None:
    log_in(client)
    assert client.get("/laposte/logout").status_code == 200
    assert logged_in(client)
    for data in ({}, {"csrf_token": "forged"}):
        assert client.post("/laposte/logout", data=data, follow_redirects=False).status_code == 403
    assert logged_in(client)


def test_logout_when_not_logged_in(client: TestClient, container: Container) -> None:
    page = client.get("/laposte/logout")
    assert "pas connecté" in page.text and "<form" not in page.text.split('id="content"')[1]
    _, token = start(client)  # any form's token
    response = client.post("/laposte/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and "Max-Age=0" in session_cookie_header(response)
    assert "logout" not in [kind for kind, _ in audit_records(container)]


# -- the audit log ----------------------------------------------------------------------------------------


def test_audit_events_hold_no_secret(client: TestClient, account: Account, container: Container) -> None:
    log_in(client, password=WRONG)
    log_in(client, "nobody@example.fr", WRONG)
    log_in(client)
    page = client.get("/laposte/logout")
    client.post("/laposte/logout", data={"csrf_token": token_of(page.text)})
    records = audit_records(container)
    types = [kind for kind, _ in records]
    assert types.count("login.failed") == 2 and "login.succeeded" in types and "logout" in types
    text = repr(records)
    for secret in (PASSWORD, WRONG):
        assert secret not in text

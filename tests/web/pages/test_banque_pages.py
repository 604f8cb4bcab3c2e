"""The bank's pages over HTTP: the keypad login at /banque/login, "secure my access", a new code by post.

Driven with TestClient over https://testserver on the demo tenants and the frozen clock (09:00 UTC
on 15 January 2026 is 10:00 in Paris). The keys are clicked as keypad.js does: the references of
the page's buttons, joined by dots, in the hidden field.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.accounts import AccountStatus
from sesame.logging import configure_logging
from sesame.services.banque import NEW_CODE_LETTER
from tests.banque_support import GOOD_CODE, Customer, bank, code_in, customers, enrol, letters
from tests.log_support import without_random_fields

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_RE = re.compile(
    r'<button type="submit" name="press" value="([A-Za-z]+)" class="keypad__key" aria-label="chiffre (\d)"'
)
STATE_RE = re.compile(r'data-flow-state="([a-z_]+)"')
FLOW_URL_RE = re.compile(r"^/banque/keypad-login/[A-Za-z0-9_-]{43}$")
COOKIE = "__Host-sesame_session_banque"
WRONG = "390517"


@pytest.fixture
def customer(app: FastAPI, container: Container) -> Customer:
    return enrol(container)


class Keypad:
    """The keypad page a flow URL shows now: its CSRF token, state, and the keys' references."""

    def __init__(self, client: TestClient, url: str) -> None:
        self.client, self.url = client, url
        response = client.get(url)
        assert response.status_code == 200, response.text
        self.html = response.text
        match = CSRF_RE.search(self.html)
        self.token = match.group(1) if match else ""  # the last pages have no form
        state = STATE_RE.search(self.html)
        self.state = state.group(1) if state else None
        self.refs = {digit: ref for ref, digit in KEY_RE.findall(self.html)}

    def keys(self, code: str) -> str:
        return ".".join(self.refs[digit] for digit in code)

    def post(self, **data: str) -> httpx.Response:
        form = {"csrf_token": self.token, "step": self.state or "", **data}
        return self.client.post(self.url, data=form, follow_redirects=False)

    def type(self, code: str, number: str | None = None) -> httpx.Response:
        data = {"keys": self.keys(code), "action": "validate"}
        if number is not None:
            data["customer_number"] = number
        return self.post(**data)

    def again(self) -> Keypad:
        return Keypad(self.client, self.url)


def open_login(client: TestClient, query: str = "") -> Keypad:
    response = client.get(f"/banque/login{query}", follow_redirects=False)
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    assert FLOW_URL_RE.fullmatch(url), url
    return Keypad(client, url)


def log_in(client: TestClient, number: str, code: str, query: str = "") -> tuple[Keypad, httpx.Response]:
    page = open_login(client, query)
    return page, page.type(code, number)


def first_login(client: TestClient, customer: Customer) -> httpx.Response:
    page, response = log_in(client, customer.number, customer.code)
    assert response.status_code == 303
    page = page.again()
    assert page.state == "new_code", page.html
    page.type(GOOD_CODE)
    page = page.again()
    assert page.state == "confirm_code"
    return page.type(GOOD_CODE)


def logged_in(client: TestClient) -> bool:
    return client.get("/banque/account", follow_redirects=False).status_code == 200


# -- the page -----------------------------------------------------------------------------------------------


def test_the_login_page_is_a_keypad_in_french(client: TestClient) -> None:
    page = open_login(client)
    html = page.html
    assert 'lang="fr"' in html and "Se connecter à votre Espace client" in html and "Numéro client" in html
    assert sorted(page.refs) == list("0123456789")  # ten keys, each named "chiffre N"
    assert 'autocomplete="off" data-keypad-field' in html and 'name="keys" value=""' in html
    assert 'type="password"' not in html  # no field holds the code, so none can be autofilled
    assert '<script src="/static/js/keypad.js' in html
    # Nothing the page holds for the code looks like a digit: the keys send letters only.
    assert all(not any(c.isdigit() for c in ref) for ref in page.refs.values())
    assert 'href="/banque/recovery"' in html and 'href="/banque/secure-access"' in html


def test_the_layout_changes_on_every_attempt(client: TestClient, customer: Customer) -> None:
    page = open_login(client)
    first = dict(page.refs)
    page.type(WRONG, customer.number)
    again = page.again()
    assert set(again.refs.values()).isdisjoint(first.values())
    assert "Erreur de saisie de l’identifiant ou du mot de passe." in again.html


def test_keypad_js_is_served(client: TestClient) -> None:
    script = client.get("/static/js/keypad.js")
    assert script.status_code == 200 and "data-keypad-field" in script.text


# -- logging in --------------------------------------------------------------------------------------------------


def test_first_login_then_a_new_code_then_the_account(client: TestClient, customer: Customer) -> None:
    response = first_login(client, customer)
    assert response.status_code == 303 and response.headers["location"] == "/banque/account"
    assert any(header.startswith(COOKIE) for header in response.headers.get_list("set-cookie"))
    assert logged_in(client)
    client.post("/banque/logout", data={"csrf_token": open_login(client, "?prompt=login").token})
    assert not logged_in(client)
    _, response = log_in(client, customer.number, GOOD_CODE, "?return_to=/banque/account%23sessions")
    assert response.headers["location"] == "/banque/account#sessions"
    assert logged_in(client)


def test_a_logged_in_person_goes_on(client: TestClient, customer: Customer) -> None:
    first_login(client, customer)
    response = client.get("/banque/login?return_to=/banque/account", follow_redirects=False)
    assert response.headers["location"] == "/banque/account"
    # prompt=login (OpenID Connect) asks for a login made now, even so.
    assert FLOW_URL_RE.fullmatch(client.get("/banque/login?prompt=login", follow_redirects=False).headers["location"])


def test_three_wrong_codes_say_until_when_in_paris_time(client: TestClient, customer: Customer) -> None:
    page = open_login(client)
    for _ in range(3):
        page.type(WRONG, customer.number)
        page = page.again()
    assert 'data-keypad-error="suspended"' in page.html
    assert "Vous pourrez réessayer le 15 janvier 2026 à 11:00 (heure de Paris)." in page.html.replace("\u202f", " ")


def test_a_typo_in_the_number_is_told_at_once(client: TestClient, customer: Customer) -> None:
    page = open_login(client)
    typo = customer.number[:-1] + str((int(customer.number[-1]) + 1) % 10)
    page.type(customer.code, typo)
    page = page.again()
    assert 'data-keypad-error="number_check_digit"' in page.html and 'aria-invalid="true"' in page.html
    assert "erreur de saisie" in page.html


def test_the_form_needs_its_csrf_token(client: TestClient, customer: Customer) -> None:
    page = open_login(client)
    response = client.post(page.url, data={"step": "credentials", "keys": page.keys(customer.code)})
    assert response.status_code == 403


def test_keys_without_javascript(client: TestClient, customer: Customer) -> None:
    page = open_login(client)
    for digit in customer.code:
        assert page.post(customer_number=customer.number, press=page.refs[digit]).status_code == 303
        page = page.again()
    assert page.html.count("keypad__dot is-filled") == 6 and "Chiffres saisis\u00a0: 6 sur 6." in page.html
    page.post(customer_number=customer.number, action="validate")
    assert page.again().state == "new_code"


# -- "secure my access" -----------------------------------------------------------------------------------------


def test_secure_my_access_from_the_account(client: TestClient, container: Container, customer: Customer) -> None:
    first_login(client, customer)
    account = client.get("/banque/account")
    assert 'href="/banque/secure-access"' in account.text
    confirm = client.get("/banque/secure-access")
    assert confirm.status_code == 200 and "Bloquer mon accès maintenant" in confirm.text
    response = client.post("/banque/secure-access", data={"csrf_token": CSRF_RE.search(confirm.text).group(1)})  # type: ignore[union-attr]
    assert response.status_code == 200 and "Votre accès est bloqué" in response.text
    assert any(h.startswith(COOKIE) and "Max-Age=0" in h for h in response.headers.get_list("set-cookie"))
    assert not logged_in(client)
    found = customers(container).find(bank(container), customer.number)
    assert found.status is AccountStatus.LOCKED
    assert len(letters(container, NEW_CODE_LETTER)) == 1


def test_secure_my_access_from_the_login_page(client: TestClient, container: Container, customer: Customer) -> None:
    response = client.get("/banque/secure-access", follow_redirects=False)
    page = Keypad(client, response.headers["location"])
    assert "Sécuriser mon accès" in page.html and "Bloquer mon accès" in page.html
    page.type(customer.code, customer.number)
    page = page.again()
    assert page.state == "secured" and "Votre accès est bloqué" in page.html
    assert customers(container).find(bank(container), customer.number).status is AccountStatus.LOCKED


def test_secure_my_access_needs_a_form_token(client: TestClient, customer: Customer) -> None:
    first_login(client, customer)
    assert client.post("/banque/secure-access", data={}).status_code == 403
    assert logged_in(client)


# -- a new code by post -------------------------------------------------------------------------------------------


def test_forgotten_code_sends_a_letter(client: TestClient, container: Container, customer: Customer) -> None:
    form = client.get("/banque/recovery")
    assert form.status_code == 200 and "Vous avez oublié votre code\u00a0?" in form.text
    token = CSRF_RE.search(form.text).group(1)  # type: ignore[union-attr]
    sent = client.post("/banque/recovery", data={"csrf_token": token, "customer_number": customer.number})
    assert sent.status_code == 200 and "data-recovery-sent" in sent.text
    unknown = client.post("/banque/recovery", data={"csrf_token": token, "customer_number": "7992739875"})
    assert unknown.url == sent.url  # the same answer
    (letter,) = letters(container, NEW_CODE_LETTER)
    # The letter's code reopens the way: a new code, then the session.
    page, _ = log_in(client, customer.number, code_in(letter))
    assert page.again().state == "new_code"


def test_forgotten_code_with_a_typo(client: TestClient, customer: Customer) -> None:
    token = CSRF_RE.search(client.get("/banque/recovery").text).group(1)  # type: ignore[union-attr]
    response = client.post("/banque/recovery", data={"csrf_token": token, "customer_number": "12345"})
    assert response.status_code == 400 and 'data-recovery-error="number_length"' in response.text


def test_the_bank_link_of_an_email_recovery_points_to_the_post(client: TestClient) -> None:
    page = client.get("/banque/recovery/link?token=" + "A" * 43)
    assert page.status_code == 404 and 'href="/banque/recovery"' in page.text


# -- other tenants --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/laposte/secure-access", "/laposte/keypad-login"])
def test_email_tenants_have_no_keypad(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_email_tenants_still_log_in_with_a_password(client: TestClient) -> None:
    response = client.get("/laposte/login", follow_redirects=False)
    assert response.headers["location"].startswith("/laposte/login/")


@pytest.fixture
def second(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as other:
        yield other


def test_a_flow_started_in_one_browser_cannot_be_used_in_another(
    client: TestClient, second: TestClient, customer: Customer
) -> None:
    page = open_login(client)
    token = open_login(second).token
    response = second.post(
        page.url, data={"csrf_token": token, "step": "credentials", "keys": page.keys(customer.code)}
    )
    assert response.status_code == 403


# -- no code in the logs ------------------------------------------------------------------------------------------


@pytest.fixture
def log_output(app: FastAPI, container: Container) -> Iterator[io.StringIO]:
    """The app's logging (installed by create_app) redirected, as JSON at debug level, to a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging(container.settings.model_copy(update={"log_json": True, "log_level": "debug"}), stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.contextvars.clear_contextvars()


def test_no_code_reaches_the_logs(client: TestClient, container: Container, log_output: io.StringIO) -> None:
    customer = enrol(container)
    log_in(client, customer.number, WRONG)
    first_login(client, customer)
    token = CSRF_RE.search(client.get("/banque/recovery").text).group(1)  # type: ignore[union-attr]
    client.post("/banque/recovery", data={"csrf_token": token, "customer_number": customer.number})
    new_code = code_in(letters(container, NEW_CODE_LETTER)[-1])
    logged = without_random_fields(log_output.getvalue())  # times and correlation ids hold any digits
    assert '"path": "/banque/keypad-login/' in logged  # the logging did run
    for secret in (customer.code, GOOD_CODE, WRONG, new_code):
        assert secret not in logged


def test_a_login_hint_prefills_the_customer_number(client: TestClient, customer: Customer) -> None:
    page = open_login(client, f"?login_hint={customer.number}")
    assert f'value="{customer.number}"' in page.html
    assert 'name="customer_number" type="text"' in page.html
    assert 'value="12345"' not in open_login(client, "?login_hint=12345").html  # not a number: ignored

"""Recovery pages ("Mot de passe oublié") through the app: every path, including bad input."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus
from sesame.services.context import RequestContext
from sesame.services.outbox import InboxEntry, list_messages
from sesame.services.sessions import SessionService
from sesame.web.session import session_cookie_name
from tests.log_support import without_random_fields
from tests.web.conftest import BASE_URL

EMAIL = "marie.dupont@example.fr"
OLD_PASSWORD = "Sesame-Demo-2026!"
NEW_PASSWORD = "Tournesol-Bleu-42"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOW_URL_RE = re.compile(r"/laposte/recovery/[A-Za-z0-9_-]{43}")
CODE_RE = re.compile(r"(?:code|Your code)\s*:\s*(\d{6})")
LINK_RE = re.compile(r"https://testserver(/laposte/recovery/link\?token=[A-Za-z0-9_-]+)")


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=EMAIL, given_name="Marie", family_name="Dupont", verified=True)
    return container.accounts.create(tenant, new, OLD_PASSWORD, RequestContext())


class Browser:
    """A TestClient that remembers every cookie the server tried to set."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.set_cookies: list[str] = []

    def get(self, url: str) -> Response:
        return self._follow(self.client.get(url, follow_redirects=False))

    def post(self, url: str, data: dict[str, str]) -> Response:
        return self._follow(self.client.post(url, data=data, follow_redirects=False))

    def _follow(self, response: Response) -> Response:
        self.set_cookies.extend(response.headers.get_list("set-cookie"))
        while response.status_code in (302, 303):
            response = self.client.get(response.headers["location"], follow_redirects=False)
            self.set_cookies.extend(response.headers.get_list("set-cookie"))
        return response

    def start(self, query: str = "") -> tuple[str, str]:
        """A new recovery flow: (its URL, the CSRF token of its forms)."""
        first = self.client.get(f"/laposte/recovery{query}", follow_redirects=False)
        assert first.status_code == 303
        url = first.headers["location"]
        assert FLOW_URL_RE.fullmatch(url)
        page = self.get(url)
        assert page.status_code == 200 and 'data-flow-state="request"' in page.text
        token = CSRF_RE.search(page.text)
        assert token
        return url, token.group(1)

    def ask(self, email: str = EMAIL) -> tuple[str, str, Response]:
        url, token = self.start()
        return url, token, self.post(url, {"csrf_token": token, "step": "request", "email": email})


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


def another_browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=BASE_URL)


def recovery_emails(container: Container) -> list[InboxEntry]:
    return [e for e in list_messages(container.uow) if e.message.template == "recovery"]


def latest_code_and_link(container: Container) -> tuple[str, str]:
    text = recovery_emails(container)[0].message.body_text
    code, link = CODE_RE.search(text), LINK_RE.search(text)
    assert code and link
    return code.group(1), link.group(1)


def state_of(page: Response) -> str:
    found = re.search(r'data-flow-state="([a-z_]+)"', page.text)
    assert found, page.text
    return found.group(1)


def main_of(page: Response) -> str:
    return page.text[page.text.index("<main") : page.text.index("</main>")]


# -- same answer whatever the address ------------------------------------------------------------------


def test_known_and_unknown_addresses_get_the_same_pages(app: FastAPI, account: Account) -> None:
    pages: list[list[tuple[int, str]]] = []
    for email in (EMAIL, "personne@example.fr"):
        with another_browser(app) as client:
            browser = Browser(client)
            url, token, sent = browser.ask(email)
            wrong = browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": "000000"})
            responses = [(r.status_code, main_of(r).replace(url, "URL").replace(token, "T")) for r in (sent, wrong)]
            pages.append([(status, text.replace(email, "EMAIL")) for status, text in responses])
    assert pages[0] == pages[1]
    assert [status for status, _ in pages[0]] == [200, 400]
    assert "Si un compte existe pour EMAIL" in pages[0][0][1]


# -- the whole path -----------------------------------------------------------------------------------


def test_by_code_ends_every_session_and_opens_none(
    browser: Browser, container: Container, tenant: Tenant, account: Account, capfd: pytest.CaptureFixture[str]
) -> None:
    with container.uow() as uow:
        before = SessionService.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="198.51.100.1", user_agent="x"
        )
        uow.commit()
    assert container.sessions.resolve(tenant, before.token) is not None

    url, token, sent = browser.ask("  Marie.Dupont@example.FR ")
    assert state_of(sent) == "sent"
    code, link = latest_code_and_link(container)
    page = browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": code})
    assert state_of(page) == "new_password" and "Choisissez un nouveau mot de passe" in page.text
    assert 'autocomplete="new-password"' in page.text and 'id="password-rules"' in page.text
    done = browser.post(
        url, {"csrf_token": token, "step": "new_password", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert state_of(done) == "done"
    assert "Votre mot de passe a été modifié" in done.text
    assert 'href="/laposte/login?login_hint=Marie.Dupont%40example.fr"' in done.text

    assert container.sessions.resolve(tenant, before.token) is None
    cookie = session_cookie_name(container.settings, tenant)
    assert not any(header.startswith(cookie) for header in browser.set_cookies)
    assert cookie not in browser.client.cookies
    assert container.authenticator.authenticate(tenant, EMAIL, NEW_PASSWORD, RequestContext()).status is AuthStatus.OK
    notified = [e for e in list_messages(container.uow) if e.message.template == "password_changed"]
    assert [e.message.recipient for e in notified] == [EMAIL]

    # Nothing secret in the audit log nor in the server's log lines (the test client's own lines aside).
    with container.uow(readonly=True) as uow:
        audited = json.dumps([[r.event.type, r.event.subject, r.event.details] for r in uow.audit.recent(100)])
    assert "recovery.requested" in audited and "recovery.verified" in audited and "password.reset" in audited
    logged = "\n".join(line for line in "".join(capfd.readouterr()).splitlines() if "[httpx" not in line)
    logged = without_random_fields(logged)  # the times and correlation ids hold any 6 digits now and then
    for secret in (code, link.rsplit("=", 1)[1], NEW_PASSWORD):
        assert secret not in audited and secret not in logged


def test_the_link_works_in_another_browser(
    app: FastAPI, browser: Browser, container: Container, account: Account
) -> None:
    url, token, _ = browser.ask()
    code, link = latest_code_and_link(container)
    with another_browser(app) as phone_client:
        phone = Browser(phone_client)
        opened = phone.client.get(link, follow_redirects=False)
        assert opened.status_code == 303 and FLOW_URL_RE.fullmatch(opened.headers["location"])
        phone_url = opened.headers["location"]
        page = phone.get(phone_url)
        assert state_of(page) == "new_password" and EMAIL in page.text
        phone_token = CSRF_RE.search(page.text)
        assert phone_token
        # The new flow belongs to the phone: the first browser cannot finish it.
        stolen = browser.post(
            phone_url, {"csrf_token": token, "step": "new_password", "password": "x", "password_confirm": "x"}
        )
        assert stolen.status_code == 403
        done = phone.post(
            phone_url,
            {
                "csrf_token": phone_token.group(1),
                "step": "new_password",
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
        )
        assert state_of(done) == "done"
    # The code of the same email is spent with its link: the first browser's page is of no more use.
    late = browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": code})
    assert late.status_code == 400 and state_of(late) == "sent"


def test_a_replayed_link_gets_a_clear_page(
    app: FastAPI, browser: Browser, container: Container, account: Account
) -> None:
    browser.ask()
    _, link = latest_code_and_link(container)
    assert browser.client.get(link, follow_redirects=False).status_code == 303
    with another_browser(app) as other:
        replayed = other.get(link)
    assert replayed.status_code == 410
    assert "Ce lien ne fonctionne plus" in replayed.text and 'href="/laposte/recovery"' in replayed.text


@pytest.mark.parametrize("token", ["", "nope", "A" * 43, "A" * 5000])
def test_a_made_up_link_gets_a_clear_page(browser: Browser, token: str) -> None:
    response = browser.client.get(f"/laposte/recovery/link?token={token}")
    assert response.status_code == 410 and "Demander un nouvel e-mail" in response.text


def test_a_link_expires_after_an_hour(
    browser: Browser, container: Container, account: Account, clock: FrozenClock
) -> None:
    browser.ask()
    _, link = latest_code_and_link(container)
    clock.advance(hours=1)
    assert browser.client.get(link).status_code == 410


# -- codes ----------------------------------------------------------------------------------------------


def test_five_wrong_codes(browser: Browser, container: Container, account: Account) -> None:
    url, token, _ = browser.ask()
    code, _ = latest_code_and_link(container)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (9, 8, 7, 6, 5):
        page = browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": wrong})
        assert page.status_code == 400 and "Ce code n’est pas le bon" in page.text
        assert 'aria-invalid="true"' in page.text and 'role="alert"' in page.text
        assert f"Il vous reste {left} essais" in page.text
    page = browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": code})
    assert page.status_code == 400 and "Trop de codes erronés" in page.text


def test_resend_has_a_cooldown(browser: Browser, container: Container, account: Account, clock: FrozenClock) -> None:
    url, token, _ = browser.ask()
    clock.advance(seconds=15)
    page = browser.post(url, {"csrf_token": token, "step": "sent", "action": "resend"})
    assert page.status_code == 400 and "Veuillez patienter 45 secondes" in page.text
    assert len(recovery_emails(container)) == 1
    clock.advance(seconds=45)
    page = browser.post(url, {"csrf_token": token, "step": "sent", "action": "resend"})
    assert page.status_code == 200 and "Un nouvel e-mail est en route" in page.text
    assert len(recovery_emails(container)) == 2


def test_throttled_per_address_says_when_to_retry(browser: Browser, container: Container, account: Account) -> None:
    for _ in range(5):
        assert state_of(browser.ask()[2]) == "sent"
    _, _, refused = browser.ask()
    assert refused.status_code == 400 and state_of(refused) == "request"
    assert "réessayer dans 60 minutes" in refused.text
    assert len(recovery_emails(container)) == 5


# -- the new password ----------------------------------------------------------------------------------


def at_new_password(browser: Browser, container: Container) -> tuple[str, str]:
    url, token, _ = browser.ask()
    code, _ = latest_code_and_link(container)
    browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": code})
    return url, token


@pytest.mark.parametrize(
    ("password", "confirm", "explanation"),
    [
        ("Court1", "Court1", "trop court\u00a0: au moins 8 caractères"),
        ("toutminuscule1", "toutminuscule1", "Il faut une majuscule"),
        ("Password1", "Password1", "mot de passe courant ou divulgué"),
        ("Marie.Dupont@Example.fr", "Marie.Dupont@Example.fr", "votre nom ou votre adresse e-mail"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "Les deux mots de passe sont différents"),
        ("", "", "Veuillez choisir un nouveau mot de passe"),
        (OLD_PASSWORD, OLD_PASSWORD, "C’est votre mot de passe actuel"),
    ],
)
def test_a_refused_password_names_the_rule(
    browser: Browser,
    container: Container,
    tenant: Tenant,
    account: Account,
    password: str,
    confirm: str,
    explanation: str,
) -> None:
    url, token = at_new_password(browser, container)
    page = browser.post(
        url, {"csrf_token": token, "step": "new_password", "password": password, "password_confirm": confirm}
    )
    assert page.status_code == 400 and state_of(page) == "new_password"
    assert explanation in page.text
    assert container.authenticator.authenticate(tenant, EMAIL, OLD_PASSWORD, RequestContext()).status is AuthStatus.OK


def test_a_locked_account_is_told_to_contact_support(
    browser: Browser, container: Container, tenant: Tenant, account: Account
) -> None:
    container.accounts.lock(tenant, EMAIL, "fraud", RequestContext(actor="support:alice"))
    url, token = at_new_password(browser, container)
    done = browser.post(
        url, {"csrf_token": token, "step": "new_password", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert state_of(done) == "done" and "Votre accès reste bloqué" in done.text


# -- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "explanation"),
    [
        ({}, "Veuillez saisir votre adresse e-mail"),
        ({"email": "marie"}, "Ce n’est pas une adresse e-mail"),
        ({"email": "m" * 5000 + "@example.fr"}, "Ce n’est pas une adresse e-mail"),
    ],
)
def test_a_bad_address_is_explained(
    browser: Browser, container: Container, data: dict[str, str], explanation: str
) -> None:
    url, token = browser.start()
    page = browser.post(url, {"csrf_token": token, "step": "request", **data})
    assert page.status_code == 400 and explanation in page.text
    assert 'aria-describedby="email-error"' in page.text
    assert recovery_emails(container) == []


def test_a_wrong_csrf_token_changes_nothing(browser: Browser, container: Container, account: Account) -> None:
    url, token = browser.start()
    for data in ({"step": "request", "email": EMAIL}, {"csrf_token": token[:-2] + "xx", "email": EMAIL}):
        assert browser.post(url, data).status_code == 403
    assert state_of(browser.get(url)) == "request"
    assert recovery_emails(container) == []


def test_double_submit_sends_one_email_and_changes_the_password_once(
    browser: Browser, container: Container, account: Account
) -> None:
    url, token = browser.start()
    for _ in range(2):
        page = browser.post(url, {"csrf_token": token, "step": "request", "email": EMAIL})
        assert page.status_code == 200 and state_of(page) == "sent"
    assert len(recovery_emails(container)) == 1
    code, _ = latest_code_and_link(container)
    browser.post(url, {"csrf_token": token, "step": "sent", "action": "verify", "code": code})
    data = {"csrf_token": token, "step": "new_password", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert [state_of(browser.post(url, data)) for _ in range(2)] == ["done", "done"]
    notified = [e for e in list_messages(container.uow) if e.message.template == "password_changed"]
    assert len(notified) == 1


def test_an_expired_page_offers_a_fresh_start(browser: Browser, clock: FrozenClock) -> None:
    url, token = browser.start()
    clock.advance(hours=2)
    page = browser.post(url, {"csrf_token": token, "step": "request", "email": EMAIL})
    assert page.status_code == 410 and 'href="/laposte/recovery"' in page.text


# -- languages and tenants ------------------------------------------------------------------------------


def test_the_login_page_can_prefill_the_address(browser: Browser) -> None:
    url, _ = browser.start("?login_hint=marie.dupont%40example.fr")
    assert 'value="marie.dupont@example.fr"' in browser.get(url).text


def test_french_by_default_english_on_request(browser: Browser) -> None:
    url, _ = browser.start()
    page = browser.get(url)
    assert 'lang="fr"' in page.text and "Vous avez oublié votre mot de passe\u00a0?" in page.text
    english = browser.get(url + "?lang=en")
    assert 'lang="en"' in english.text and "Forgotten your password?" in english.text
    assert "Email address" in english.text


def test_the_bank_recovers_differently(browser: Browser) -> None:
    # The bank sends a new code by post (pages/banque.py): its own page, no email form.
    page = browser.client.get("/banque/recovery")
    assert page.status_code == 200 and 'name="customer_number"' in page.text and 'name="email"' not in page.text
    link = browser.client.get("/banque/recovery/link?token=" + "A" * 43)
    assert link.status_code == 404
    assert "Vous avez oublié votre code\u00a0?" in link.text and "Centre Financier" in link.text
    assert 'href="/banque/recovery"' in link.text


def test_an_unknown_tenant(browser: Browser) -> None:
    assert browser.client.get("/nobody/recovery").status_code == 404

"""The account page in the web: profile, sessions, consents, password and email changes, bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from sesame.services.sessions import OpenedSession
from sesame.web.pages.account import account_settings
from sesame.web.session import session_cookie_name
from tests.web.conftest import BASE_URL

PASSWORD = "Web-Account-2026"
NEW_PASSWORD = "Changed-Online-77"
EMAIL = "chloe.durand@example.fr"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Safari/604.1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HANDLE_RE = re.compile(r'name="session" value="([0-9a-f]+)"')
LINK_RE = re.compile(r"https://testserver(/laposte/account/email/confirm\?token=[A-Za-z0-9_-]+)")
CODE_RE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")  # the app fixture loaded the demo tenants


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    return make_account(container, tenant, EMAIL)


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def make_account(container: Container, tenant: Tenant, email: str, password: str = PASSWORD) -> Account:
    new = NewAccount(email=email, given_name="Chloé", family_name="Durand", verified=True, terms_version="1")
    return container.accounts.create(tenant, new, password, RequestContext(actor="test"))


def log_in(
    client: TestClient, container: Container, tenant: Tenant, account: Account, user_agent: str = FIREFOX
) -> OpenedSession:
    """What the login page will do: open a session and give the browser its cookie."""
    with container.uow() as uow:
        opened = container.sessions.open(
            uow,
            account,
            tenant,
            container.clock.now(),
            acr="eidas1",
            amr=["pwd"],
            ip="203.0.113.5",
            user_agent=user_agent,
        )
        uow.commit()
    client.cookies.set(session_cookie_name(container.settings, tenant), opened.token)
    return opened


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def start_flow(client: TestClient, path: str) -> tuple[str, str]:
    """Start a flow of the account page; returns (flow URL, CSRF token)."""
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    page = client.get(url)
    assert page.status_code == 200
    return url, csrf(page.text)


def logged_in(client: TestClient) -> bool:
    response = client.get("/laposte/account", follow_redirects=False)
    return response.status_code == 200


def login_status(container: Container, tenant: Tenant, email: str, password: str) -> AuthStatus:
    return container.authenticator.authenticate(tenant, email, password, RequestContext()).status


def outbox(container: Container, template: str) -> list[str]:
    """Text bodies of the queued emails of one template, newest first."""
    return [m.message.body_text for m in list_messages(container.uow) if m.message.template == template]


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [r.event.type for r in uow.audit.chain(tenant.id)]


# -- who may see the page --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/laposte/account", "/laposte/account/password", "/laposte/account/email"])
def test_not_logged_in_goes_to_the_login_and_comes_back(client: TestClient, tenant: Tenant, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/laposte/login?return_to={path}"


def test_a_form_sent_while_logged_out_comes_back_to_the_account_page(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    opened = log_in(client, container, tenant, account)
    token = csrf(client.get("/laposte/account").text)
    container.sessions.end(account.id, opened.session.id, "logout")
    for path in ("/laposte/account/consents", "/laposte/account/sessions/end-others"):
        response = client.post(path, data={"csrf_token": token, "marketing_email": "yes"}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/laposte/login?return_to=/laposte/account"
    assert not container.accounts.find(tenant, EMAIL).marketing_email


def test_a_session_of_another_tenant_does_not_count(client: TestClient, container: Container, tenant: Tenant) -> None:
    swiss = container.tenants.get("poste-ch")
    anna = container.accounts.create(
        swiss,
        NewAccount(email="anna@example.ch", given_name="Anna", family_name="Muster", verified=True),
        "A long passphrase of 2026",
        RequestContext(),
    )
    opened = log_in(client, container, swiss, anna)
    assert client.get("/poste-ch/account").status_code == 200
    assert client.get("/laposte/account", follow_redirects=False).status_code == 303
    # The same token under laposte's cookie name: still not a laposte session.
    client.cookies.set(session_cookie_name(container.settings, tenant), opened.token)
    assert client.get("/laposte/account", follow_redirects=False).status_code == 303


def test_a_made_up_cookie_does_not_count(client: TestClient, container: Container, tenant: Tenant) -> None:
    client.cookies.set(session_cookie_name(container.settings, tenant), "A" * 43)
    assert client.get("/laposte/account", follow_redirects=False).status_code == 303


# -- what the page shows ---------------------------------------------------------------------------


def test_the_page_in_french_by_default(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(other_browser, container, tenant, account, IPHONE)
    log_in(client, container, tenant, account, FIREFOX)
    page = client.get("/laposte/account")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fr">' in html and "<h1>Mon compte</h1>" in html
    assert "Mes informations" in html and "Chloé" in html and "Durand" in html and EMAIL in html
    assert "confirmée le 15 janvier 2026" in html
    assert "Version 1, acceptée le 15/01/2026 10:00" in html  # 09:00 UTC is 10:00 in Paris
    assert "Firefox sous Windows" in html and "Safari sous iOS" in html
    assert re.search(r'data-session="current">\s*<td>\s*Firefox sous Windows\s*<br><strong>Ce navigateur', html)
    assert "203.0.113.5" in html
    assert html.count("Fermer cette session") == 1  # only the other one
    assert "Fermer toutes les autres sessions" in html
    assert 'action="/laposte/logout"' in html and "Me déconnecter" in html
    assert 'href="/laposte/account/password"' in html and 'href="/laposte/account/email"' in html


def test_the_page_in_english(client: TestClient, container: Container, tenant: Tenant, account: Account) -> None:
    log_in(client, container, tenant, account)
    html = client.get("/laposte/account?lang=en").text
    assert '<html lang="en">' in html and "<h1>My account</h1>" in html
    assert "Firefox on Windows" in html and "This browser" in html
    assert "Version 1, accepted on 1/15/26, 10:00" in html
    assert "You are logged in on this browser only." in html


# -- sessions --------------------------------------------------------------------------------------


def test_ending_another_session_logs_that_browser_out(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(other_browser, container, tenant, account, IPHONE)
    log_in(client, container, tenant, account)
    page = client.get("/laposte/account").text
    [handle] = HANDLE_RE.findall(page)
    response = client.post("/laposte/account/sessions/end", data={"csrf_token": csrf(page), "session": handle})
    assert response.status_code == 200 and "Cette session est fermée" in response.text
    assert 'data-notice="session_ended"' in response.text and "Safari sous iOS" not in response.text
    assert not logged_in(other_browser)
    assert logged_in(client)
    assert audit_types(container, tenant).count("session.ended") == 1


def test_ending_a_session_that_is_not_mine_does_nothing(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    stranger = make_account(container, tenant, "stranger@example.fr")
    theirs = log_in(other_browser, container, tenant, stranger)
    log_in(client, container, tenant, account)
    token = csrf(client.get("/laposte/account").text)
    their_handle = account_settings(container).session_handle(theirs.session.id)
    for handle in (their_handle, theirs.session.id, "nope", ""):
        response = client.post("/laposte/account/sessions/end", data={"csrf_token": token, "session": handle})
        assert response.status_code == 200 and 'data-notice="session_ended"' in response.text  # the same answer
    response = client.post("/laposte/account/sessions/end", data={"csrf_token": token})
    assert response.status_code == 200
    assert logged_in(other_browser) and logged_in(client)
    assert "session.ended" not in audit_types(container, tenant)


def test_ending_all_other_sessions(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(other_browser, container, tenant, account, IPHONE)
    log_in(client, container, tenant, account)
    token = csrf(client.get("/laposte/account").text)
    response = client.post("/laposte/account/sessions/end-others", data={"csrf_token": token})
    assert response.status_code == 200 and 'data-notice="others_ended"' in response.text
    assert "Vous n’êtes connecté que sur ce navigateur." in response.text
    assert not logged_in(other_browser) and logged_in(client)
    again = client.post("/laposte/account/sessions/end-others", data={"csrf_token": token})  # a double submit
    assert again.status_code == 200
    assert audit_types(container, tenant).count("session.ended_others") == 1


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_forms_without_the_right_csrf_token_change_nothing(
    client: TestClient,
    other_browser: TestClient,
    container: Container,
    tenant: Tenant,
    account: Account,
    token: str | None,
) -> None:
    log_in(other_browser, container, tenant, account, IPHONE)
    log_in(client, container, tenant, account)
    client.get("/laposte/account")  # the CSRF cookie is set
    data = {} if token is None else {"csrf_token": token}
    for path in ("/laposte/account/consents", "/laposte/account/sessions/end-others"):
        response = client.post(path, data={**data, "marketing_email": "yes"})
        assert response.status_code == 403
    assert logged_in(other_browser)
    assert not container.accounts.find(tenant, EMAIL).marketing_email


# -- consents --------------------------------------------------------------------------------------


def test_consents_are_saved_with_their_time(
    client: TestClient, container: Container, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    log_in(client, container, tenant, account)
    token = csrf(client.get("/laposte/account").text)
    clock.advance(minutes=20)
    response = client.post("/laposte/account/consents", data={"csrf_token": token, "marketing_partners": "yes"})
    assert response.status_code == 200 and "Vos choix sont enregistrés." in response.text
    assert "Dernière modification le 15/01/2026 10:20." in response.text
    assert re.search(r'name="marketing_partners" value="yes"[^>]*\s+checked>', response.text)
    stored = container.accounts.find(tenant, EMAIL)
    assert stored.marketing_partners and not stored.marketing_email
    assert stored.marketing_partners_changed_at == clock.now() and stored.marketing_email_changed_at is None
    client.post("/laposte/account/consents", data={"csrf_token": token, "marketing_partners": "yes"})  # again
    assert audit_types(container, tenant).count("account.consents_changed") == 1
    client.post("/laposte/account/consents", data={"csrf_token": token})  # both unticked
    assert not container.accounts.find(tenant, EMAIL).marketing_partners


def test_a_consent_value_that_is_not_the_form_s_is_refused(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    token = csrf(client.get("/laposte/account").text)
    response = client.post("/laposte/account/consents", data={"csrf_token": token, "marketing_email": "x" * 5000})
    assert response.status_code == 400
    assert not container.accounts.find(tenant, EMAIL).marketing_email


# -- password change -------------------------------------------------------------------------------


def test_changing_the_password(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(other_browser, container, tenant, account, IPHONE)
    log_in(client, container, tenant, account)
    url, token = start_flow(client, "/laposte/account/password")
    page = client.get(url).text
    assert 'autocomplete="current-password"' in page and 'autocomplete="new-password"' in page
    assert "js/password.js" in page and 'id="new_password-rules"' in page
    form = {"csrf_token": token, "step": "change_password"}
    # A wrong current password: said so, one attempt used.
    response = client.post(
        url,
        data={
            **form,
            "current_password": "Not-It-1",
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400 and "Ce n’est pas votre mot de passe actuel" in response.text
    assert 'role="alert"' in response.text and 'aria-describedby="current_password-error' in response.text
    # A weak new password: the rules it fails are named.
    response = client.post(
        url, data={**form, "current_password": PASSWORD, "new_password": "weakpass", "new_password_confirm": "weakpass"}
    )
    assert response.status_code == 400
    assert 'data-failed-rules="upper digit"' in response.text
    assert "<li>Une lettre majuscule</li>" in response.text and "<li>Un chiffre</li>" in response.text
    response = client.post(
        url, data={**form, "current_password": PASSWORD, "new_password": PASSWORD, "new_password_confirm": PASSWORD}
    )
    assert "Votre nouveau mot de passe doit être différent de l’actuel." in response.text
    assert login_status(container, tenant, EMAIL, PASSWORD) is AuthStatus.OK
    # The right one.
    done = client.post(
        url,
        data={**form, "current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
    )
    assert done.status_code == 200 and "Votre mot de passe a été modifié" in done.text
    assert "1 autre session a été fermée" in done.text
    assert not logged_in(other_browser) and logged_in(client)
    assert login_status(container, tenant, EMAIL, NEW_PASSWORD) is AuthStatus.OK
    assert len(outbox(container, "password_changed")) == 1
    # The same form again (double submit): the done page, nothing more.
    again = client.post(
        url,
        data={
            **form,
            "current_password": NEW_PASSWORD,
            "new_password": "Third-One-99",
            "new_password_confirm": "Third-One-99",
        },
    )
    assert again.status_code == 200 and "Votre mot de passe a été modifié" in again.text
    assert login_status(container, tenant, EMAIL, NEW_PASSWORD) is AuthStatus.OK
    assert audit_types(container, tenant).count("password.changed") == 1


def test_wrong_current_passwords_suspend_the_change_for_a_while(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    url, token = start_flow(client, "/laposte/account/password")
    form = {"csrf_token": token, "step": "change_password", "new_password": NEW_PASSWORD}
    form["new_password_confirm"] = NEW_PASSWORD
    for _ in range(tenant.policy.lockout.max_failures):
        response = client.post(url, data={**form, "current_password": "Guess-1"})
    assert response.status_code == 400
    assert "Trop de mots de passe erronés : par sécurité, veuillez réessayer dans 15 minutes." in response.text
    response = client.post(url, data={**form, "current_password": PASSWORD})
    assert "veuillez réessayer dans 15 minutes" in response.text
    assert login_status(container, tenant, EMAIL, PASSWORD) is AuthStatus.SUSPENDED


def test_the_password_flow_refuses_a_wrong_csrf_token_and_another_browser(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    url, token = start_flow(client, "/laposte/account/password")
    data = {"step": "change_password", "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    data["new_password_confirm"] = NEW_PASSWORD
    assert client.post(url, data={**data, "csrf_token": token + "x"}).status_code == 403
    log_in(other_browser, container, tenant, account)  # the same person, in another browser
    _, other_token = start_flow(other_browser, "/laposte/account/password")
    assert other_browser.post(url, data={**data, "csrf_token": other_token}).status_code == 403
    assert login_status(container, tenant, EMAIL, PASSWORD) is AuthStatus.OK


def test_the_password_flow_expires(
    client: TestClient, container: Container, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    opened = log_in(client, container, tenant, account)
    url, token = start_flow(client, "/laposte/account/password")
    clock.advance(seconds=tenant.policy.flows.lifetime_seconds + 1)
    # Keep the session alive across the wait (it would have been used meanwhile).
    with container.uow() as uow:
        uow.accounts.touch_session(opened.session.id, clock.now(), clock.now() + timedelta(hours=1))
        uow.commit()
    data = {"csrf_token": token, "step": "change_password", "current_password": PASSWORD}
    response = client.post(url, data={**data, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert response.status_code == 410 and 'href="/laposte/account/password"' in response.text
    assert login_status(container, tenant, EMAIL, PASSWORD) is AuthStatus.OK


def test_a_flow_step_after_logging_out_goes_to_the_login(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    opened = log_in(client, container, tenant, account)
    url, token = start_flow(client, "/laposte/account/password")
    container.sessions.end(account.id, opened.session.id, "logout")
    data = {"csrf_token": token, "step": "change_password", "current_password": PASSWORD}
    response = client.post(
        url, data={**data, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/laposte/login")
    assert login_status(container, tenant, EMAIL, PASSWORD) is AuthStatus.OK


# -- email change ----------------------------------------------------------------------------------


def request_email_change(client: TestClient, new_email: str, password: str = PASSWORD) -> tuple[str, str, str]:
    url, token = start_flow(client, "/laposte/account/email")
    response = client.post(
        url, data={"csrf_token": token, "step": "enter_email", "new_email": new_email, "current_password": password}
    )
    return url, token, response.text


def test_changing_the_email_with_the_link_in_another_browser(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    _, _, page = request_email_change(client, "chloe.new@example.org")
    assert 'data-flow-state="enter_code"' in page and "chloe.new@example.org" in page
    [requested] = outbox(container, "email_change_requested")
    assert "c***@example.org" in requested
    [mail] = outbox(container, "email_change_confirm")
    link = LINK_RE.search(mail)
    assert link
    # Opened in a browser that is not logged in: one click confirms.
    preview = other_browser.get(link.group(1))
    assert preview.status_code == 200 and "chloe.new@example.org" in preview.text
    assert container.accounts.find(tenant, EMAIL).email == EMAIL  # opening the link changed nothing yet
    form = {"csrf_token": csrf(preview.text), "token": link.group(1).split("token=")[1]}
    confirmed = other_browser.post("/laposte/account/email/confirm", data=form)
    assert confirmed.status_code == 200 and "Votre adresse e-mail a été modifiée" in confirmed.text
    assert container.accounts.find(tenant, "chloe.new@example.org").id == account.id
    assert len(outbox(container, "email_changed")) == 1
    assert "chloe.new@example.org" in client.get("/laposte/account").text
    # The link again, opened or sent: no longer works.
    assert other_browser.get(link.group(1)).status_code == 410
    replay = other_browser.post("/laposte/account/email/confirm", data=form)
    assert replay.status_code == 410 and "Ce lien ne fonctionne plus" in replay.text
    assert audit_types(container, tenant).count("account.email_changed") == 1


def test_an_expired_link_changes_nothing(
    client: TestClient,
    other_browser: TestClient,
    container: Container,
    tenant: Tenant,
    account: Account,
    clock: FrozenClock,
) -> None:
    log_in(client, container, tenant, account)
    request_email_change(client, "chloe.new@example.org")
    link = LINK_RE.search(outbox(container, "email_change_confirm")[0])
    assert link
    preview = other_browser.get(link.group(1))
    clock.advance(hours=24, seconds=1)
    assert other_browser.get(link.group(1)).status_code == 410
    form = {"csrf_token": csrf(preview.text), "token": link.group(1).split("token=")[1]}
    assert other_browser.post("/laposte/account/email/confirm", data=form).status_code == 410
    assert container.accounts.find(tenant, EMAIL).id == account.id


@pytest.mark.parametrize("query", ["", "?token=", "?token=unknown", "?token=" + "x" * 300])
def test_a_bad_link_says_it_no_longer_works(other_browser: TestClient, tenant: Tenant, query: str) -> None:
    response = other_browser.get("/laposte/account/email/confirm" + query)
    assert response.status_code == 410 and "Ce lien ne fonctionne plus" in response.text


def test_the_confirmation_form_needs_its_csrf_token(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    request_email_change(client, "chloe.new@example.org")
    link = LINK_RE.search(outbox(container, "email_change_confirm")[0])
    assert link
    other_browser.get(link.group(1))
    token = link.group(1).split("token=")[1]
    assert other_browser.post("/laposte/account/email/confirm", data={"token": token}).status_code == 403
    assert container.accounts.find(tenant, EMAIL).id == account.id


def test_changing_the_email_with_the_code(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    url, token, _ = request_email_change(client, "chloe.new@example.org")
    code = CODE_RE.search(outbox(container, "email_change_confirm")[0])
    assert code
    form = {"csrf_token": token, "step": "enter_code", "action": "confirm"}
    wrong = client.post(url, data={**form, "code": "000000" if code.group(1) != "000000" else "111111"})
    assert wrong.status_code == 400 and "Ce code n’est pas le bon" in wrong.text
    done = client.post(url, data={**form, "code": code.group(1)})
    assert done.status_code == 200 and 'data-flow-state="done"' in done.text
    assert "chloe.new@example.org" in done.text
    assert container.accounts.find(tenant, "chloe.new@example.org").id == account.id


def test_email_change_errors(client: TestClient, container: Container, tenant: Tenant, account: Account) -> None:
    log_in(client, container, tenant, account)
    _, _, page = request_email_change(client, "not-an-address", password="")
    assert "Ce n’est pas une adresse e-mail" in page and "Veuillez saisir votre mot de passe actuel." in page
    _, _, page = request_email_change(client, EMAIL.upper())
    assert "C’est déjà l’adresse e-mail de votre compte." in page
    _, _, page = request_email_change(client, "chloe.new@example.org", password="Wrong-Pass-1")
    assert "Ce n’est pas votre mot de passe actuel" in page
    assert outbox(container, "email_change_confirm") == [] and outbox(container, "email_change_requested") == []


def test_an_address_in_use_gets_the_same_answer(
    client: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    make_account(container, tenant, "taken@example.org")
    log_in(client, container, tenant, account)
    _, _, free = request_email_change(client, "free@example.org")
    _, _, taken = request_email_change(client, "taken@example.org")

    def visible(page: str) -> str:
        return re.sub(r"(free|taken)@example\.org|/account/email/[A-Za-z0-9_-]{43}|value=\"[^\"]+\"", "", page)

    assert visible(free) == visible(taken)
    assert len(outbox(container, "email_change_taken")) == 1  # its owner is told, and gets no code
    assert len(outbox(container, "email_change_confirm")) == 1  # the free address only
    assert len(outbox(container, "email_change_requested")) == 2  # the current address hears of both


# -- a tenant without email or password logins -----------------------------------------------------


def test_the_bank_tenant_pages_do_not_crash(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/banque/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/banque/login")
    link = client.get("/banque/account/email/confirm?token=abc")
    assert link.status_code == 404 and "sa propre connexion" in link.text


# -- the audit log ---------------------------------------------------------------------------------


def test_no_secret_reaches_the_audit_log(
    client: TestClient, other_browser: TestClient, container: Container, tenant: Tenant, account: Account
) -> None:
    log_in(client, container, tenant, account)
    url, token = start_flow(client, "/laposte/account/password")
    form = {"csrf_token": token, "step": "change_password", "new_password": NEW_PASSWORD}
    client.post(url, data={**form, "current_password": "Typo-Pass-1", "new_password_confirm": NEW_PASSWORD})
    client.post(url, data={**form, "current_password": PASSWORD, "new_password_confirm": NEW_PASSWORD})
    request_email_change(client, "chloe.new@example.org", password=NEW_PASSWORD)
    mail = outbox(container, "email_change_confirm")[0]
    link, code = LINK_RE.search(mail), CODE_RE.search(mail)
    assert link and code
    preview = other_browser.get(link.group(1))
    other_browser.post(
        "/laposte/account/email/confirm",
        data={"csrf_token": csrf(preview.text), "token": link.group(1).split("token=")[1]},
    )
    with container.uow(readonly=True) as uow:
        records = uow.audit.chain(tenant.id)
    types = [r.event.type for r in records]
    for expected in ("password.change_refused", "password.changed", "email_change.requested", "account.email_changed"):
        assert expected in types
    dumped = json.dumps([(r.event.type, r.event.actor, r.event.subject, r.event.details) for r in records])
    for secret in (PASSWORD, NEW_PASSWORD, "Typo-Pass-1", code.group(1), link.group(1).split("token=")[1]):
        assert secret not in dumped

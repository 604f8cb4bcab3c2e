"""The recipient's registered letters in the web: login required, nobody else sees them, CSRF, the
acknowledgement of receipt, "I am not this person", and the proofs and content as downloads."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.registered_letters import LetterAction, LetterStatus, RegisteredLetter
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.registered_letters import FRESH_LOGIN, verify_proof
from sesame.web.session import session_cookie_name
from tests.web.conftest import BASE_URL

PASSWORD = "Web-Letters-2026"
CODE = "583920"
SUBJECT = "Votre code d'activation"
BODY = f"Bonjour Marie,\n\nVotre code d'activation : {CODE}\nIl est valable 30 jours."
ACTION = LetterAction("Continuer vers l'identification vidéo", "/laposte/identity")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")  # the app fixture loaded the demo tenants


@pytest.fixture
def marie(container: Container, tenant: Tenant) -> Account:
    return make_account(container, tenant, "marie.durand@example.fr", "Marie", "Durand")


@pytest.fixture
def letter(container: Container, tenant: Tenant, marie: Account) -> RegisteredLetter:
    with container.uow() as uow:
        sent = container.registered_letters.send(
            uow, tenant, marie, SUBJECT, BODY, action=ACTION, purpose="proofing:1", now=container.clock.now()
        )
        uow.commit()
    return sent


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def make_account(container: Container, tenant: Tenant, email: str, given: str, family: str) -> Account:
    new = NewAccount(email=email, given_name=given, family_name=family, verified=True, terms_version="1")
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def log_in(client: TestClient, container: Container, tenant: Tenant, account: Account) -> str:
    """Open a session as the login page does; returns its id."""
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="203.0.113.5", user_agent="t"
        )
        uow.commit()
    client.cookies.set(session_cookie_name(container.settings, tenant), opened.token)
    return opened.session.id


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def status_of(container: Container, tenant: Tenant, reference: str) -> LetterStatus:
    return container.registered_letters.get(tenant, reference).status


def page_url(letter: RegisteredLetter) -> str:
    return f"/laposte/letters/{letter.reference}"


# -- who may see a letter ----------------------------------------------------------------------------


def test_logged_out_goes_to_the_login_and_comes_back(client: TestClient, letter: RegisteredLetter) -> None:
    for path in (page_url(letter), "/laposte/letters", page_url(letter) + "/proof/sending"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/laposte/login?return_to={path}"


def test_a_form_sent_while_logged_out_leads_to_the_login_then_the_letter(
    client: TestClient, container: Container, tenant: Tenant, marie: Account, letter: RegisteredLetter
) -> None:
    session_id = log_in(client, container, tenant, marie)
    token = csrf(client.get(page_url(letter)).text)
    container.sessions.end(marie.id, session_id, "logout")
    for action in ("/open", "/refuse"):
        response = client.post(page_url(letter) + action, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/laposte/login?return_to={page_url(letter)}"
    assert status_of(container, tenant, letter.reference) is LetterStatus.SENT


def test_the_recipient_sees_the_cover_and_nothing_of_the_content_before_opening(
    client: TestClient, container: Container, tenant: Tenant, marie: Account, letter: RegisteredLetter
) -> None:
    log_in(client, container, tenant, marie)
    page = client.get(page_url(letter))
    assert page.status_code == 200
    assert "Vous avez reçu un courrier recommandé électronique" in page.text
    assert letter.reference in page.text and "M*** D***" in page.text
    assert "Confirmer mon identité" in page.text and "Je ne suis pas cette personne" in page.text
    for hidden in (CODE, SUBJECT.replace("'", "&#39;"), SUBJECT, "identification vidéo", "/proof/"):
        assert hidden not in page.text
    assert status_of(container, tenant, letter.reference) is LetterStatus.SENT  # looking is not opening


@pytest.mark.parametrize("reference", ["own", "AAAA-BBBB-CCCC-DDDD", "not-a-reference"])
def test_another_account_sees_the_same_page_as_for_no_letter(
    other_browser: TestClient, container: Container, tenant: Tenant, letter: RegisteredLetter, reference: str
) -> None:
    paul = make_account(container, tenant, "paul.martin@example.fr", "Paul", "Martin")
    log_in(other_browser, container, tenant, paul)
    path = page_url(letter) if reference == "own" else f"/laposte/letters/{reference}"
    page = other_browser.get(path)
    assert page.status_code == 404
    assert "Ce courrier ne peut pas être affiché" in page.text
    shown = page.text.replace(page.headers["x-request-id"], "")  # the page's reference: random hex digits
    for hidden in ("M*** D***", "m***@example.fr", CODE, "Confirmer mon identité"):
        assert hidden not in shown
    for sub in ("/proof/sending", "/content"):
        assert other_browser.get(path + sub).status_code == 404
    form = csrf(other_browser.get("/laposte/logout").text)
    for action in ("/open", "/refuse"):
        assert other_browser.post(path + action, data={"csrf_token": form}).status_code == 404
    assert status_of(container, tenant, letter.reference) is LetterStatus.SENT
    assert letter.reference not in other_browser.get("/laposte/letters").text


# -- opening -----------------------------------------------------------------------------------------


def test_opening_needs_the_csrf_token(
    client: TestClient, container: Container, tenant: Tenant, marie: Account, letter: RegisteredLetter
) -> None:
    log_in(client, container, tenant, marie)
    client.get(page_url(letter))  # the browser has its CSRF cookie
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post(page_url(letter) + "/open", data=data, follow_redirects=False)
        assert response.status_code == 403
    assert status_of(container, tenant, letter.reference) is LetterStatus.SENT


def test_opening_is_the_acknowledgement_and_shows_the_content(
    client: TestClient,
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    marie: Account,
    letter: RegisteredLetter,
) -> None:
    log_in(client, container, tenant, marie)
    token = csrf(client.get(page_url(letter)).text)
    clock.advance(minutes=3)
    opened_at = clock.now()
    response = client.post(page_url(letter) + "/open", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == page_url(letter) + "#letter-content"

    page = client.get(page_url(letter))
    assert CODE in page.text and "Il est valable 30 jours." in page.text
    assert 'href="/laposte/identity"' in page.text and "Continuer vers l&#39;identification vidéo" in page.text
    assert "accusé de réception" in page.text
    assert container.registered_letters.get(tenant, letter.reference).opened_at == opened_at

    clock.advance(minutes=5)  # a double submit, or a second opening: the first time stays
    again = client.post(page_url(letter) + "/open", data={"csrf_token": token}, follow_redirects=False)
    assert again.headers["location"] == page_url(letter) + "#letter-content"
    assert container.registered_letters.get(tenant, letter.reference).opened_at == opened_at

    listing = client.get("/laposte/letters").text
    assert letter.reference in listing and "Ouvert le" in listing


def test_an_old_login_is_asked_again_before_opening(
    client: TestClient,
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    marie: Account,
    letter: RegisteredLetter,
) -> None:
    log_in(client, container, tenant, marie)
    clock.advance(seconds=FRESH_LOGIN.total_seconds() + 60)
    log_in_touch = client.get(page_url(letter))
    assert "vous reconnecter" in log_in_touch.text
    token = csrf(log_in_touch.text)
    response = client.post(page_url(letter) + "/open", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/laposte/login?return_to={page_url(letter)}&prompt=login"
    assert status_of(container, tenant, letter.reference) is LetterStatus.SENT


def test_i_am_not_this_person(
    client: TestClient, container: Container, tenant: Tenant, marie: Account, letter: RegisteredLetter
) -> None:
    log_in(client, container, tenant, marie)
    token = csrf(client.get(page_url(letter)).text)
    response = client.post(page_url(letter) + "/refuse", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == page_url(letter)
    assert status_of(container, tenant, letter.reference) is LetterStatus.REFUSED

    page = client.get(page_url(letter))
    assert "Vous n’êtes pas le destinataire de ce courrier" in page.text and CODE not in page.text
    client.post(page_url(letter) + "/open", data={"csrf_token": token})  # no opening after a refusal
    assert status_of(container, tenant, letter.reference) is LetterStatus.REFUSED
    assert client.get(page_url(letter) + "/content").status_code == 404
    receipt = client.get(page_url(letter) + "/proof/receipt")
    assert receipt.status_code == 200
    assert container.registered_letters.verify(tenant, receipt.text).claims["status"] == "refused"


# -- proofs and content --------------------------------------------------------------------------------


def test_proofs_and_content_are_downloads_once_opened(
    client: TestClient, container: Container, tenant: Tenant, marie: Account, letter: RegisteredLetter
) -> None:
    log_in(client, container, tenant, marie)
    token = csrf(client.get(page_url(letter)).text)
    for kind in ("sending", "receipt"):
        assert client.get(page_url(letter) + f"/proof/{kind}").status_code == 409  # not before opening
    assert client.get(page_url(letter) + "/content").status_code == 404
    client.post(page_url(letter) + "/open", data={"csrf_token": token})

    jwks = client.get("/laposte/jwks").json()
    claims: dict[str, dict[str, object]] = {}
    for kind in ("sending", "receipt"):
        response = client.get(page_url(letter) + f"/proof/{kind}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/jose"
        disposition = response.headers["content-disposition"]
        assert disposition == f'attachment; filename="lre-{letter.reference}-{kind}.jws"'
        assert response.headers["cache-control"] == "no-store"
        verified = verify_proof(response.text, jwks, issuer="https://testserver/laposte")
        assert verified.kind.value == kind and verified.reference == letter.reference
        claims[kind] = verified.claims
    assert claims["receipt"]["opened_at"] and "opened_at" not in claims["sending"]

    content = client.get(page_url(letter) + "/content")
    assert content.status_code == 200 and content.headers["content-type"].startswith("application/json")
    assert json.loads(content.content)["body"] == BODY
    assert hashlib.sha256(content.content).hexdigest() == claims["receipt"]["content_sha256"]

    assert client.get(page_url(letter) + "/proof/delivery").status_code == 404


def test_the_pages_speak_english_too(
    client: TestClient, container: Container, tenant: Tenant, marie: Account, letter: RegisteredLetter
) -> None:
    log_in(client, container, tenant, marie)
    page = client.get(page_url(letter) + "?lang=en")
    assert "You have received a registered electronic letter" in page.text
    assert "Confirm my identity" in page.text and "I am not this person" in page.text
    assert "My registered letters" in client.get("/laposte/letters?lang=en").text


def test_after_logging_in_again_the_recipient_opens_the_letter(
    client: TestClient,
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    marie: Account,
    letter: RegisteredLetter,
) -> None:
    """The whole "Confirm my identity" journey with an old session: the login form, then back."""
    log_in(client, container, tenant, marie)
    clock.advance(seconds=FRESH_LOGIN.total_seconds() + 60)
    token = csrf(client.get(page_url(letter)).text)
    to_login = client.post(page_url(letter) + "/open", data={"csrf_token": token}, follow_redirects=False)
    flow = client.get(to_login.headers["location"], follow_redirects=False)
    assert flow.status_code == 303  # a new login flow, even though the browser has a session
    flow_url = flow.headers["location"]
    form = csrf(client.get(flow_url).text)
    credentials = {
        "csrf_token": form,
        "step": "credentials",
        "identifier": marie.email or "",
        "password": PASSWORD,
    }
    back = client.post(flow_url, data=credentials, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == page_url(letter)

    cover = client.get(page_url(letter)).text
    assert "vous reconnecter" not in cover
    opened = client.post(page_url(letter) + "/open", data={"csrf_token": csrf(cover)}, follow_redirects=False)
    assert opened.headers["location"] == page_url(letter) + "#letter-content"
    assert container.registered_letters.get(tenant, letter.reference).opened_at == clock.now()

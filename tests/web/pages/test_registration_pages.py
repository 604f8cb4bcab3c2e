"""Sign-up and email confirmation in the web: the whole path, the taken address, every bad input.

Emails are read back from the outbox, as a person reads their mailbox; a second TestClient is
a second browser (its own cookies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, AccountStatus
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.outbox import InboxEntry, list_messages

BASE_URL = "https://testserver"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOW_URL_RE = re.compile(r"^/(?P<tenant>[a-z-]+)/register/[A-Za-z0-9_-]{43}$")
CODE_RE = re.compile(r"^(\d{6})$", re.MULTILINE)
LINK_RE = re.compile(r"https://testserver(/[a-z-]+/confirm-email\?token=[A-Za-z0-9_%-]+)")
PASSWORD = "Facteur-Bleu-2026"
OWNER_EMAIL = "marie.dupont@example.fr"


@pytest.fixture
def owner(container: Container, app: FastAPI) -> Account:
    """The demo tenants' existing account (``app`` loads the tenants first)."""
    tenant = container.tenants.get("laposte")
    new = NewAccount(email=OWNER_EMAIL, given_name="Marie", family_name="Dupont", verified=True, terms_version="1")
    return container.accounts.create(tenant, new, "Sesame-Demo-2026!", RequestContext(actor="test"))


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


# -- helpers ----------------------------------------------------------------------------------------


class Journey:
    """One browser's sign-up: its flow URL and CSRF token."""

    def __init__(self, client: TestClient, tenant: str = "laposte", query: str = "") -> None:
        response = client.get(f"/{tenant}/register{query}", follow_redirects=False)
        assert response.status_code == 303, response.text
        self.client = client
        self.url = response.headers["location"]
        assert FLOW_URL_RE.fullmatch(self.url)
        page = client.get(self.url)
        assert page.status_code == 200
        assert 'data-flow-state="form"' in page.text
        match = CSRF_RE.search(page.text)
        assert match
        self.token = match.group(1)

    def post(self, step: str, **data: str) -> httpx.Response:
        return self.client.post(self.url, data={"csrf_token": self.token, "step": step, **data})

    def sign_up(self, **overrides: str) -> httpx.Response:
        return self.post("form", **form_data(**overrides))

    def state(self) -> str:
        match = re.search(r'data-flow-state="([a-z_]+)"', self.client.get(self.url).text)
        assert match
        return match.group(1)


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "given_name": "Jeanne",
        "family_name": "Martin",
        "email": "jeanne.martin@example.fr",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "terms": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def emails_to(container: Container, address: str, template: str | None = None) -> list[InboxEntry]:
    """Messages to ``address``, newest first."""
    return [
        entry
        for entry in list_messages(container.uow)
        if entry.message.recipient == address and (template is None or entry.message.template == template)
    ]


def code_of(entry: InboxEntry) -> str:
    match = CODE_RE.search(entry.message.body_text)
    assert match, entry.message.body_text
    return match.group(1)


def link_of(entry: InboxEntry) -> str:
    match = LINK_RE.search(entry.message.body_text)
    assert match, entry.message.body_text
    return match.group(1)


def account_of(container: Container, email: str, tenant: str = "laposte") -> Account | None:
    tenant_id = container.tenants.get(tenant).id
    with container.uow(readonly=True) as uow:
        return uow.accounts.by_email(tenant_id, email)


def audit_events(container: Container, tenant: str = "laposte") -> list[tuple[str, str, dict[str, object]]]:
    tenant_id = container.tenants.get(tenant).id
    with container.uow(readonly=True) as uow:
        return [(r.event.type, r.event.subject, dict(r.event.details)) for r in uow.audit.chain(tenant_id)]


def normalized(html: str, *secrets: str) -> str:
    """A page without what differs between two browsers anyway (CSRF token, flow id, address)."""
    html = CSRF_RE.sub('name="csrf_token" value="CSRF"', html)
    html = re.sub(r"/register/[A-Za-z0-9_-]{43}", "/register/FLOW", html)
    for value in secrets:
        html = html.replace(value, "ADDRESS")
    return html


# -- the whole path -----------------------------------------------------------------------------------


def test_home_page_links_to_sign_up_for_email_tenants(client: TestClient) -> None:
    assert 'href="/laposte/register"' in client.get("/laposte").text
    assert 'href="/poste-ch/register"' in client.get("/poste-ch").text
    assert "/register" not in client.get("/banque").text


def test_form_shows_the_rules_and_the_way_to_log_in(client: TestClient) -> None:
    journey = Journey(client)
    page = client.get(journey.url).text
    assert "Créer votre compte La Poste" in page
    assert 'href="/laposte/login"' in page
    assert 'data-rule="min_length" data-value="8"' in page and 'data-rule="upper"' in page
    assert 'data-rule="match"' in page and "Les mots de passe sont identiques" in page
    assert 'data-password-toggle="password"' in page and "js/password.js" in page
    assert 'autocomplete="new-password"' in page
    assert "Je souhaite recevoir des informations de la part de La Poste et de ses filiales." in page
    assert "Je souhaite recevoir des informations des partenaires de La Poste." in page


def test_sign_up_then_confirm_with_the_code(client: TestClient, container: Container, clock: FrozenClock) -> None:
    journey = Journey(client)
    response = journey.sign_up(marketing_email="on")
    assert response.status_code == 200
    assert 'data-flow-state="check_email"' in response.text
    assert "jeanne.martin@example.fr" in response.text
    account = account_of(container, "jeanne.martin@example.fr")
    assert account is not None and not account.email_verified and account.status is AccountStatus.ACTIVE
    # The terms version and both consents are stored, each with its time.
    assert account.terms_version == "1" and account.terms_accepted_at == clock.now()
    assert account.marketing_email and account.marketing_email_changed_at == clock.now()
    assert not account.marketing_partners and account.marketing_partners_changed_at is None
    assert account.locale == "fr" and (account.given_name, account.family_name) == ("Jeanne", "Martin")

    [email] = emails_to(container, "jeanne.martin@example.fr")
    assert email.message.template == "confirm_email" and email.message.sensitive
    assert email.message.subject == "Confirmez votre adresse e-mail"
    assert "CONFIRMER MON ADRESSE E-MAIL" in (email.message.body_html or "")
    code = code_of(email)
    link_of(email)

    response = journey.post("check_email", action="code", code=f"{code[:3]} {code[3:]}")
    assert response.status_code == 200
    assert 'data-flow-state="done"' in response.text
    assert "Votre adresse e-mail est confirmée" in response.text
    assert 'href="/laposte/login"' in response.text
    confirmed = account_of(container, "jeanne.martin@example.fr")
    assert confirmed is not None and confirmed.email_verified_at == clock.now()

    events = audit_events(container)
    types = [event_type for event_type, _, _ in events]
    assert "account.registered" in types and "account.email_confirmed" in types
    registered = next(details for event_type, _, details in events if event_type == "account.registered")
    assert registered == {"terms_version": "1", "marketing_email": True, "marketing_partners": False}
    dumped = json.dumps(events)
    for secret in (PASSWORD, code, link_of(email).split("token=")[1]):
        assert secret not in dumped


def test_the_link_confirms_from_another_browser(
    client: TestClient, other_browser: TestClient, container: Container
) -> None:
    journey = Journey(client)
    journey.sign_up()
    link = link_of(emails_to(container, "jeanne.martin@example.fr")[0])

    page = other_browser.get(link)
    assert page.status_code == 200
    assert "Votre adresse e-mail est confirmée" in page.text and 'href="/laposte/login"' in page.text
    account = account_of(container, "jeanne.martin@example.fr")
    assert account is not None and account.email_verified

    # The first browser still waits; "I have confirmed my address" finds the account confirmed.
    assert journey.state() == "check_email"
    response = journey.post("check_email", action="check")
    assert 'data-flow-state="done"' in response.text

    # Single use: the link changes nothing more, and says the address is confirmed already.
    again = other_browser.get(link)
    assert again.status_code == 200 and "déjà confirmée" in again.text
    confirmations = [t for t, _, _ in audit_events(container) if t == "account.email_confirmed"]
    assert len(confirmations) == 1


def test_i_have_confirmed_before_clicking_is_refused(client: TestClient) -> None:
    journey = Journey(client)
    journey.sign_up()
    response = journey.post("check_email", action="check")
    assert response.status_code == 400
    assert "pas encore confirmée" in response.text
    assert journey.state() == "check_email"


def test_english_with_lang_en(client: TestClient, container: Container) -> None:
    journey = Journey(client, query="?lang=en")
    page = client.get(journey.url)
    assert "Create your La Poste account" in page.text and 'lang="en"' in page.text
    response = journey.sign_up()
    assert "Confirm your email address" in response.text
    [email] = emails_to(container, "jeanne.martin@example.fr")
    assert email.message.locale == "en" and email.message.subject == "Confirm your email address"
    account = account_of(container, "jeanne.martin@example.fr")
    assert account is not None and account.locale == "en"


# -- a taken address -------------------------------------------------------------------------------


def test_a_taken_address_looks_exactly_like_a_new_one(
    client: TestClient, other_browser: TestClient, container: Container, clock: FrozenClock, owner: Account
) -> None:
    new, taken = Journey(client), Journey(other_browser)
    pages: list[tuple[str, str]] = []

    def both(step: str, **data: str) -> None:
        first = new.post(step, **data)
        second = taken.post(step, **{**data, **({"email": OWNER_EMAIL} if "email" in data else {})})
        assert first.status_code == second.status_code, step
        assert 'data-flow-state="check_email"' in first.text, step
        assert normalized(first.text, "jeanne.martin@example.fr") == normalized(second.text, OWNER_EMAIL), step
        pages.append((step, first.text))

    both("form", **form_data())
    both("check_email", action="code", code="000000")
    both("check_email", action="resend")  # before the cooldown
    both("check_email", action="check")
    clock.advance(seconds=61)
    both("check_email", action="resend")
    assert [step for step, _ in pages] == ["form", "check_email", "check_email", "check_email", "check_email"]

    # The owner got two notices, no confirmation; their account is untouched and none was added.
    notices = emails_to(container, OWNER_EMAIL)
    assert [entry.message.template for entry in notices] == ["already_registered", "already_registered"]
    assert not notices[0].message.sensitive
    assert "/laposte/recovery" in notices[0].message.body_text and "/laposte/login" in notices[0].message.body_text
    assert account_of(container, OWNER_EMAIL) == owner
    tenant = container.tenants.get("laposte")
    with container.uow(readonly=True) as uow:
        assert len(uow.accounts.list(tenant.id)) == 2  # the owner, and Jeanne's new account
    outcome = container.authenticator.authenticate(tenant, OWNER_EMAIL, "Sesame-Demo-2026!", RequestContext())
    assert outcome.ok  # the password typed in the sign-up form did not replace the owner's


def test_wrong_codes_of_a_taken_address_run_out_like_real_ones(
    client: TestClient, other_browser: TestClient, owner: Account
) -> None:
    new, taken = Journey(client), Journey(other_browser)
    new.sign_up()
    taken.sign_up(email=OWNER_EMAIL)
    for _ in range(6):
        first = new.post("check_email", action="code", code="999999")
        second = taken.post("check_email", action="code", code="999999")
        assert first.status_code == second.status_code == 400
        assert normalized(first.text, "jeanne.martin@example.fr") == normalized(second.text, OWNER_EMAIL)


# -- the code -------------------------------------------------------------------------------------------


def test_five_wrong_codes_kill_the_code_and_a_new_email_gives_a_new_one(
    client: TestClient, container: Container, clock: FrozenClock
) -> None:
    journey = Journey(client)
    journey.sign_up()
    code = code_of(emails_to(container, "jeanne.martin@example.fr")[0])
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = journey.post("check_email", action="code", code=wrong)
        assert response.status_code == 400
        assert f"encore essayer {left} fois avec ce code" in response.text
    response = journey.post("check_email", action="code", code=wrong)
    assert "ne fonctionne plus" in response.text
    # Even the right code is refused now.
    response = journey.post("check_email", action="code", code=code)
    assert response.status_code == 400 and "ne fonctionne plus" in response.text
    account = account_of(container, "jeanne.martin@example.fr")
    assert account is not None and not account.email_verified

    clock.advance(seconds=61)
    response = journey.post("check_email", action="resend")
    assert response.status_code == 200 and "nouvel e-mail a été envoyé" in response.text
    new_code = code_of(emails_to(container, "jeanne.martin@example.fr")[0])
    response = journey.post("check_email", action="code", code=new_code)
    assert 'data-flow-state="done"' in response.text


@pytest.mark.parametrize(
    ("typed", "message"), [("", "saisir le code"), ("12345", "6 chiffres"), ("12a456", "6 chiffres")]
)
def test_malformed_codes_are_explained_and_not_counted(
    client: TestClient, container: Container, typed: str, message: str
) -> None:
    journey = Journey(client)
    journey.sign_up()
    for _ in range(6):
        response = journey.post("check_email", action="code", code=typed)
        assert response.status_code == 400 and message in response.text
    code = code_of(emails_to(container, "jeanne.martin@example.fr")[0])
    assert 'data-flow-state="done"' in journey.post("check_email", action="code", code=code).text


# -- resending -----------------------------------------------------------------------------------------------


def test_resend_waits_for_the_cooldown_and_retires_the_old_link_and_code(
    client: TestClient, other_browser: TestClient, container: Container, clock: FrozenClock
) -> None:
    journey = Journey(client)
    journey.sign_up()
    first = emails_to(container, "jeanne.martin@example.fr")[0]
    response = journey.post("check_email", action="resend")
    assert response.status_code == 400
    assert "nouvel e-mail à partir de 10:01:00" in response.text  # 09:00 UTC is 10:00 in Paris
    assert len(emails_to(container, "jeanne.martin@example.fr")) == 1

    clock.advance(seconds=60)
    response = journey.post("check_email", action="resend")
    assert response.status_code == 200
    second = emails_to(container, "jeanne.martin@example.fr")[0]
    assert second.message.id != first.message.id
    # The first email's link and code no longer work.
    page = other_browser.get(link_of(first))
    assert page.status_code == 400 and "invalide ou a expiré" in page.text
    if code_of(first) != code_of(second):  # one chance in a million that they are the same
        assert journey.post("check_email", action="code", code=code_of(first)).status_code == 400
    assert other_browser.get(link_of(second)).status_code == 200


def test_a_journey_sends_five_emails_at_most(client: TestClient, container: Container, clock: FrozenClock) -> None:
    journey = Journey(client)
    journey.sign_up()
    for _ in range(4):
        clock.advance(seconds=61)
        assert journey.post("check_email", action="resend").status_code == 200
    clock.advance(seconds=61)
    response = journey.post("check_email", action="resend")
    assert response.status_code == 400 and "plusieurs e-mails" in response.text
    assert len(emails_to(container, "jeanne.martin@example.fr")) == 5


# -- changing a mistyped address -----------------------------------------------------------------------------


def test_change_a_mistyped_address(client: TestClient, container: Container, clock: FrozenClock) -> None:
    journey = Journey(client)
    journey.sign_up(email="jeanne.martin@exemple.fr", marketing_partners="on")
    typo_link = link_of(emails_to(container, "jeanne.martin@exemple.fr")[0])
    response = journey.post("check_email", action="change_email")
    assert 'data-flow-state="form"' in response.text
    assert 'value="jeanne.martin@exemple.fr"' in response.text and 'value="Jeanne"' in response.text
    assert re.search(r'id="marketing_partners"[^>]*checked', response.text)
    # The account started with the wrong address is given up: the address is free, its link dead.
    assert account_of(container, "jeanne.martin@exemple.fr") is None
    assert client.get(typo_link).status_code == 400

    response = journey.sign_up(marketing_partners="on")
    assert 'data-flow-state="check_email"' in response.text
    code = code_of(emails_to(container, "jeanne.martin@example.fr")[0])
    assert 'data-flow-state="done"' in journey.post("check_email", action="code", code=code).text
    assert [t for t, _, _ in audit_events(container)].count("account.registration_abandoned") == 1


# -- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"given_name": ""}, "given_name", "Veuillez saisir ce nom."),
        ({"family_name": "   "}, "family_name", "Veuillez saisir ce nom."),
        ({"given_name": "J" * 101}, "given_name", "trop long"),
        ({"family_name": "Mar\x00tin"}, "family_name", "trop long"),
        ({"email": ""}, "email", "Veuillez saisir votre adresse e-mail."),
        ({"email": "jeanne.martin"}, "email", "nom@exemple.fr"),
        ({"email": "jeanne@@example.fr"}, "email", "nom@exemple.fr"),
        ({"email": "j" * 250 + "@example.fr"}, "email", "254 caractères au plus"),
        ({"password": "", "password_confirmation": ""}, "password", "Veuillez choisir un mot de passe."),
        ({"password": "court1A", "password_confirmation": "court1A"}, "password", "au moins 8 caractères"),
        ({"password": "sansmajuscule1", "password_confirmation": "sansmajuscule1"}, "password", "une lettre majuscule"),
        ({"password": "SansChiffre", "password_confirmation": "SansChiffre"}, "password", "un chiffre"),
        ({"password": "Password1", "password_confirmation": "Password1"}, "password", "pas un mot de passe courant"),
        (
            {"password": "X" * 129 + "a1", "password_confirmation": "X" * 129 + "a1"},
            "password",
            "au plus 128 caractères",
        ),
        ({"password_confirmation": PASSWORD + "x"}, "password_confirmation", "ne sont pas identiques"),
        ({"password_confirmation": ""}, "password_confirmation", "Veuillez saisir à nouveau"),
        ({"terms": ""}, "terms", "acceptez les conditions"),
        ({"terms": "off"}, "terms", "acceptez les conditions"),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(
    client: TestClient, container: Container, overrides: Mapping[str, str], field: str, message: str
) -> None:
    journey = Journey(client)
    response = journey.sign_up(**overrides)
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text
    assert re.search(rf'id="{field}"[^>]*\saria-invalid="true"', response.text)
    assert f'aria-describedby="{field}-error' in response.text
    assert PASSWORD not in response.text  # a password typed is never sent back
    assert journey.state() == "form"
    assert list_messages(container.uow) == []
    assert account_of(container, overrides.get("email") or "jeanne.martin@example.fr") is None


def test_every_failed_rule_is_named_at_once(client: TestClient) -> None:
    response = Journey(client).sign_up(password="abc", password_confirmation="abd", terms="")
    assert response.status_code == 400
    for message in (
        "au moins 8 caractères",
        "une lettre majuscule",
        "un chiffre",
        "ne sont pas identiques",
        "acceptez",
    ):
        assert message in response.text


def test_password_equal_to_the_name_or_email_is_refused(client: TestClient, container: Container) -> None:
    # Poste CH follows NIST (15 characters, no composition rules): only the personal-data rule fails.
    journey = Journey(client, tenant="poste-ch")
    for password in ("anna-lena.muster@example.ch", "Anna-Lena Musterfrau-Huber"):
        response = journey.sign_up(
            given_name="Anna-Lena",
            family_name="Musterfrau-Huber",
            email="anna-lena.muster@example.ch",
            password=password,
            password_confirmation=password,
        )
        assert response.status_code == 400
        assert "pas votre nom ni votre adresse e-mail" in response.text
    assert journey.state() == "form"


def test_wrong_or_missing_csrf_token_changes_nothing(client: TestClient, container: Container) -> None:
    journey = Journey(client)
    for token in ("", journey.token[:-2] + "xx"):
        response = client.post(journey.url, data={"csrf_token": token, "step": "form", **form_data()})
        assert response.status_code == 403
    assert journey.state() == "form"
    assert account_of(container, "jeanne.martin@example.fr") is None


def test_double_submit_creates_one_account_and_sends_one_email(client: TestClient, container: Container) -> None:
    journey = Journey(client)
    first = journey.sign_up()
    second = journey.sign_up()
    assert first.status_code == second.status_code == 200
    assert 'data-flow-state="check_email"' in second.text
    assert len(emails_to(container, "jeanne.martin@example.fr")) == 1
    assert [t for t, _, _ in audit_events(container)].count("account.registered") == 1


def test_a_journey_belongs_to_its_browser(client: TestClient, other_browser: TestClient, container: Container) -> None:
    journey = Journey(client)
    thief = Journey(other_browser)
    response = other_browser.post(journey.url, data={"csrf_token": thief.token, "step": "form", **form_data()})
    assert response.status_code == 403
    assert account_of(container, "jeanne.martin@example.fr") is None


def test_expired_journey_offers_a_fresh_start(client: TestClient, clock: FrozenClock) -> None:
    journey = Journey(client)
    journey.sign_up()
    clock.advance(hours=1)
    for response in (client.get(journey.url), journey.post("check_email", action="code", code="123456")):
        assert response.status_code == 410
        assert 'href="/laposte/register"' in response.text


# -- the link --------------------------------------------------------------------------------------------------------


def test_expired_link_offers_a_new_email(client: TestClient, container: Container, clock: FrozenClock) -> None:
    Journey(client).sign_up()
    link = link_of(emails_to(container, "jeanne.martin@example.fr")[0])
    clock.advance(hours=24)
    page = client.get(link)
    assert page.status_code == 400
    assert "invalide ou a expiré" in page.text and 'action="/laposte/confirm-email/resend"' in page.text
    account = account_of(container, "jeanne.martin@example.fr")
    assert account is not None and not account.email_verified

    token = CSRF_RE.search(page.text)
    assert token
    response = client.post(
        "/laposte/confirm-email/resend", data={"csrf_token": token.group(1), "email": "Jeanne.Martin@example.fr"}
    )
    assert response.status_code == 200 and "nous lui avons envoyé un nouvel e-mail" in response.text
    fresh = emails_to(container, "jeanne.martin@example.fr")[0]
    assert fresh.message.template == "confirm_email"
    assert "est confirmée" in client.get(link_of(fresh)).text


@pytest.mark.parametrize("token", ["nope", "A" * 43, "x" * 500, "%00", ""])
def test_unknown_links(client: TestClient, token: str) -> None:
    response = client.get(f"/laposte/confirm-email?token={token}", follow_redirects=False)
    if not token:
        assert response.status_code == 303 and response.headers["location"] == "/laposte/confirm-email/resend"
    else:
        assert response.status_code == 400 and "invalide ou a expiré" in response.text


def test_a_link_works_only_at_its_own_tenant(client: TestClient, container: Container) -> None:
    Journey(client).sign_up()
    link = link_of(emails_to(container, "jeanne.martin@example.fr")[0])
    assert client.get(link.replace("/laposte/", "/poste-ch/")).status_code == 400
    assert client.get(link).status_code == 200  # the wrong tenant did not use it up


def test_resend_page_answers_the_same_for_any_address(client: TestClient, container: Container, owner: Account) -> None:
    Journey(client).sign_up()
    form = client.get("/laposte/confirm-email/resend?email=jeanne.martin%40example.fr")
    assert form.status_code == 200 and 'value="jeanne.martin@example.fr"' in form.text
    token = CSRF_RE.search(form.text)
    assert token
    answers = []
    for email in ("jeanne.martin@example.fr", "nobody@example.fr", OWNER_EMAIL):
        response = client.post("/laposte/confirm-email/resend", data={"csrf_token": token.group(1), "email": email})
        answers.append((response.status_code, response.text))
    assert len(set(answers)) == 1 and answers[0][0] == 200
    assert len(emails_to(container, "jeanne.martin@example.fr")) == 2
    assert emails_to(container, "nobody@example.fr") == [] and emails_to(container, OWNER_EMAIL) == []


def test_resend_page_bad_input_and_rate_limit(client: TestClient) -> None:
    form = client.get("/laposte/confirm-email/resend")
    token = CSRF_RE.search(form.text)
    assert token
    for email, status in (("", 400), ("not-an-address", 400), ("x" * 300 + "@example.fr", 400)):
        response = client.post("/laposte/confirm-email/resend", data={"csrf_token": token.group(1), "email": email})
        assert response.status_code == status and 'aria-invalid="true"' in response.text
    assert client.post("/laposte/confirm-email/resend", data={"email": "a@example.fr"}).status_code == 403
    statuses = [
        client.post(
            "/laposte/confirm-email/resend", data={"csrf_token": token.group(1), "email": "someone@example.fr"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_tenants_without_email_login_say_sign_up_is_not_offered(client: TestClient) -> None:
    for path in ("/banque/register", "/banque/confirm-email?token=abc", "/banque/confirm-email/resend"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404
        assert "L’inscription n’est pas proposée ici" in response.text
        assert 'href="/banque"' in response.text


def test_the_confirmation_is_valid_a_day(container: Container, client: TestClient, clock: FrozenClock) -> None:
    Journey(client).sign_up()
    link = link_of(emails_to(container, "jeanne.martin@example.fr")[0])
    clock.advance(hours=24, seconds=-1)
    assert client.get(link).status_code == 200

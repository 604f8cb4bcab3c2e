"""In Chromium, at the bank: the first login with the code of the letter, clicked on the keypad, then
"choose your new code" by clicking (and with the keyboard), the account; log out, and log in again
with the new code. The hidden field never holds a digit.

The bank enrols the customer in the fixture; the code is read from the dev inbox (its JSON list,
then the letter's own page), as a tester of the server reads a letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from sesame.services.banque import NewCustomer
from sesame.services.context import RequestContext
from tests.banque_support import GOOD_CODE, customers
from tests.live_servers import Sesame, sesame_server

pytestmark = pytest.mark.browser

#: Allowed by the rules with any customer number the tests draw (tests/banque_support.py).
NEW_CODE = GOOD_CODE
LETTER_CODE_RE = re.compile(r"Code provisoire : (\d{6})")
STARTUP_SECONDS = 15.0


BankServer = Sesame


@pytest.fixture(scope="module")
def bank_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BankServer]:
    """A running Sésame with the demo tenants, whose container the test uses to enrol a customer."""
    with sesame_server(tmp_path_factory.mktemp("bank-browser-var")) as sesame:
        yield sesame


@pytest.fixture
def customer_number(bank_server: BankServer) -> str:
    """A customer the bank has just enrolled: the two letters are in the dev inbox."""
    container = bank_server.container
    new = NewCustomer("Zoé", "Lefèvre", ["12 rue des Lilas", "75011 Paris"])
    enrolled = customers(container).enrol(container.tenants.get("banque"), new, RequestContext(actor="test"))
    return enrolled.customer_number


def letter_code(context: BrowserContext, base_url: str, customer_number: str) -> str:
    """Read the one-time code in the dev inbox: the code letter sent to the customer of that number."""
    response = context.request.get(f"{base_url}/_dev/outbox.json?tenant=banque")
    assert response.ok
    messages = response.json()
    numbers = [m for m in messages if m["template"] == "banque_customer_number" and customer_number in m["text"]]
    assert len(numbers) == 1
    codes = [m for m in messages if m["template"] == "banque_first_code" and m["recipient"] == numbers[0]["recipient"]]
    assert codes and codes[0]["pdf_url"], codes
    inbox = context.new_page()
    inbox.goto(f"{base_url}{codes[0]['url']}")
    text = inbox.locator("#message-text").inner_text()
    inbox.close()
    match = LETTER_CODE_RE.search(text)
    assert match, text
    return match.group(1)


def heading(page: Page, text: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def field_has_no_digit(page: Page) -> None:
    value = page.locator("[data-keypad-field]").input_value()
    assert not re.search(r"\d", value), value
    assert page.locator('input[type="password"]').count() == 0


def click_code(page: Page, code: str) -> None:
    for count, digit in enumerate(code, start=1):
        page.get_by_role("button", name=f"chiffre {digit}", exact=True).click()
        expect(page.locator(".keypad__dot.is-filled")).to_have_count(count)
    field_has_no_digit(page)
    assert len(page.locator("[data-keypad-field]").input_value().split(".")) == len(code)


def log_in(page: Page, base_url: str, customer_number: str, code: str) -> None:
    page.goto(f"{base_url}/banque/login")
    heading(page, "Se connecter à votre Espace client")
    page.get_by_label("Numéro client").fill(customer_number)
    click_code(page, code)
    page.get_by_role("button", name="Valider", exact=True).click()


def test_first_login_new_code_logout_and_login_again(
    bank_server: BankServer, customer_number: str, page: Page, context: BrowserContext
) -> None:
    base_url = bank_server.base_url
    code = letter_code(context, base_url, customer_number)

    # "Corriger" and "Effacer" first, as a person who clicked a wrong key would.
    page.goto(f"{base_url}/banque/login")
    page.get_by_role("button", name="chiffre 5", exact=True).click()
    page.get_by_role("button", name="chiffre 7", exact=True).click()
    page.get_by_role("button", name="Corriger").click()
    expect(page.locator(".keypad__dot.is-filled")).to_have_count(1)
    page.get_by_role("button", name="Effacer").click()
    expect(page.locator(".keypad__dot.is-filled")).to_have_count(0)
    assert page.locator("[data-keypad-field]").input_value() == ""
    # Enter in the number field validates the form (it does not press the first key).
    page.get_by_label("Numéro client").fill(customer_number)
    page.get_by_label("Numéro client").press("Enter")
    expect(page.locator('[data-keypad-error="code_required"]')).to_be_visible()
    expect(page.get_by_label("Numéro client")).to_have_value(customer_number)

    log_in(page, base_url, customer_number, code)
    heading(page, "Choisissez votre nouveau code")

    # A trivial code is refused, with the reason.
    click_code(page, "123456")
    page.get_by_role("button", name="Valider", exact=True).click()
    heading(page, "Choisissez votre nouveau code")
    expect(page.locator('#code-problems li[data-problem="sequence"]')).to_be_visible()

    # The keyboard works: a key takes the focus, Enter and Space press it.
    for index, digit in enumerate(NEW_CODE):
        key = page.get_by_role("button", name=f"chiffre {digit}", exact=True)
        key.focus()
        page.keyboard.press("Enter" if index % 2 == 0 else "Space")
        expect(page.locator(".keypad__dot.is-filled")).to_have_count(index + 1)
    field_has_no_digit(page)
    page.keyboard.press("Tab")  # typing digits on the keyboard does nothing: only the keys count
    page.keyboard.type("999")
    expect(page.locator(".keypad__dot.is-filled")).to_have_count(6)
    page.get_by_role("button", name="Valider", exact=True).click()

    heading(page, "Confirmez votre nouveau code")
    click_code(page, NEW_CODE)
    page.get_by_role("button", name="Enregistrer mon nouveau code").click()
    expect(page).to_have_url(f"{base_url}/banque/account")
    heading(page, "Mon compte")
    expect(page.get_by_text("Bonjour Zoé.", exact=False)).to_be_visible()

    page.get_by_role("button", name="Me déconnecter").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/banque\?"))
    assert not [c for c in context.cookies() if c["name"].endswith("sesame_session_banque")]

    log_in(page, base_url, customer_number, code)  # the letter's code is spent
    expect(page.locator('[data-keypad-error="invalid"]')).to_be_visible()
    log_in(page, base_url, customer_number, NEW_CODE)
    expect(page).to_have_url(f"{base_url}/banque/account")
    heading(page, "Mon compte")

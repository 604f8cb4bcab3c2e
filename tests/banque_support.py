"""Helpers of the bank tests: the demo bank, an enrolled customer with the code read from its letter,
and the keys a person clicks on a flow's keypad."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sesame.bootstrap import Container
from sesame.domain.customer_numbers import draw_customer_number
from sesame.domain.keypad import REF_SEPARATOR, KeypadLayout, draw_layout
from sesame.domain.messages import StoredMessage
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.keypad_login.flow import KEYPAD_LOGIN
from sesame.flows.keypad_login.states import KeypadIntent, KeypadLoginContext, KeypadLoginState
from sesame.flows.keypad_login.steps import EXTRAS_KEY, KeypadServices
from sesame.services.banque import BankCustomers, EnrolledCustomer, NewCustomer
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import list_messages
from sesame.web.pages.banque import bank_customers, keypad_authenticator

BROWSER = "browser-cookie-value-bank"
BANK_OFFICE = RequestContext(actor="support:bank", ip="192.0.2.20", correlation_id="corr-bank")
ADDRESS = ("12 rue des Lilas", "75011 Paris")
BIRTH_DATE = date(1985, 4, 7)
#: "Code provisoire : 123456" (fr) or "Temporary code: 123456" (en), in the letters.
LETTER_CODE_RE = re.compile(r"(?:Code provisoire :|Temporary code:) (\d{6})")
#: A code that every rule accepts with this birth date, and with every customer number these tests
#: draw (:func:`number_without_good_code`).
GOOD_CODE = "480915"


def bank(container: Container) -> Tenant:
    if container.tenants.find("banque") is None:
        load_demo(container.tenants)
    return container.tenants.get("banque")


def number_without_good_code() -> str:
    """A customer number drawn as the bank draws it, never one that holds GOOD_CODE: the rules refuse
    a code written in the customer number, and a random 10-digit number holds a given 6-digit code
    once in 200,000 draws (a test choosing GOOD_CODE as its new code would then fail)."""
    while GOOD_CODE in (number := draw_customer_number()):
        pass
    return number


def customers(container: Container) -> BankCustomers:
    """The bank's service as the pages build it (``bank_customers``), with the numbers above."""
    return BankCustomers(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        container.settings.base_url,
        draw_number=number_without_good_code,
        logouts=container.backchannel_logouts,
    )


@dataclass(frozen=True, slots=True)
class Customer:
    enrolled: EnrolledCustomer
    #: The one-time code, as the person reads it on the second letter.
    code: str

    @property
    def number(self) -> str:
        return self.enrolled.customer_number

    @property
    def account_id(self) -> int:
        return self.enrolled.account.id


def letters(container: Container, template: str | None = None) -> list[StoredMessage]:
    """The bank's letters, oldest first."""
    found = [entry.message for entry in list_messages(container.uow, limit=1000, tenant_slug="banque")]
    return [m for m in reversed(found) if template is None or m.template == template]


def code_in(message: StoredMessage) -> str:
    match = LETTER_CODE_RE.search(message.body_text or "")
    assert match, message.body_text
    return match.group(1)


def enrol(
    container: Container,
    given_name: str = "Zoé",
    family_name: str = "Lefèvre",
    *,
    birth_date: date | None = BIRTH_DATE,
    locale: str = "fr",
) -> Customer:
    new = NewCustomer(given_name, family_name, ADDRESS, birth_date=birth_date, locale=locale)
    enrolled = customers(container).enrol(bank(container), new, BANK_OFFICE)
    with container.uow(readonly=True) as uow:
        letter = uow.outbox.get(enrolled.letter_ids[1])
    assert letter is not None
    return Customer(enrolled, code_in(letter))


def keys_for(layout: KeypadLayout | None, code: str) -> str:
    """The references a person's clicks send for ``code`` on ``layout`` (what keypad.js puts in the field)."""
    assert layout is not None
    ref = {key.digit: key.ref for key in layout.keys}
    return REF_SEPARATOR.join(ref[digit] for digit in code)


# -- driving the flow through the runner -------------------------------------------------------------


KeypadFlow = Flow[KeypadLoginState, KeypadLoginContext]


def services(container: Container, *, ip: str = "192.0.2.10", previous: str | None = None) -> KeypadServices:
    return KeypadServices(
        authenticator=keypad_authenticator(container),
        customers=bank_customers(container),
        keyed=container.keyed,
        request=RequestContext(ip=ip, user_agent="pytest", correlation_id="test-bank"),
        session_token=secrets.token_urlsafe(32),
        previous_session_token=previous,
    )


def start(container: Container, intent: KeypadIntent = KeypadIntent.LOGIN) -> KeypadFlow:
    runner = FlowRunner(container.uow, container.clock)
    return runner.start(
        KEYPAD_LOGIN, bank(container), BROWSER, context=KeypadLoginContext(intent=intent, layout=draw_layout())
    )


def submit(
    container: Container, flow: KeypadFlow, data: Mapping[str, str], keypad: KeypadServices | None = None
) -> SubmitResult[KeypadLoginState, KeypadLoginContext]:
    runner = FlowRunner(container.uow, container.clock)
    extras: dict[str, Any] = {EXTRAS_KEY: keypad or services(container)}
    return runner.submit(KEYPAD_LOGIN, bank(container), flow.id, BROWSER, data, extras=extras)


def current(container: Container, flow: KeypadFlow) -> KeypadFlow:
    return FlowRunner(container.uow, container.clock).load(KEYPAD_LOGIN, bank(container), flow.id)


def type_code(
    container: Container, flow: KeypadFlow, code: str, number: str | None = None, keypad: KeypadServices | None = None
) -> KeypadFlow:
    """Click ``code`` on the flow's current keypad (and type ``number``), validate; the flow after."""
    flow = current(container, flow)
    data = {"keys": keys_for(flow.context.layout, code), "action": "validate"}
    if number is not None:
        data["customer_number"] = number
    submit(container, flow, data, keypad)
    return current(container, flow)


def log_in(container: Container, number: str, code: str) -> KeypadFlow:
    return type_code(container, start(container), code, number)

"""The bank's customers: enrolment and its two letters, a new code by post, "secure my access", support.

On the real test database with the frozen clock (09:00 UTC on 15 January 2026); the letters are
read back from the outbox, text and PDF, as the printer and the dev inbox get them.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import structlog

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import AccountStatus, TokenPurpose
from sesame.domain.customer_numbers import is_customer_number
from sesame.domain.customers import SECURED_BY_CUSTOMER
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.keypad import TrivialReason
from sesame.domain.tenants import CredentialKind
from sesame.logging import configure_logging
from sesame.methods.keypad.codes import KeypadCodeHasher
from sesame.services.banque import (
    CODE_LETTER_DELAY,
    CUSTOMER_NUMBER_LETTER,
    FIRST_CODE_LETTER,
    LETTERS_PER_NUMBER,
    NEW_CODE_LETTER,
    UNCHANGED,
    BankCustomers,
    NewCustomer,
)
from sesame.services.context import RequestContext
from sesame.services.sessions import SessionService
from tests.adapters.test_letters_pdf import extract_texts
from tests.banque_support import (
    ADDRESS,
    BANK_OFFICE,
    BIRTH_DATE,
    bank,
    code_in,
    customers,
    enrol,
    letters,
)
from tests.log_support import without_random_fields

ANONYMOUS = RequestContext(ip="198.51.100.7", correlation_id="corr-anon")


@pytest.fixture
def log_output(container: Container) -> Iterator[io.StringIO]:
    """Sésame's logging, as JSON at debug level, into a buffer."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging(container.settings.model_copy(update={"log_json": True, "log_level": "debug"}), stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.contextvars.clear_contextvars()


def audit_dump(container: Container) -> str:
    with container.uow(readonly=True) as uow:
        records = uow.audit.chain(bank(container).id)
    return json.dumps([(r.event.type, r.event.actor, r.event.subject, r.event.details) for r in records])


def audit_types(container: Container) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [r.event.type for r in uow.audit.chain(bank(container).id)]


def pdf_text(pdf: bytes | None) -> str:
    assert pdf is not None and pdf.startswith(b"%PDF-")
    return " ".join(extract_texts(pdf))


# -- enrolment --------------------------------------------------------------------------------------------


def test_enrolment_creates_the_customer_with_a_one_time_code(container: Container, clock: FrozenClock) -> None:
    customer = enrol(container)
    account = customer.enrolled.account
    assert is_customer_number(customer.number) and account.customer_number == customer.number
    assert (account.email, account.status, account.password_change_required) == (None, AccountStatus.ACTIVE, True)
    assert customer.enrolled.code_letter_not_before == clock.now() + timedelta(days=1)
    with container.uow(readonly=True) as uow:
        profile = uow.customers.get(account.id)
        (credential,) = uow.accounts.credentials(account.id, CredentialKind.KEYPAD_CODE.value)
    assert profile is not None and profile.address_lines == list(ADDRESS) and profile.birth_date == BIRTH_DATE
    # argon2 over a keyed hash: the hash alone does not verify the code, the pepper is needed.
    assert credential.secret_hash.startswith("$argon2id$")
    assert not container.hasher.verify(credential.secret_hash, customer.code)
    assert KeypadCodeHasher(container.hasher, container.keyed).verify(credential.secret_hash, customer.code)


def test_two_letters_a_day_apart_the_number_then_the_code(container: Container, clock: FrozenClock) -> None:
    customer = enrol(container)
    number_letter, code_letter = letters(container)
    assert (number_letter.template, code_letter.template) == (CUSTOMER_NUMBER_LETTER, FIRST_CODE_LETTER)
    assert [number_letter.id, code_letter.id] == list(customer.enrolled.letter_ids)
    assert number_letter.next_attempt_at == clock.now()
    assert code_letter.next_attempt_at == clock.now() + CODE_LETTER_DELAY
    for letter in (number_letter, code_letter):
        assert letter.recipient == "Zoé Lefèvre\n12 rue des Lilas\n75011 Paris" and letter.sensitive
    # Each letter holds its secret and not the other's, in its text and in its PDF.
    assert customer.number in (number_letter.body_text or "") and customer.code not in (number_letter.body_text or "")
    assert customer.code in (code_letter.body_text or "") and customer.number not in (code_letter.body_text or "")
    number_pdf, code_pdf = pdf_text(number_letter.pdf), pdf_text(code_letter.pdf)
    assert customer.number in number_pdf and customer.code not in number_pdf
    assert customer.code in code_pdf and customer.number not in code_pdf
    assert "Zoé Lefèvre" in code_pdf and "75011 Paris" in code_pdf
    assert "Identifiant : " in (number_letter.body_text or "") and "16 janvier 2026" in code_pdf  # dated when sent


def test_letters_in_english(container: Container) -> None:
    customer = enrol(container, locale="en")
    number_letter, code_letter = letters(container)
    assert number_letter.subject == "Your login for online banking" and f"Login: {customer.number}" in (
        number_letter.body_text or ""
    )
    assert code_in(code_letter) == customer.code and "Yours faithfully" in (code_letter.body_text or "")


def test_the_code_never_reaches_the_logs_nor_the_audit(container: Container, log_output: io.StringIO) -> None:
    customer = enrol(container)
    assert "customer.enrolled" in audit_types(container)
    assert customer.code not in audit_dump(container)
    logged = without_random_fields(log_output.getvalue())  # each line's microseconds are any 6 digits
    assert "outbox.queued" in logged  # the logging did run
    assert customer.code not in logged


def test_numbers_are_unique_per_tenant(container: Container) -> None:
    numbers = {enrol(container, f"Client{i}", "Test").number for i in range(8)}
    assert len(numbers) == 8


def test_a_taken_number_is_drawn_again(container: Container) -> None:
    first = enrol(container)
    fresh = "7992739875"
    draws = iter([first.number, first.number, fresh])
    service = BankCustomers(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        "https://testserver",
        draw_number=lambda: next(draws),
    )
    second = service.enrol(bank(container), NewCustomer("Léon", "Martin", ADDRESS), BANK_OFFICE)
    assert second.customer_number == fresh


def test_no_free_number_fails_without_creating_anything(container: Container) -> None:
    taken = enrol(container).number
    service = BankCustomers(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        "https://testserver",
        draw_number=lambda: taken,
    )
    with pytest.raises(RuntimeError, match="no free customer number"):
        service.enrol(bank(container), NewCustomer("Léon", "Martin", ADDRESS), BANK_OFFICE)
    assert len(letters(container)) == 2  # the first customer's only


@pytest.mark.parametrize(
    ("new", "errors"),
    [
        (NewCustomer("", "Martin", ADDRESS), {"given_name": "required"}),
        (NewCustomer("Léon", "  ", ADDRESS), {"family_name": "required"}),
        (NewCustomer("Léon", "Martin", []), {"address": "required"}),
        (NewCustomer("Léon", "Martin", ["", "  "]), {"address": "required"}),
        (NewCustomer("Léon", "Martin", ["x" * 200]), {"address": "invalid"}),
        (NewCustomer("Léon", "Martin", ["a\x00b"]), {"address": "invalid"}),
        (NewCustomer("Léon", "Martin", ADDRESS, birth_date=date(2030, 1, 1)), {"birth_date": "invalid"}),
        (NewCustomer("Léon", "Martin", ADDRESS, locale="de"), {"locale": "invalid"}),
        (NewCustomer("", "", []), {"given_name": "required", "family_name": "required", "address": "required"}),
    ],
)
def test_bad_input_creates_nothing(container: Container, new: NewCustomer, errors: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        customers(container).enrol(bank(container), new, BANK_OFFICE)
    assert raised.value.details["errors"] == errors
    with container.uow(readonly=True) as uow:
        assert uow.accounts.list(bank(container).id) == []
    assert letters(container) == []


def test_only_customer_number_tenants_enrol(container: Container) -> None:
    bank(container)
    laposte = container.tenants.get("laposte")
    with pytest.raises(InvalidInput):
        customers(container).enrol(laposte, NewCustomer("Léon", "Martin", ADDRESS), BANK_OFFICE)


# -- a new code by post ------------------------------------------------------------------------------------


def test_a_new_code_by_post_for_a_customer(container: Container) -> None:
    customer = enrol(container)
    assert customers(container).request_code_by_post(bank(container), customer.number, ANONYMOUS) is None
    (letter,) = letters(container, NEW_CODE_LETTER)
    code = code_in(letter)
    assert code != customer.code and code in pdf_text(letter.pdf) and letter.recipient.startswith("Zoé Lefèvre\n")
    with container.uow(readonly=True) as uow:
        token = uow.accounts.latest_token(customer.account_id, TokenPurpose.RECOVERY)
    assert token is not None and token.target == "post" and token.used_at is None
    assert code not in audit_dump(container)


def test_an_unknown_number_gets_the_same_answer_and_no_letter(container: Container) -> None:
    enrol(container)
    unknown = "7992739875"
    assert customers(container).request_code_by_post(bank(container), unknown, ANONYMOUS) is None
    assert letters(container, NEW_CODE_LETTER) == []
    assert audit_types(container).count("recovery.requested") == 1  # audited all the same


def test_letters_by_post_are_throttled_per_number(container: Container, clock: FrozenClock) -> None:
    customer = enrol(container)
    service = customers(container)
    for _ in range(LETTERS_PER_NUMBER):
        assert service.request_code_by_post(bank(container), customer.number, ANONYMOUS) is None
    retry_at = service.request_code_by_post(bank(container), customer.number, ANONYMOUS)
    assert retry_at is not None and retry_at > clock.now() + timedelta(days=6)
    assert len(letters(container, NEW_CODE_LETTER)) == LETTERS_PER_NUMBER
    # Only the latest letter's code works: each new one retires the older ones.
    with container.uow(readonly=True) as uow:
        tokens_used = uow.accounts.latest_token(customer.account_id, TokenPurpose.RECOVERY)
    assert tokens_used is not None and tokens_used.used_at is None


def test_a_malformed_number_is_refused_before_anything(container: Container) -> None:
    before = audit_types(container)
    with pytest.raises(InvalidInput):
        customers(container).request_code_by_post(bank(container), "7992739876", ANONYMOUS)
    assert audit_types(container) == before


# -- "secure my access" and support -------------------------------------------------------------------------


def test_secure_my_access_blocks_ends_sessions_and_sends_a_code(container: Container, clock: FrozenClock) -> None:
    customer = enrol(container)
    tenant = bank(container)
    with container.uow() as uow:
        account = uow.accounts.get(customer.account_id)
        assert account is not None
        SessionService.open(uow, account, tenant, clock.now(), acr="eidas1", amr=["pwd"], ip="", user_agent="")
        uow.commit()
    secured = customers(container).secure_access_now(tenant, customer.account_id, ANONYMOUS)
    assert (secured.sessions_ended, secured.letter_sent) == (1, True)
    assert container.sessions.list(customer.account_id) == []
    found = customers(container).find(tenant, customer.number)
    assert (found.status, found.status_reason) == (AccountStatus.LOCKED, SECURED_BY_CUSTOMER)
    assert len(letters(container, NEW_CODE_LETTER)) == 1
    assert "access.secured" in audit_types(container)


def test_support_finds_locks_and_unlocks_by_customer_number(container: Container) -> None:
    customer = enrol(container)
    tenant = bank(container)
    service = customers(container)
    assert service.find(tenant, f" {customer.number[:5]} {customer.number[5:]} ").id == customer.account_id
    assert service.lock(tenant, customer.number, "fraud", BANK_OFFICE).status is AccountStatus.LOCKED
    assert service.unlock(tenant, customer.number, BANK_OFFICE).status is AccountStatus.ACTIVE
    with pytest.raises(NotFound):
        service.find(tenant, "7992739875")
    with pytest.raises(InvalidInput):
        service.find(tenant, "12345")


def test_support_sends_a_new_code(container: Container) -> None:
    customer = enrol(container)
    customers(container).send_code_by_post(bank(container), customer.number, BANK_OFFICE)
    assert len(letters(container, NEW_CODE_LETTER)) == 1
    assert "recovery.sent" in audit_types(container)


# -- the rules of a new code -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("000000", TrivialReason.REPEATED.value),
        ("123456", TrivialReason.SEQUENCE.value),
        ("654321", TrivialReason.SEQUENCE.value),
        ("070485", TrivialReason.BIRTH_DATE.value),
        ("850407", TrivialReason.BIRTH_DATE.value),
    ],
)
def test_trivial_new_codes(container: Container, code: str, problem: str) -> None:
    customer = enrol(container)
    assert problem in customers(container).code_problems(bank(container), customer.account_id, code)


def test_the_customer_number_and_the_current_code_are_refused(container: Container) -> None:
    customer = enrol(container)
    service = customers(container)
    piece = customer.number[2:8]
    assert TrivialReason.CUSTOMER_NUMBER.value in service.code_problems(bank(container), customer.account_id, piece)
    assert service.code_problems(bank(container), customer.account_id, customer.code) == [UNCHANGED]
    assert service.code_problems(bank(container), customer.account_id, "480915") == []

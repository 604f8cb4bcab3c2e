"""The email change flow through the flow runner: address and password, then the code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.email_change import steps as email_steps
from sesame.flows.email_change.flow import EMAIL_CHANGE
from sesame.flows.email_change.states import EmailChangeContext, EmailChangeState
from sesame.flows.settings import steps
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.email_change import EmailChange
from sesame.services.outbox import list_messages
from sesame.services.sessions import LiveSession
from sesame.services.settings import AccountSettings

BROWSER = "browser-cookie-of-the-email-tests"
PASSWORD = "Current-Pass-2026"
OLD = "ines.moreau@example.fr"
NEW = "ines.nouvelle@example.org"
CONTEXT = RequestContext(ip="192.0.2.45", correlation_id="corr-email-flow", actor="account:test")
CODE_RE = re.compile(r"\b(\d{6})\b")
LINK_RE = re.compile(r"confirm\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=OLD, given_name="Inès", family_name="Moreau", verified=True)
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def changer(container: Container) -> EmailChange:
    return EmailChange(container.uow, container.clock, container.tokens, base_url="https://testserver")


class Journey:
    def __init__(self, container: Container, tenant: Tenant, account: Account) -> None:
        self.container, self.tenant, self.account = container, tenant, account
        self.runner = FlowRunner(container.uow, container.clock)
        self.flow: Flow[EmailChangeState, EmailChangeContext] = self.runner.start(
            EMAIL_CHANGE, tenant, BROWSER, context=EmailChangeContext(account_id=account.id)
        )

    def live(self) -> LiveSession:
        with self.container.uow() as uow:
            opened = self.container.sessions.open(
                uow,
                self.account,
                self.tenant,
                self.container.clock.now(),
                acr="eidas1",
                amr=["pwd"],
                ip="",
                user_agent="",
            )
            uow.commit()
        found = self.container.sessions.resolve(self.tenant, opened.token)  # the account as it is now
        assert found is not None
        return found

    def extras(self) -> Mapping[str, Any]:
        c = self.container
        return {
            steps.LIVE: self.live(),
            steps.CONTEXT: CONTEXT,
            steps.SETTINGS: AccountSettings(
                c.uow, c.clock, hasher=c.hasher, rules=c.password_rules, counters=c.counters, keyed=c.keyed
            ),
            email_steps.EMAIL_CHANGE: changer(c),
        }

    def submit(self, state: EmailChangeState, **data: str) -> SubmitResult[EmailChangeState, EmailChangeContext]:
        result = self.runner.submit(
            EMAIL_CHANGE, self.tenant, self.flow.id, BROWSER, data, expected_state=state.value, extras=self.extras()
        )
        self.flow = result.flow
        return result

    def request(self, new_email: str = NEW, password: str = PASSWORD) -> SubmitResult[Any, Any]:
        return self.submit(EmailChangeState.ENTER_EMAIL, new_email=new_email, current_password=password)


def confirm_emails(container: Container) -> list[str]:
    return [m.message.body_text for m in list_messages(container.uow) if m.message.template == "email_change_confirm"]


def current_email(container: Container, account: Account) -> str | None:
    with container.uow(readonly=True) as uow:
        found = uow.accounts.get(account.id)
    assert found is not None
    return found.email


def test_the_whole_change_with_the_code(container: Container, tenant: Tenant, account: Account) -> None:
    journey = Journey(container, tenant, account)
    result = journey.request(new_email="  Ines.Nouvelle@EXAMPLE.org ")
    assert result.ok and result.flow.state is EmailChangeState.ENTER_CODE
    assert result.flow.context.new_email == "Ines.Nouvelle@example.org"  # cleaned: trimmed, domain lower-cased
    code = CODE_RE.search(confirm_emails(container)[0])
    assert code
    result = journey.submit(EmailChangeState.ENTER_CODE, code=f" {code.group(1)[:3]} {code.group(1)[3:]} ")
    assert result.ok and result.flow.state is EmailChangeState.DONE
    assert current_email(container, account) == "Ines.Nouvelle@example.org"


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"new_email": "required", "current_password": "required"}),
        ({"new_email": "not-an-address", "current_password": PASSWORD}, {"new_email": "invalid"}),
        ({"new_email": "a" * 400 + "@example.org", "current_password": PASSWORD}, {"new_email": "invalid"}),
        ({"new_email": OLD.upper(), "current_password": PASSWORD}, {"new_email": "same"}),
        ({"new_email": NEW}, {"current_password": "required"}),
    ],
)
def test_bad_input_is_explained_and_sends_nothing(
    container: Container, tenant: Tenant, account: Account, data: dict[str, str], errors: dict[str, str]
) -> None:
    journey = Journey(container, tenant, account)
    result = journey.submit(EmailChangeState.ENTER_EMAIL, **data)
    assert dict(result.errors) == errors and result.flow.record.attempts == 0
    assert list_messages(container.uow) == []


def test_a_wrong_password_uses_an_attempt_and_sends_nothing(
    container: Container, tenant: Tenant, account: Account
) -> None:
    journey = Journey(container, tenant, account)
    result = journey.request(password="Wrong-Pass-1")
    assert dict(result.errors) == {"current_password": "wrong"} and result.flow.record.attempts == 1
    assert list_messages(container.uow) == []
    with container.uow(readonly=True) as uow:
        assert [r.event.type for r in uow.audit.chain(tenant.id)][-1] == "email_change.refused"


def test_an_address_in_use_looks_the_same(container: Container, tenant: Tenant, account: Account) -> None:
    container.accounts.create(
        tenant, NewAccount(email=NEW, given_name="Autre", family_name="Personne"), PASSWORD, RequestContext()
    )
    journey = Journey(container, tenant, account)
    result = journey.request()
    assert result.ok and result.flow.state is EmailChangeState.ENTER_CODE  # the same next page
    result = journey.submit(EmailChangeState.ENTER_CODE, code="123456")
    assert dict(result.errors) == {"code": "wrong"}
    assert current_email(container, account) == OLD


def test_a_wrong_code_uses_an_attempt(container: Container, tenant: Tenant, account: Account) -> None:
    journey = Journey(container, tenant, account)
    journey.request()
    code = CODE_RE.search(confirm_emails(container)[0])
    assert code
    wrong = "000000" if code.group(1) != "000000" else "111111"
    result = journey.submit(EmailChangeState.ENTER_CODE, code=wrong)
    assert dict(result.errors) == {"code": "wrong"} and result.flow.record.attempts == 1
    assert dict(journey.submit(EmailChangeState.ENTER_CODE, code="").errors) == {"code": "required"}
    assert journey.flow.record.attempts == 1


def test_resend_has_a_cooldown_and_a_limit(
    container: Container, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    journey = Journey(container, tenant, account)
    journey.request()
    result = journey.submit(EmailChangeState.ENTER_CODE, action="resend")
    assert dict(result.errors) == {"resend": "cooldown", "retry_seconds": "60"}
    for _ in range(email_steps.MAX_RESENDS):
        clock.advance(seconds=61)
        assert journey.submit(EmailChangeState.ENTER_CODE, action="resend").ok
    clock.advance(seconds=61)
    assert dict(journey.submit(EmailChangeState.ENTER_CODE, action="resend").errors) == {"resend": "limit"}
    assert len(confirm_emails(container)) == 1 + email_steps.MAX_RESENDS
    newest = CODE_RE.search(confirm_emails(container)[0])  # list_messages is newest first
    assert newest
    assert journey.submit(EmailChangeState.ENTER_CODE, code=newest.group(1)).flow.state is EmailChangeState.DONE


def test_another_address_can_be_chosen(container: Container, tenant: Tenant, account: Account) -> None:
    journey = Journey(container, tenant, account)
    journey.request()
    assert journey.submit(EmailChangeState.ENTER_CODE, action="restart").flow.state is EmailChangeState.ENTER_EMAIL
    journey.request(new_email="third@example.org")
    code = CODE_RE.search(confirm_emails(container)[0])
    assert code
    journey.submit(EmailChangeState.ENTER_CODE, code=code.group(1))
    assert current_email(container, account) == "third@example.org"


def test_the_link_opened_elsewhere_finishes_the_flow(container: Container, tenant: Tenant, account: Account) -> None:
    journey = Journey(container, tenant, account)
    journey.request()
    link = LINK_RE.search(confirm_emails(container)[0])
    assert link
    changer(container).confirm_link(tenant, link.group(1), CONTEXT)
    result = journey.submit(EmailChangeState.ENTER_CODE, code="")
    assert result.ok and result.flow.state is EmailChangeState.DONE

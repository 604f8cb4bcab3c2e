"""The registration flow's steps, through the flow runner, on the real test database with a frozen clock."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.registration.flow import REGISTRATION
from sesame.flows.registration.states import RegistrationContext, RegistrationState
from sesame.flows.registration.steps import EXTRAS_KEY, RegistrationExtras
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import InboxEntry, list_messages
from sesame.services.registration import (
    EMAILS_PER_ADDRESS_PER_HOUR,
    REGISTRATIONS_PER_IP_PER_HOUR,
    RegistrationService,
)

BROWSER = "browser-cookie-value-1"
PASSWORD = "Facteur-Bleu-2026"
EMAIL = "jeanne.martin@example.fr"
OWNER_EMAIL = "marie.dupont@example.fr"
CODE_RE = re.compile(r"^(\d{6})$", re.MULTILINE)

RegistrationFlow = Flow[RegistrationState, RegistrationContext]


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def runner(container: Container) -> FlowRunner:
    return FlowRunner(container.uow, container.clock)


@pytest.fixture
def owner(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=OWNER_EMAIL, given_name="Marie", family_name="Dupont", verified=True, terms_version="1")
    return container.accounts.create(tenant, new, "Sesame-Demo-2026!", RequestContext(actor="test"))


def extras(container: Container, *, ip: str = "192.0.2.1", locale: str = "fr") -> Mapping[str, Any]:
    service = RegistrationService(
        container.uow, container.clock, container.accounts, container.tokens, container.counters, "https://id.test"
    )
    return {
        EXTRAS_KEY: RegistrationExtras(
            service=service,
            accounts=container.accounts,
            rules=container.password_rules,
            context=RequestContext(ip=ip, actor="anonymous"),
            locale=locale,
        )
    }


def submit(
    runner: FlowRunner, container: Container, tenant: Tenant, flow_id: str, data: Mapping[str, str], **kw: Any
) -> SubmitResult[RegistrationState, RegistrationContext]:
    return runner.submit(REGISTRATION, tenant, flow_id, BROWSER, data, extras=extras(container, **kw))


def form(**overrides: str) -> dict[str, str]:
    data = {
        "given_name": " Jeanne ",
        "family_name": "Martin",
        "email": " Jeanne.Martin@example.fr ",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "terms": "on",
        "marketing_partners": "on",
    }
    data.update(overrides)
    return data


def signed_up(runner: FlowRunner, container: Container, tenant: Tenant, **overrides: str) -> RegistrationFlow:
    flow = runner.start(REGISTRATION, tenant, BROWSER)
    result = submit(runner, container, tenant, flow.id, form(**overrides))
    assert result.ok, result.errors
    assert result.flow.state is RegistrationState.CHECK_EMAIL
    return result.flow


def emails(container: Container, to: str) -> list[InboxEntry]:
    return [e for e in list_messages(container.uow) if e.message.recipient == to]


def code_in(entry: InboxEntry) -> str:
    match = CODE_RE.search(entry.message.body_text)
    assert match
    return match.group(1)


def account(container: Container, tenant: Tenant, email: str) -> Account | None:
    with container.uow(readonly=True) as uow:
        return uow.accounts.by_email(tenant.id, email)


# -- the form ------------------------------------------------------------------------------------------------


def test_form_creates_an_unconfirmed_account_and_queues_its_confirmation(
    runner: FlowRunner, container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    flow = signed_up(runner, container, tenant)
    context = flow.context
    assert (context.given_name, context.family_name, context.email) == ("Jeanne", "Martin", "Jeanne.Martin@example.fr")
    assert context.account_id is not None and context.owner_id is None
    assert context.emails_sent == 1 and context.sent_at == clock.now()
    assert context.resend_after is not None and (context.resend_after - clock.now()).total_seconds() == 60
    created = account(container, tenant, EMAIL)
    assert created is not None and created.id == context.account_id and not created.email_verified
    assert created.marketing_partners and not created.marketing_email
    assert created.terms_version == tenant.policy.terms_version and created.terms_accepted_at == clock.now()
    [message] = emails(container, "Jeanne.Martin@example.fr")
    assert message.message.template == "confirm_email" and message.message.sensitive
    assert "https://id.test/laposte/confirm-email?token=" in message.message.body_text
    # The stored journey never holds the password nor the code.
    with container.uow(readonly=True) as uow:
        record = uow.flows.get(flow.id)
    assert record is not None
    stored = json.dumps(record.context)
    assert PASSWORD not in stored and code_in(message) not in stored


def test_form_errors_are_codes_per_field_and_change_nothing(
    runner: FlowRunner, container: Container, tenant: Tenant
) -> None:
    flow = runner.start(REGISTRATION, tenant, BROWSER)
    result = submit(
        runner,
        container,
        tenant,
        flow.id,
        {
            "given_name": "",
            "family_name": "x" * 101,
            "email": "nope",
            "password": "zqvw",
            "password_confirmation": "abd",
        },
    )
    assert dict(result.errors) == {
        "given_name": "required",
        "family_name": "invalid",
        "email": "invalid",
        "password": "policy",
        "password_rules": "min_length,upper,digit",
        "password_confirmation": "mismatch",
        "terms": "required",
    }
    assert result.flow.state is RegistrationState.FORM
    assert result.flow.record.attempts == 0  # corrections are not attempts
    assert list_messages(container.uow) == []


def test_a_taken_address_goes_to_the_same_state_and_notifies_its_owner(
    runner: FlowRunner, container: Container, tenant: Tenant, owner: Account
) -> None:
    flow = signed_up(runner, container, tenant, email=OWNER_EMAIL.upper())
    assert flow.context.account_id is None and flow.context.owner_id == owner.id
    assert flow.context.emails_sent == 1
    [notice] = emails(container, OWNER_EMAIL)
    assert notice.message.template == "already_registered"
    assert account(container, tenant, OWNER_EMAIL) == owner
    with container.uow(readonly=True) as uow:
        events = [r.event for r in uow.audit.chain(tenant.id)]
    assert events[-1].type == "registration.address_taken" and events[-1].subject == f"account:{owner.id}"


def test_sign_up_is_refused_where_people_do_not_log_in_with_an_email(
    runner: FlowRunner, container: Container, tenant: Tenant
) -> None:
    bank = container.tenants.get("banque")
    flow = runner.start(REGISTRATION, bank, BROWSER)
    result = submit(runner, container, bank, flow.id, form())
    assert dict(result.errors) == {"form": "unavailable"}


def test_sign_ups_per_ip_are_limited(runner: FlowRunner, container: Container, tenant: Tenant) -> None:
    for number in range(REGISTRATIONS_PER_IP_PER_HOUR):
        signed_up(runner, container, tenant, email=f"person{number}@example.fr")
    flow = runner.start(REGISTRATION, tenant, BROWSER)
    result = submit(runner, container, tenant, flow.id, form(email="one.more@example.fr"))
    assert dict(result.errors) == {"form": "throttled"}
    assert submit(runner, container, tenant, flow.id, form(email="one.more@example.fr"), ip="192.0.2.2").ok


@pytest.mark.parametrize("address", [EMAIL, OWNER_EMAIL])
def test_emails_to_one_address_are_limited_alike_for_new_and_taken_addresses(
    runner: FlowRunner, container: Container, tenant: Tenant, owner: Account, address: str
) -> None:
    for number in range(EMAILS_PER_ADDRESS_PER_HOUR):
        flow = runner.start(REGISTRATION, tenant, BROWSER)
        result = submit(runner, container, tenant, flow.id, form(email=address), ip=f"192.0.2.{number}")
        assert result.ok
    flow = runner.start(REGISTRATION, tenant, BROWSER)
    result = submit(runner, container, tenant, flow.id, form(email=address), ip="192.0.2.99")
    assert dict(result.errors) == {"email": "throttled"}
    assert len(emails(container, address)) == EMAILS_PER_ADDRESS_PER_HOUR


# -- waiting for the confirmation -------------------------------------------------------------------------------


def test_the_code_confirms(runner: FlowRunner, container: Container, tenant: Tenant, clock: FrozenClock) -> None:
    flow = signed_up(runner, container, tenant)
    code = code_in(emails(container, "Jeanne.Martin@example.fr")[0])
    result = submit(runner, container, tenant, flow.id, {"action": "code", "code": code})
    assert result.ok and result.flow.state is RegistrationState.DONE
    confirmed = account(container, tenant, EMAIL)
    assert confirmed is not None and confirmed.email_verified_at == clock.now()


def test_wrong_codes_are_counted_per_email_not_as_flow_attempts(
    runner: FlowRunner, container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    flow = signed_up(runner, container, tenant)
    code = code_in(emails(container, "Jeanne.Martin@example.fr")[0])
    wrong = "000000" if code != "000000" else "111111"
    outcomes = [
        dict(submit(runner, container, tenant, flow.id, {"action": "code", "code": wrong}).errors) for _ in range(6)
    ]
    assert [o["code"] for o in outcomes] == ["wrong", "wrong", "wrong", "wrong", "exhausted", "exhausted"]
    assert [o.get("code_tries_left") for o in outcomes] == ["4", "3", "2", "1", "0", None]
    assert dict(submit(runner, container, tenant, flow.id, {"action": "code", "code": code}).errors) == {
        "code": "exhausted"
    }
    assert runner.load(REGISTRATION, tenant, flow.id).record.attempts == 0
    clock.advance(seconds=60)
    assert submit(runner, container, tenant, flow.id, {"action": "resend"}).ok
    fresh = code_in(emails(container, "Jeanne.Martin@example.fr")[0])
    assert (
        submit(runner, container, tenant, flow.id, {"action": "code", "code": fresh}).flow.state
        is RegistrationState.DONE
    )


def test_a_taken_address_refuses_every_code(
    runner: FlowRunner, container: Container, tenant: Tenant, owner: Account
) -> None:
    flow = signed_up(runner, container, tenant, email=OWNER_EMAIL)
    for code in ("123456", "000000", "999999"):
        result = submit(runner, container, tenant, flow.id, {"action": "code", "code": code})
        assert result.errors["code"] == "wrong"
    with container.uow(readonly=True) as uow:
        rejected = [r.event for r in uow.audit.chain(tenant.id) if r.event.type == "account.confirmation_code_rejected"]
    assert len(rejected) == 3 and rejected[0].subject == f"flow:{flow.id[:8]}"


def test_resend_waits_for_the_cooldown_and_issues_a_new_link_and_code(
    runner: FlowRunner, container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    flow = signed_up(runner, container, tenant)
    first = emails(container, "Jeanne.Martin@example.fr")[0]
    clock.advance(seconds=59)
    assert dict(submit(runner, container, tenant, flow.id, {"action": "resend"}).errors) == {"resend": "cooldown"}
    clock.advance(seconds=1)
    result = submit(runner, container, tenant, flow.id, {"action": "resend"})
    assert result.ok and result.flow.context.emails_sent == 2 and result.flow.context.sent_at == clock.now()
    second = emails(container, "Jeanne.Martin@example.fr")[0]
    assert second.message.id != first.message.id
    if code_in(first) != code_in(second):
        result = submit(runner, container, tenant, flow.id, {"action": "code", "code": code_in(first)})
        assert result.errors["code"] == "wrong"


def test_link_clicked_elsewhere_moves_the_journey_on(runner: FlowRunner, container: Container, tenant: Tenant) -> None:
    flow = signed_up(runner, container, tenant)
    assert dict(submit(runner, container, tenant, flow.id, {"action": "check"}).errors) == {"link": "not_confirmed"}
    link = re.search(r"token=(\S+)", emails(container, "Jeanne.Martin@example.fr")[0].message.body_text)
    assert link
    service = extras(container)[EXTRAS_KEY].service
    assert service.confirm_link(tenant, link.group(1), RequestContext()).value == "confirmed"
    assert submit(runner, container, tenant, flow.id, {"action": "check"}).flow.state is RegistrationState.DONE


def test_resend_after_the_link_was_used_finishes_the_journey(
    runner: FlowRunner, container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    flow = signed_up(runner, container, tenant)
    link = re.search(r"token=(\S+)", emails(container, "Jeanne.Martin@example.fr")[0].message.body_text)
    assert link
    extras(container)[EXTRAS_KEY].service.confirm_link(tenant, link.group(1), RequestContext())
    clock.advance(seconds=60)
    assert submit(runner, container, tenant, flow.id, {"action": "resend"}).flow.state is RegistrationState.DONE
    assert len(emails(container, "Jeanne.Martin@example.fr")) == 1


def test_change_address_gives_up_the_account_and_frees_the_address(
    runner: FlowRunner, container: Container, tenant: Tenant
) -> None:
    flow = signed_up(runner, container, tenant)
    abandoned_id = flow.context.account_id
    result = submit(runner, container, tenant, flow.id, {"action": "change_email"})
    assert result.flow.state is RegistrationState.FORM
    assert result.flow.context.account_id is None and result.flow.context.email == "Jeanne.Martin@example.fr"
    with container.uow(readonly=True) as uow:
        assert abandoned_id is not None
        abandoned = uow.accounts.get(abandoned_id)
    assert abandoned is not None and abandoned.status is AccountStatus.CLOSED
    assert abandoned.email is None and abandoned.given_name == "" and abandoned.family_name == ""
    # The same journey can sign up again, with the same address or another.
    result = submit(runner, container, tenant, flow.id, form())
    assert result.flow.state is RegistrationState.CHECK_EMAIL and result.flow.context.emails_sent == 2
    assert result.flow.context.account_id not in (None, abandoned_id)


def test_unknown_actions_are_refused(runner: FlowRunner, container: Container, tenant: Tenant) -> None:
    flow = signed_up(runner, container, tenant)
    assert dict(submit(runner, container, tenant, flow.id, {"action": "delete"}).errors) == {"action": "required"}
    assert dict(submit(runner, container, tenant, flow.id, {}).errors) == {"action": "required"}


def test_steps_need_their_extras(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(REGISTRATION, tenant, BROWSER)
    with pytest.raises(TypeError):
        runner.submit(REGISTRATION, tenant, flow.id, BROWSER, form())

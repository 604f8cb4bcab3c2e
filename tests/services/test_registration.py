"""Registration use cases on the real test database: sign-up, links, codes, new links, giving up."""

from __future__ import annotations

import json
import re

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import InboxEntry, list_messages
from sesame.services.registration import (
    CONFIRMATION_LIFETIME,
    EMAILS_PER_ADDRESS_PER_HOUR,
    LINK_REQUESTS_PER_IP_PER_HOUR,
    Applicant,
    Confirmation,
    Registration,
    RegistrationService,
    registration_offered,
)

CONTEXT = RequestContext(ip="198.51.100.7", correlation_id="corr-1", actor="anonymous")
TOKEN_RE = re.compile(r"confirm-email\?token=(\S+)")
CODE_RE = re.compile(r"^(\d{6})$", re.MULTILINE)
EMAIL = "jeanne.martin@example.fr"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def service(container: Container) -> RegistrationService:
    return RegistrationService(
        container.uow, container.clock, container.accounts, container.tokens, container.counters, "https://id.test/"
    )


def register(container: Container, service: RegistrationService, tenant: Tenant, email: str = EMAIL) -> Registration:
    password_hash = container.accounts.prepare_password(tenant, "Facteur-Bleu-2026", email=email, names=())
    with container.uow() as uow:
        registration = service.register(uow, tenant, Applicant(email, "Jeanne", "Martin"), password_hash, CONTEXT)
        uow.commit()
    return registration


def latest_email(container: Container, to: str = EMAIL) -> InboxEntry:
    return next(e for e in list_messages(container.uow) if e.message.recipient == to)


def link_token(entry: InboxEntry) -> str:
    match = TOKEN_RE.search(entry.message.body_text)
    assert match
    return match.group(1)


def code(entry: InboxEntry) -> str:
    match = CODE_RE.search(entry.message.body_text)
    assert match
    return match.group(1)


def get(container: Container, account_id: int | None) -> Account:
    assert account_id is not None
    with container.uow(readonly=True) as uow:
        found = uow.accounts.get(account_id)
    assert found is not None
    return found


def test_only_email_tenants_offer_sign_up(container: Container, tenant: Tenant) -> None:
    assert registration_offered(tenant)
    assert registration_offered(container.tenants.get("poste-ch"))
    assert not registration_offered(container.tenants.get("banque"))


def test_links_use_the_public_url(service: RegistrationService, tenant: Tenant) -> None:
    assert service.confirm_url(tenant, "a/b+c") == "https://id.test/laposte/confirm-email?token=a%2Fb%2Bc"
    assert service.page_url(tenant, "login") == "https://id.test/laposte/login"


def test_register_then_confirm_by_link_once(
    container: Container, service: RegistrationService, tenant: Tenant, clock: FrozenClock
) -> None:
    registration = register(container, service, tenant)
    assert registration.account_id is not None and registration.owner_id is None
    token = link_token(latest_email(container))
    assert service.confirm_link(tenant, token, CONTEXT) is Confirmation.CONFIRMED
    assert get(container, registration.account_id).email_verified_at == clock.now()
    assert service.confirm_link(tenant, token, CONTEXT) is Confirmation.ALREADY_CONFIRMED
    with container.uow(readonly=True) as uow:
        assert service.is_confirmed(uow, registration)
        events = [r.event for r in uow.audit.chain(tenant.id)]
    confirmed = [e for e in events if e.type == "account.email_confirmed"]
    assert len(confirmed) == 1 and confirmed[0].details == {"method": "link"}
    assert confirmed[0].ip == "198.51.100.7" and confirmed[0].correlation_id == "corr-1"


def test_a_taken_address_creates_nothing_and_notifies_the_owner(
    container: Container, service: RegistrationService, tenant: Tenant
) -> None:
    owner = container.accounts.create(
        tenant, NewAccount(EMAIL, "Jeanne", "Martin", locale="en"), "Facteur-Bleu-2026", CONTEXT
    )
    registration = register(container, service, tenant, email=EMAIL.upper())
    assert registration == Registration(owner_id=owner.id)
    notice = latest_email(container)
    assert notice.message.template == "already_registered" and notice.message.locale == "en"
    # Not confirmed yet: the notice tells how to receive a new confirmation email.
    assert "https://id.test/laposte/confirm-email/resend" in notice.message.body_text
    with container.uow() as uow:
        assert service.resend(uow, tenant, registration, CONTEXT)
        assert not service.is_confirmed(uow, registration)
        uow.commit()
    assert [e.message.template for e in list_messages(container.uow)] == ["already_registered"] * 2
    with container.uow(readonly=True) as uow:
        assert len(uow.accounts.list(tenant.id)) == 1


def test_invalid_links(container: Container, service: RegistrationService, tenant: Tenant, clock: FrozenClock) -> None:
    registration = register(container, service, tenant)
    token = link_token(latest_email(container))
    for bad in ("", "x" * 129, token[:-1], token + "x"):
        assert service.confirm_link(tenant, bad, CONTEXT) is Confirmation.INVALID
    # Another tenant's URL: refused, and the link is not used up.
    assert service.confirm_link(container.tenants.get("poste-ch"), token, CONTEXT) is Confirmation.INVALID
    clock.advance(seconds=CONFIRMATION_LIFETIME.total_seconds())
    assert service.confirm_link(tenant, token, CONTEXT) is Confirmation.INVALID
    assert not get(container, registration.account_id).email_verified


def test_a_link_of_another_tenant_stays_usable(
    container: Container, service: RegistrationService, tenant: Tenant
) -> None:
    register(container, service, tenant)
    token = link_token(latest_email(container))
    assert service.confirm_link(container.tenants.get("poste-ch"), token, CONTEXT) is Confirmation.INVALID
    assert service.confirm_link(tenant, token, CONTEXT) is Confirmation.CONFIRMED


def test_a_new_email_retires_the_previous_link(
    container: Container, service: RegistrationService, tenant: Tenant
) -> None:
    registration = register(container, service, tenant)
    old = link_token(latest_email(container))
    with container.uow() as uow:
        assert service.resend(uow, tenant, registration, CONTEXT)
        uow.commit()
    new = latest_email(container)
    assert service.confirm_link(tenant, old, CONTEXT) is Confirmation.INVALID
    assert service.confirm_code(tenant, registration, code(new), CONTEXT, flow_id="f" * 43)
    # Once confirmed, the retired link says so instead of "invalid".
    assert service.confirm_link(tenant, old, CONTEXT) is Confirmation.ALREADY_CONFIRMED
    with container.uow() as uow:
        assert not service.resend(uow, tenant, registration, CONTEXT)  # nothing more to send


def test_codes_are_single_use_and_tries_are_counted(
    container: Container, service: RegistrationService, tenant: Tenant
) -> None:
    registration = register(container, service, tenant)
    right = code(latest_email(container))
    wrong = "000000" if right != "000000" else "111111"
    assert not service.confirm_code(tenant, registration, wrong, CONTEXT, flow_id="f" * 43)
    assert service.code_tries("f" * 43, 1) == 0  # the service only counts when asked
    assert service.count_wrong_code("f" * 43, 1) == 1 and service.code_tries("f" * 43, 1) == 1
    assert service.code_tries("f" * 43, 2) == 0
    assert service.confirm_code(tenant, registration, right, CONTEXT, flow_id="f" * 43)
    assert not service.confirm_code(tenant, registration, right, CONTEXT, flow_id="f" * 43)


def test_abandon_frees_the_address_unless_confirmed(
    container: Container, service: RegistrationService, tenant: Tenant
) -> None:
    registration = register(container, service, tenant)
    token = link_token(latest_email(container))
    assert registration.account_id is not None
    with container.uow() as uow:
        assert service.abandon(uow, tenant, registration.account_id, CONTEXT)
        uow.commit()
    assert service.confirm_link(tenant, token, CONTEXT) is Confirmation.INVALID
    again = register(container, service, tenant)
    assert again.account_id not in (None, registration.account_id)
    service.confirm_link(tenant, link_token(latest_email(container)), CONTEXT)
    with container.uow() as uow:
        assert again.account_id is not None
        assert not service.abandon(uow, tenant, again.account_id, CONTEXT)


def test_request_new_link_sends_only_to_accounts_waiting_for_one(
    container: Container, service: RegistrationService, tenant: Tenant
) -> None:
    registration = register(container, service, tenant)
    container.accounts.create(
        tenant, NewAccount("done@example.fr", "D", "One", verified=True), "Facteur-Bleu-2026", CONTEXT
    )
    for email in (EMAIL, "done@example.fr", "nobody@example.fr"):
        assert service.request_new_link(tenant, email, CONTEXT)
    assert [e.message.recipient for e in list_messages(container.uow)] == [EMAIL, EMAIL]
    assert service.confirm_link(tenant, link_token(latest_email(container)), CONTEXT) is Confirmation.CONFIRMED
    assert get(container, registration.account_id).email_verified


def test_request_new_link_is_rate_limited_per_address_and_per_ip(service: RegistrationService, tenant: Tenant) -> None:
    answers = [
        service.request_new_link(tenant, "x@example.fr", RequestContext(ip=f"203.0.113.{n}"))
        for n in range(EMAILS_PER_ADDRESS_PER_HOUR + 1)
    ]
    assert answers == [True] * EMAILS_PER_ADDRESS_PER_HOUR + [False]
    answers = [
        service.request_new_link(tenant, f"p{n}@example.fr", CONTEXT) for n in range(LINK_REQUESTS_PER_IP_PER_HOUR + 1)
    ]
    assert answers == [True] * LINK_REQUESTS_PER_IP_PER_HOUR + [False]


def test_no_secret_reaches_the_audit_log(container: Container, service: RegistrationService, tenant: Tenant) -> None:
    registration = register(container, service, tenant)
    entry = latest_email(container)
    service.confirm_code(tenant, registration, "000000", CONTEXT, flow_id="f" * 43)
    service.confirm_link(tenant, link_token(entry), CONTEXT)
    with container.uow(readonly=True) as uow:
        dumped = json.dumps([(r.event.type, r.event.subject, r.event.details) for r in uow.audit.chain(tenant.id)])
    for secret in ("Facteur-Bleu-2026", link_token(entry), code(entry)):
        assert secret not in dumped

"""Changing the email address: proof on the new address, notices on the old one, no enumeration."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, TokenPurpose
from sesame.domain.audit import AuditRecord
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.email_change import EmailChange, EmailChangeStatus, mask_email
from sesame.services.outbox import InboxEntry, list_messages

PASSWORD = "Email-Change-2026"
OLD = "lea.petit@example.fr"
NEW = "Lea.Nouvelle@Example.org"
CONTEXT = RequestContext(ip="192.0.2.9", correlation_id="corr-email", actor="account:test")
LINK_RE = re.compile(r"https://testserver/(?P<tenant>[a-z-]+)/account/email/confirm\?token=(?P<token>[A-Za-z0-9_-]+)")
CODE_RE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


def make_account(container: Container, tenant: Tenant, email: str = OLD, locale: str = "fr") -> Account:
    new = NewAccount(email=email, given_name="Léa", family_name="Petit", verified=True, locale=locale)
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def changer(container: Container) -> EmailChange:
    return EmailChange(container.uow, container.clock, container.tokens, base_url="https://testserver")


def start(container: Container, tenant: Tenant, account: Account, new_email: str = NEW) -> None:
    with container.uow() as uow:
        changer(container).start(uow, tenant, account, new_email, CONTEXT)
        uow.commit()


def messages(container: Container, template: str) -> list[InboxEntry]:
    return [m for m in list_messages(container.uow) if m.message.template == template]


def proof(container: Container) -> tuple[str, str]:
    """(link token, code) of the latest confirmation email."""
    text = messages(container, "email_change_confirm")[0].message.body_text
    link, code = LINK_RE.search(text), CODE_RE.search(text)
    assert link and code
    return link.group("token"), code.group(1)


def audit(container: Container, tenant: Tenant, prefix: str) -> Sequence[AuditRecord]:
    with container.uow(readonly=True) as uow:
        return [r for r in uow.audit.chain(tenant.id) if r.event.type.startswith(prefix)]


def email_of(container: Container, account: Account) -> str | None:
    with container.uow(readonly=True) as uow:
        found = uow.accounts.get(account.id)
    assert found is not None
    return found.email


# -- request -------------------------------------------------------------------------------------


def test_a_request_sends_the_proof_to_the_new_address_and_tells_the_old_one(
    container: Container, tenant: Tenant
) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    [confirm] = messages(container, "email_change_confirm")
    assert confirm.message.recipient == NEW and confirm.message.sensitive
    assert LINK_RE.search(confirm.message.body_text) and CODE_RE.search(confirm.message.body_text)
    [notice] = messages(container, "email_change_requested")
    assert notice.message.recipient == OLD and not notice.message.sensitive
    assert "L***@Example.org" in notice.message.body_text and NEW not in notice.message.body_text
    assert "https://testserver/laposte/recovery" in notice.message.body_text
    assert email_of(container, account) == OLD  # nothing changes before the proof
    [event] = audit(container, tenant, "email_change.requested")
    assert event.event.details == {"address_in_use": False} and event.event.subject == f"account:{account.id}"


def test_an_address_in_use_gets_the_same_outward_answer(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    owner = make_account(container, tenant, "taken@example.org", locale="en")
    start(container, tenant, account, "TAKEN@example.org")
    assert messages(container, "email_change_confirm") == []  # no code: nothing could match
    [note] = messages(container, "email_change_taken")
    assert note.message.recipient == "TAKEN@example.org" and note.message.locale == "en"
    assert not CODE_RE.search(note.message.body_text) and "token=" not in note.message.body_text
    assert [m.message.recipient for m in messages(container, "email_change_requested")] == [OLD]  # as usual
    with container.uow() as uow:
        status = changer(container).confirm_code(uow, tenant, account.id, "123456", CONTEXT)
        uow.commit()
    assert status is EmailChangeStatus.WRONG_CODE
    assert email_of(container, account) == OLD and email_of(container, owner) == "taken@example.org"
    [event] = audit(container, tenant, "email_change.requested")
    assert event.event.details == {"address_in_use": True}


def test_an_address_in_use_retires_an_earlier_code(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    make_account(container, tenant, "taken@example.org")
    start(container, tenant, account, "free@example.org")
    _, code = proof(container)
    start(container, tenant, account, "taken@example.org")
    with container.uow() as uow:
        status = changer(container).confirm_code(uow, tenant, account.id, code, CONTEXT)
        uow.commit()
    assert status is EmailChangeStatus.WRONG_CODE and email_of(container, account) == OLD


# -- confirmation by code --------------------------------------------------------------------------


def test_the_right_code_changes_the_address_and_tells_the_old_one(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    _, code = proof(container)
    with container.uow() as uow:
        wrong = changer(container).confirm_code(
            uow, tenant, account.id, "000000" if code != "000000" else "111111", CONTEXT
        )
        uow.commit()
    assert wrong is EmailChangeStatus.WRONG_CODE
    with container.uow() as uow:
        assert changer(container).confirm_code(uow, tenant, account.id, code, CONTEXT) is EmailChangeStatus.CHANGED
        uow.commit()
    changed = container.accounts.find(tenant, NEW)
    assert changed.id == account.id and changed.email == NEW and changed.email_verified_at is not None
    [notice] = messages(container, "email_changed")
    assert notice.message.recipient == OLD and "L***@Example.org" in notice.message.body_text
    with container.uow() as uow:  # the same code again: used up
        assert changer(container).confirm_code(uow, tenant, account.id, code, CONTEXT) is EmailChangeStatus.WRONG_CODE
        uow.commit()
    assert [e.event.details for e in audit(container, tenant, "account.email_changed")] == [{"via": "code"}]
    failures = audit(container, tenant, "email_change.confirm_failed")
    assert [e.event.details["reason"] for e in failures] == ["wrong_code", "wrong_code"]


def test_a_code_allows_five_tries(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    _, code = proof(container)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with container.uow() as uow:
            changer(container).confirm_code(uow, tenant, account.id, wrong, CONTEXT)
            uow.commit()
    with container.uow() as uow:
        assert changer(container).confirm_code(uow, tenant, account.id, code, CONTEXT) is EmailChangeStatus.WRONG_CODE
        uow.commit()
    assert email_of(container, account) == OLD


def test_a_resend_retires_the_earlier_code(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    first_link, first_code = proof(container)
    with container.uow() as uow:
        changer(container).resend(uow, tenant, account, NEW, CONTEXT)
        uow.commit()
    second_link, second_code = proof(container)
    assert first_link != second_link
    assert len(messages(container, "email_change_requested")) == 1  # the old address is told once
    assert changer(container).pending_link(tenant, first_link) is None
    if first_code != second_code:
        with container.uow() as uow:
            status = changer(container).confirm_code(uow, tenant, account.id, first_code, CONTEXT)
            uow.commit()
        assert status is EmailChangeStatus.WRONG_CODE
    assert changer(container).confirm_link(tenant, second_link, CONTEXT) is EmailChangeStatus.CHANGED


# -- confirmation by link ---------------------------------------------------------------------------


def test_the_link_is_previewed_without_being_used(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    link, _ = proof(container)
    assert changer(container).pending_link(tenant, link) == NEW
    assert changer(container).pending_link(tenant, link) == NEW
    assert changer(container).pending_link(tenant, "unknown-token") is None
    assert changer(container).pending_link(tenant, "") is None
    assert changer(container).pending_link(tenant, "x" * 500) is None


def test_the_link_changes_the_address_once(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    link, code = proof(container)
    assert changer(container).confirm_link(tenant, link, CONTEXT) is EmailChangeStatus.CHANGED
    assert email_of(container, account) == NEW
    assert changer(container).confirm_link(tenant, link, CONTEXT) is EmailChangeStatus.INVALID
    assert changer(container).pending_link(tenant, link) is None
    with container.uow() as uow:  # the code of the same email is spent with the link
        assert changer(container).confirm_code(uow, tenant, account.id, code, CONTEXT) is EmailChangeStatus.WRONG_CODE
        uow.commit()
    assert len(messages(container, "email_changed")) == 1
    assert [e.event.details for e in audit(container, tenant, "account.email_changed")] == [{"via": "link"}]


def test_an_expired_link_does_nothing(container: Container, tenant: Tenant, clock: FrozenClock) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    link, _ = proof(container)
    clock.advance(hours=24, seconds=1)
    assert changer(container).pending_link(tenant, link) is None
    assert changer(container).confirm_link(tenant, link, CONTEXT) is EmailChangeStatus.INVALID
    assert email_of(container, account) == OLD


def test_a_link_of_another_tenant_is_refused_and_stays_good(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    link, _ = proof(container)
    other = container.tenants.get("poste-ch")
    assert changer(container).pending_link(other, link) is None
    assert changer(container).confirm_link(other, link, CONTEXT) is EmailChangeStatus.INVALID
    [failure] = audit(container, other, "email_change.confirm_failed")
    assert failure.event.subject == "account:unknown" and failure.event.details == {"via": "link", "reason": "invalid"}
    assert changer(container).confirm_link(tenant, link, CONTEXT) is EmailChangeStatus.CHANGED


def test_an_address_taken_meanwhile_is_not_applied(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    link, _ = proof(container)
    make_account(container, tenant, NEW.lower())  # someone registered it since the request
    assert changer(container).confirm_link(tenant, link, CONTEXT) is EmailChangeStatus.TAKEN
    assert email_of(container, account) == OLD
    assert messages(container, "email_changed") == []


def test_pending_recovery_and_confirmation_links_die_with_the_old_address(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    with container.uow() as uow:
        recovery = container.tokens.issue(
            uow, account.id, TokenPurpose.RECOVERY, container.clock.now(), timedelta(hours=1)
        )
        uow.commit()
    start(container, tenant, account)
    link, _ = proof(container)
    changer(container).confirm_link(tenant, link, CONTEXT)
    with container.uow() as uow:
        assert (
            container.tokens.redeem_link(uow, recovery.link_token, TokenPurpose.RECOVERY, container.clock.now()) is None
        )


def test_no_secret_reaches_the_audit_log(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    start(container, tenant, account)
    link, code = proof(container)
    changer(container).confirm_link(tenant, link, CONTEXT)
    with container.uow(readonly=True) as uow:
        dumped = json.dumps([(r.event.type, r.event.details) for r in uow.audit.chain(tenant.id)])
    assert link not in dumped and code not in dumped and PASSWORD not in dumped
    assert NEW not in dumped and OLD not in dumped  # addresses are personal data: not copied into the log


def test_mask_email() -> None:
    assert mask_email("marie.dupont@example.fr") == "m***@example.fr"
    assert mask_email("x@y.z") == "x***@y.z"
    assert mask_email("not-an-address") == "***"

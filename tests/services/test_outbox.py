"""Queueing messages in the caller's transaction, and reading the outbox back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.messages import Channel, DeliveryStatus
from sesame.domain.tenants import Tenant
from sesame.messages import build_message
from sesame.services import outbox

ADDRESS = "Mme Zoé Lefèvre\n12 rue des Lilas\n75011 Paris"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


def test_message_is_committed_with_the_change(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    with container.uow() as uow:
        message_id = outbox.queue_email(
            uow, tenant, "welcome", "en", "zoe@example.org", {"login_url": "https://x/laposte"}, now=clock.now()
        )
        uow.commit()
    entry = outbox.get_message(container.uow, message_id)
    assert entry.tenant_slug == "laposte"
    assert entry.message.subject == "Welcome to La Poste"
    assert entry.message.status is DeliveryStatus.PENDING
    assert entry.message.next_attempt_at == clock.now()


def test_rolled_back_change_sends_nothing(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    class Refused(Exception):
        pass

    def use_case() -> None:
        with container.uow() as uow:
            outbox.queue_sms(uow, tenant, "code", "fr", "+33612345678", {"code": "123456"}, now=clock.now())
            uow.tenants.add("other", "Other", tenant.policy, clock.now())
            raise Refused  # the use case fails after queueing: its message must go too

    with pytest.raises(Refused):
        use_case()
    assert outbox.list_messages(container.uow) == []
    assert container.tenants.find("other") is None


def test_explicit_rollback_drops_the_message(container: Container, clock: FrozenClock) -> None:
    with container.uow() as uow:
        outbox.queue_sms(uow, None, "test", "fr", "+33612345678", now=clock.now())
        uow.rollback()
        uow.commit()
    assert outbox.list_messages(container.uow) == []


def test_letter_scheduled_a_day_later(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    tomorrow = clock.now() + timedelta(days=1)
    context = {"subject": "Votre code", "body": "Code : 987654"}
    with container.uow() as uow:
        first = outbox.queue_letter(uow, tenant, "generic", "fr", ADDRESS, context, now=clock.now(), sensitive=True)
        second = outbox.queue_letter(uow, tenant, "generic", "fr", ADDRESS, context, now=clock.now(),
                                     not_before=tomorrow)  # fmt: skip
        uow.commit()
    a, b = outbox.get_message(container.uow, first).message, outbox.get_message(container.uow, second).message
    assert a.next_attempt_at == clock.now() and b.next_attempt_at == tomorrow
    assert a.pdf is not None and a.pdf.startswith(b"%PDF") and a.sensitive
    assert "Code : 987654" in (a.body_text or "")


@pytest.mark.parametrize(
    ("channel", "template", "recipient", "context"),
    [
        (Channel.EMAIL, "test", "not-an-address", {}),
        (Channel.EMAIL, "test", "a@b.fr, c@d.fr", {}),
        (Channel.SMS, "test", "0612345678", {}),
        (Channel.LETTER, "generic", "Only a name", {"subject": "s", "body": "b"}),
    ],
)
def test_undeliverable_recipients_are_refused(
    container: Container, clock: FrozenClock, channel: Channel, template: str, recipient: str, context: dict[str, str]
) -> None:
    with container.uow() as uow, pytest.raises(InvalidInput):
        outbox.queue_template(uow, None, channel, template, "fr", recipient, context, now=clock.now())


def test_letter_without_pdf_is_refused(container: Container, clock: FrozenClock) -> None:
    message = build_message(None, Channel.LETTER, "generic", "fr", ADDRESS, {"subject": "s", "body": "b"},
                            now=clock.now())  # fmt: skip
    message.pdf = None
    with container.uow() as uow, pytest.raises(InvalidInput, match="PDF"):
        outbox.queue(uow, message, clock.now())


def test_list_newest_first_and_by_tenant(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    other = container.tenants.create("banque", "La Banque Postale")
    with container.uow() as uow:
        outbox.queue_sms(uow, tenant, "test", "fr", "+33612345678", now=clock.now())
        outbox.queue_sms(uow, other, "test", "en", "+33612345679", now=clock.now())
        outbox.queue_email(uow, None, "test", "fr", "ops@example.org", now=clock.now())
        uow.commit()
    entries = outbox.list_messages(container.uow)
    assert [(e.tenant_slug, e.message.channel) for e in entries] == [
        (None, Channel.EMAIL), ("banque", Channel.SMS), ("laposte", Channel.SMS),
    ]  # fmt: skip
    assert [e.message.recipient for e in outbox.list_messages(container.uow, tenant_slug="banque")] == ["+33612345679"]
    assert len(outbox.list_messages(container.uow, limit=1)) == 1
    with pytest.raises(NotFound):
        outbox.list_messages(container.uow, tenant_slug="nope")
    as_json = entries[1].to_json()
    assert as_json["text"] == "Test message from La Banque Postale: SMS delivery works.\n"
    assert as_json["tenant"] == "banque" and as_json["status"] == "pending" and as_json["has_pdf"] is False


def test_send_test_queues_the_test_message(container: Container, tenant: Tenant) -> None:
    message_id = outbox.send_test(container.uow, container.clock, to="ops@example.org", tenant_slug="laposte")
    message = outbox.get_message(container.uow, message_id).message
    assert (message.channel, message.template, message.subject) == (
        Channel.EMAIL,
        "test",
        "Message de test de La Poste",
    )
    sms_id = outbox.send_test(container.uow, container.clock, to="+41791234567", channel=Channel.SMS, locale="en")
    assert (
        outbox.get_message(container.uow, sms_id).message.body_text == "Test message from Sésame: SMS delivery works.\n"
    )
    with pytest.raises(NotFound):
        outbox.send_test(container.uow, container.clock, to="ops@example.org", tenant_slug="nope")
    with pytest.raises(InvalidInput):
        outbox.send_test(container.uow, container.clock, to="nobody", channel=Channel.EMAIL)
    with pytest.raises(NotFound):
        outbox.get_message(container.uow, 9999)

"""Queue messages in the caller's transaction, and read the outbox back (dev inbox, CLI).

A use case queues its email, SMS, letter or HTTP form (to a partner service) with
``queue*(uow, ...)`` inside its own unit of work: the message is committed with the change that
causes it, or rolled back with it. The worker (``sesame.services.outbox_worker``) delivers it
afterwards, with retries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import structlog

from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.messages import Channel, OutboundMessage, StoredMessage
from sesame.domain.tenants import Tenant
from sesame.messages import build_message
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)

EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
#: The outbox's recipient column holds 500 characters.
HTTP_URL_MAX = 500


def _check_recipient(message: OutboundMessage) -> None:
    """Refuse, at queue time, a message that no worker could ever deliver."""
    if message.channel is Channel.EMAIL and not EMAIL_RE.fullmatch(message.recipient):
        raise InvalidInput("an email goes to one address, name@domain", field="recipient")
    if message.channel is Channel.SMS and not E164_RE.fullmatch(message.recipient):
        raise InvalidInput("an SMS goes to a phone number in E.164 form, +33612345678", field="recipient")
    if message.channel is Channel.LETTER:
        if len(message.recipient.strip().splitlines()) < 2:
            raise InvalidInput("a letter needs a name and a postal address, one line each", field="recipient")
        if not message.pdf:
            raise InvalidInput("a letter is queued with its PDF rendering", field="pdf")
    if message.channel is Channel.HTTP:
        _check_http(message)


def _check_http(message: OutboundMessage) -> None:
    """An HTTP message goes to an http(s) URL, its body is the form as a JSON object of strings."""
    parts = urlsplit(message.recipient)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(message.recipient) > HTTP_URL_MAX:
        raise InvalidInput("an HTTP message goes to one http:// or https:// URL", field="recipient")
    try:
        fields = json.loads(message.body_text)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise InvalidInput("an HTTP message's body is its form fields, a JSON object of strings", field="body_text")


def queue(uow: UnitOfWork, message: OutboundMessage, now: datetime) -> int:
    """Store ``message`` in ``uow``'s transaction; it is delivered once that transaction commits."""
    _check_recipient(message)
    message_id = uow.outbox.add(message, now)
    log.debug("outbox.queued", message_id=message_id, channel=message.channel.value, template=message.template)
    return message_id


def queue_template(
    uow: UnitOfWork,
    tenant: Tenant | None,
    channel: Channel,
    template: str,
    locale: str,
    recipient: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    sensitive: bool = False,
    not_before: datetime | None = None,
) -> int:
    """Render a template in ``locale`` (French when missing) and queue it."""
    message = build_message(
        tenant, channel, template, locale, recipient, context, now=now, sensitive=sensitive, not_before=not_before
    )
    return queue(uow, message, now)


def queue_email(
    uow: UnitOfWork,
    tenant: Tenant | None,
    template: str,
    locale: str,
    to: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    sensitive: bool = False,
) -> int:
    return queue_template(uow, tenant, Channel.EMAIL, template, locale, to, context, now=now, sensitive=sensitive)


def queue_sms(
    uow: UnitOfWork,
    tenant: Tenant | None,
    template: str,
    locale: str,
    to: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    sensitive: bool = False,
) -> int:
    return queue_template(uow, tenant, Channel.SMS, template, locale, to, context, now=now, sensitive=sensitive)


def queue_http_form(
    uow: UnitOfWork,
    tenant: Tenant | None,
    template: str,
    url: str,
    fields: Mapping[str, str],
    *,
    now: datetime,
    subject: str = "",
    sensitive: bool = True,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """Queue a form POST to a partner service (``template`` names its kind, e.g. "backchannel_logout").

    Sensitive by default: such forms carry tokens, scrubbed once delivered outside dev mode.
    """
    message = OutboundMessage(
        tenant_id=tenant.id if tenant else None,
        channel=Channel.HTTP,
        recipient=url,
        template=template,
        locale="",
        subject=subject or f"POST {url}"[:500],
        body_text=json.dumps(dict(fields), ensure_ascii=False),
        sensitive=sensitive,
        metadata=dict(metadata or {}),
    )
    return queue(uow, message, now)


def queue_letter(
    uow: UnitOfWork,
    tenant: Tenant | None,
    template: str,
    locale: str,
    address: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    sensitive: bool = False,
    not_before: datetime | None = None,
) -> int:
    """Queue a postal letter; ``address`` is the name then the address lines, one per line."""
    return queue_template(
        uow,
        tenant,
        Channel.LETTER,
        template,
        locale,
        address,
        context,
        now=now,
        sensitive=sensitive,
        not_before=not_before,
    )


# -- reading the outbox (dev inbox, CLI) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A stored message with its tenant's slug, as the dev inbox and ``outbox list`` show it."""

    message: StoredMessage
    tenant_slug: str | None

    def to_json(self) -> dict[str, Any]:
        m = self.message
        return {
            "id": m.id,
            "tenant": self.tenant_slug,
            "channel": m.channel.value,
            "recipient": m.recipient,
            "template": m.template,
            "locale": m.locale,
            "subject": m.subject,
            "status": m.status.value,
            "attempts": m.attempts,
            "created_at": m.created_at.isoformat(),
            "next_attempt_at": m.next_attempt_at.isoformat(),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "last_error": m.last_error,
            "sensitive": m.sensitive,
            "text": m.body_text,
            "html": m.body_html,
            "has_pdf": m.pdf is not None,
            "metadata": m.metadata,
        }


def list_messages(
    uow_factory: UnitOfWorkFactory, *, limit: int = 100, tenant_slug: str | None = None
) -> Sequence[InboxEntry]:
    """The newest messages first, of one tenant or of all."""
    with uow_factory(readonly=True) as uow:
        slugs = {tenant.id: tenant.slug for tenant in uow.tenants.list()}
        tenant_id = None
        if tenant_slug is not None:
            tenant = uow.tenants.get_by_slug(tenant_slug)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_slug}")
            tenant_id = tenant.id
        messages = uow.outbox.list(limit=limit, tenant_id=tenant_id)
    return [InboxEntry(m, slugs.get(m.tenant_id) if m.tenant_id is not None else None) for m in messages]


def get_message(uow_factory: UnitOfWorkFactory, message_id: int) -> InboxEntry:
    with uow_factory(readonly=True) as uow:
        message = uow.outbox.get(message_id)
        if message is None:
            raise NotFound(f"no outbox message {message_id}")
        tenant = uow.tenants.get(message.tenant_id) if message.tenant_id is not None else None
    return InboxEntry(message, tenant.slug if tenant else None)


def send_test(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    to: str,
    channel: Channel = Channel.EMAIL,
    tenant_slug: str | None = None,
    locale: str = "fr",
) -> int:
    """Queue the "test" message (email or SMS), for operators checking their SMTP or SMS setup."""
    if channel not in (Channel.EMAIL, Channel.SMS):
        raise InvalidInput("test messages are emails or SMS", field="channel")
    now = clock.now()
    with uow_factory() as uow:
        tenant = None
        if tenant_slug is not None:
            tenant = uow.tenants.get_by_slug(tenant_slug)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_slug}")
        message_id = queue_template(uow, tenant, channel, "test", locale, to.strip(), now=now)
        uow.commit()
    return message_id

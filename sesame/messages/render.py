"""Render message templates (Jinja2) and build outbox messages from them.

Text templates are not escaped; HTML ones are autoescaped, so a name typed by a user can
never inject markup into an email. Undefined variables are errors: a template bug shows up
when the message is queued, in the request's transaction, not as a blank code in a letter.
Letters are also rendered to PDF here, so the outbox row holds what will be printed.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from sesame.adapters.letters_pdf import LetterContent, render_letter_pdf
from sesame.domain.messages import Channel, OutboundMessage
from sesame.domain.tenants import Tenant

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "fr"
SERVER_NAME = "Sésame"

# Words printed around a letter's text, per language (the text itself is a template).
_LETTER_LABELS: dict[str, dict[str, str]] = {
    "fr": {"subject": "Objet", "reference": "Réf.", "date": "Le {date}"},
    "en": {"subject": "Subject", "reference": "Ref.", "date": "{date}"},
}


class TemplateMissing(LookupError):
    """No template of that name for that channel, in the asked language nor in French."""


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    locale: str  # the language actually used (French when the asked one has no template)
    subject: str
    text: str
    html: str | None


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def normalize_locale(locale: str) -> str:
    """``en-GB``, ``en_GB`` and ``EN`` all mean ``en``: templates exist per language only."""
    return locale.replace("_", "-").split("-")[0].strip().lower() or DEFAULT_LOCALE


def _render_optional(path: str, context: Mapping[str, Any]) -> str | None:
    try:
        template = _environment().get_template(path)
    except TemplateNotFound:
        return None
    return template.render(context)


def render_message(channel: Channel, name: str, locale: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render one message; falls back to French when ``locale`` has no such template."""
    for candidate in dict.fromkeys((normalize_locale(locale), DEFAULT_LOCALE)):
        base = f"{candidate}/{channel.value}/{name}"
        full = {**context, "locale": candidate}
        text = _render_optional(f"{base}.txt", full)
        if text is None:
            continue
        subject = _render_optional(f"{base}.subject.txt", full) or ""
        return RenderedMessage(
            locale=candidate,
            # A subject is one line: a newline in a mail header would be a header injection.
            subject=" ".join(subject.split()),
            text=text.strip() + "\n",
            html=_render_optional(f"{base}.html", full),
        )
    raise TemplateMissing(f"no {channel.value} template '{name}' in '{locale}' nor in '{DEFAULT_LOCALE}'")


def _tenant_context(tenant: Tenant | None) -> dict[str, Any]:
    if tenant is None:
        return {"tenant": None, "tenant_name": SERVER_NAME, "brand_color": "#1f3a93"}
    return {"tenant": tenant, "tenant_name": tenant.name, "brand_color": tenant.policy.branding.primary_color}


def _letter_pdf(
    rendered: RenderedMessage, recipient: str, sender: Sequence[str], reference: str, dated: datetime
) -> bytes:
    labels = _LETTER_LABELS.get(rendered.locale, _LETTER_LABELS[DEFAULT_LOCALE])
    content = LetterContent(
        sender=sender,
        recipient=recipient,
        date_line=labels["date"].format(date=format_date(dated.date(), format="long", locale=rendered.locale)),
        subject=rendered.subject,
        body=rendered.text,
        reference=reference,
        subject_label=labels["subject"],
        reference_label=labels["reference"],
    )
    return render_letter_pdf(content, created_at=dated)


def build_message(
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
    metadata: Mapping[str, Any] | None = None,
) -> OutboundMessage:
    """A message ready for the outbox, rendered in ``locale`` (or French).

    For letters, ``recipient`` is the address block (name, then one line per address line)
    and the context may give ``sender_lines`` (default: the tenant's name) and ``reference``.
    """
    full_context = {**_tenant_context(tenant), "recipient": recipient, **(context or {})}
    rendered = render_message(channel, template, locale, full_context)
    meta = dict(metadata or {})
    pdf = None
    if channel is Channel.LETTER:
        meta.setdefault("reference", str(full_context.get("reference") or secrets.token_hex(5).upper()))
        sender = full_context.get("sender_lines") or [full_context["tenant_name"]]
        pdf = _letter_pdf(rendered, recipient, list(sender), meta["reference"], not_before or now)
    return OutboundMessage(
        tenant_id=tenant.id if tenant else None,
        channel=channel,
        recipient=recipient.strip(),
        template=template,
        locale=rendered.locale,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        pdf=pdf,
        not_before=not_before,
        sensitive=sensitive,
        metadata=meta,
    )

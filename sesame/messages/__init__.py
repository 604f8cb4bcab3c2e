"""Messages to people, rendered from templates in the recipient's language.

``build_message`` turns (tenant, channel, template, locale, recipient, context) into an
:class:`~sesame.domain.messages.OutboundMessage` ready for the outbox; templates live in
``templates/{locale}/{channel}/{name}.{subject.txt,txt,html}``, French when a locale lacks one.
"""

from sesame.messages.render import (
    DEFAULT_LOCALE,
    RenderedMessage,
    TemplateMissing,
    build_message,
    normalize_locale,
    render_message,
)

__all__ = [
    "DEFAULT_LOCALE",
    "RenderedMessage",
    "TemplateMissing",
    "build_message",
    "normalize_locale",
    "render_message",
]

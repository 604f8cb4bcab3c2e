"""Email over SMTP (aiosmtplib): the production Mailer.

``SESAME_SMTP_URL`` is ``smtp://[user:password@]host[:port][?starttls=1&timeout=30]`` or
``smtps://...`` (implicit TLS, port 465). Without ``starttls``, STARTTLS is used when the
server offers it; ``starttls=1`` requires it, ``starttls=0`` never uses it.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from sesame.domain.messages import EmailMessage

DEFAULT_TIMEOUT_SECONDS = 30.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """A parsed SMTP URL; the password never appears in its repr."""

    hostname: str
    port: int
    use_tls: bool
    start_tls: bool | None  # None: when offered
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __repr__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"SmtpSettings({'smtps' if self.use_tls else 'smtp'}://{user}{self.hostname}:{self.port})"


def _flag(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"SMTP URL: {name} must be 1 or 0, not {value!r}")


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read an ``smtp://`` or ``smtps://`` URL; raises ValueError with a message for operators."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host name")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    use_tls = parts.scheme == "smtps"
    start_tls = _flag(query.get("starttls"), "starttls")
    if use_tls and start_tls:
        raise ValueError("SMTP URL: smtps:// already uses TLS, starttls=1 makes no sense with it")
    timeout = float(query.get("timeout", DEFAULT_TIMEOUT_SECONDS))
    return SmtpSettings(
        hostname=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
    )


def _domain_of(sender: str) -> str:
    _name, address = email.utils.parseaddr(sender)
    return address.rpartition("@")[2] or "sesame.localhost"


def build_mime(message: EmailMessage, sender: str) -> MimeMessage:
    """An RFC 5322 message: text part, HTML alternative when there is one, Date and Message-ID."""
    mime = MimeMessage(policy=email.policy.SMTP)
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    for header, value in message.headers.items():
        mime[header] = value
    if "Message-ID" not in mime:
        mime["Message-ID"] = email.utils.make_msgid(domain=_domain_of(sender))
    # Quoted-printable: safe through any relay, even one without 8BITMIME.
    mime.set_content(message.text, cte="quoted-printable")
    if message.html:
        mime.add_alternative(message.html, subtype="html", cte="quoted-printable")
    return mime


class SmtpMailer:
    """Hands each email to an SMTP server; any failure raises, and the outbox worker retries."""

    def __init__(self, url: str, sender: str) -> None:
        self._settings = parse_smtp_url(url)
        self._sender = sender

    def __repr__(self) -> str:
        return f"SmtpMailer({self._settings!r})"

    async def send_email(self, message: EmailMessage) -> None:
        smtp = self._settings
        await aiosmtplib.send(
            build_mime(message, self._sender),
            hostname=smtp.hostname,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.use_tls,
            start_tls=smtp.start_tls,
            timeout=smtp.timeout,
        )

"""The SMTP mailer against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage as MimeMessage
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sesame.adapters.smtp import SmtpMailer, build_mime, parse_smtp_url
from sesame.domain.messages import EmailMessage

SENDER = "Sésame <no-reply@sesame.example>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Collector:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def parsed(self, index: int = 0) -> MimeMessage:
        message = email.message_from_bytes(self.envelopes[index].content, policy=email.policy.default)
        assert isinstance(message, MimeMessage)
        return message


@pytest.fixture
def smtp_server() -> Iterator[tuple[Collector, int]]:
    collector, port = Collector(), free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    yield collector, port
    controller.stop()


# -- the URL ------------------------------------------------------------------------------------


def test_parse_plain_url_defaults() -> None:
    parsed = parse_smtp_url("smtp://mail.example")
    assert (parsed.hostname, parsed.port, parsed.use_tls, parsed.start_tls) == ("mail.example", 25, False, None)
    assert parsed.username is None and parsed.password is None


def test_parse_credentials_starttls_and_timeout() -> None:
    parsed = parse_smtp_url("smtp://me%40corp:p%40ss%2Fw@mail.example:587?starttls=1&timeout=5")
    assert (parsed.username, parsed.password) == ("me@corp", "p@ss/w")
    assert (parsed.port, parsed.start_tls, parsed.timeout) == (587, True, 5.0)
    assert "p@ss" not in repr(parsed) and "p@ss" not in repr(SmtpMailer("smtp://u:p%40ss@h", SENDER))


def test_parse_smtps_uses_implicit_tls_on_465() -> None:
    parsed = parse_smtp_url("smtps://mail.example")
    assert (parsed.port, parsed.use_tls, parsed.start_tls) == (465, True, False)


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://h?starttls=maybe", "smtps://h?starttls=1"])
def test_parse_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        parse_smtp_url(url)


# -- the message --------------------------------------------------------------------------------


def test_build_mime_has_headers_and_alternative() -> None:
    mime = build_mime(EmailMessage("a@example.org", "Sujet", "texte", "<p>html</p>"), SENDER)
    assert mime["Message-ID"].endswith("@sesame.example>")
    assert mime["Date"]
    assert mime.get_content_type() == "multipart/alternative"
    given = build_mime(EmailMessage("a@example.org", "S", "t", headers={"Message-ID": "<fixed@x>"}), SENDER)
    assert given["Message-ID"] == "<fixed@x>" and given.get_content_type() == "text/plain"


# -- against the server -------------------------------------------------------------------------


async def test_delivers_text_and_html(smtp_server: tuple[Collector, int]) -> None:
    collector, port = smtp_server
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER)
    message = EmailMessage(
        to="zoe@example.org",
        subject="Votre code – Sésame",
        text="Votre code : 123456\nÀ bientôt.\n",
        html="<p>Votre code : <b>123456</b></p>",
        headers={"X-Sesame-Outbox-Id": "42"},
    )
    await mailer.send_email(message)
    assert len(collector.envelopes) == 1
    envelope = collector.envelopes[0]
    assert envelope.mail_from == "no-reply@sesame.example"
    assert envelope.rcpt_tos == ["zoe@example.org"]
    received = collector.parsed()
    assert received["Subject"] == "Votre code – Sésame"
    assert received["From"] == SENDER
    assert received["X-Sesame-Outbox-Id"] == "42"
    assert received["Message-ID"] and received["Date"]
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == "Votre code : 123456\nÀ bientôt.\n"
    assert "<b>123456</b>" in html.get_content()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_authenticates_with_the_url_credentials() -> None:
    seen: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cr/t", handled=False)

    collector, port = Collector(), free_port()
    controller = Controller(
        collector, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        await SmtpMailer(f"smtp://ops%40corp:s3cr%2Ft@127.0.0.1:{port}", SENDER).send_email(
            EmailMessage("a@example.org", "S", "t")
        )
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await SmtpMailer(f"smtp://ops%40corp:wrong@127.0.0.1:{port}", SENDER).send_email(
                EmailMessage("a@example.org", "S", "t")
            )
    finally:
        controller.stop()
    assert seen[0] == ("ops@corp", "s3cr/t")
    assert len(collector.envelopes) == 1


async def test_raises_when_nothing_listens() -> None:
    with socket.socket() as closed:  # bound, never listening: refused, and no other test can take the port
        closed.bind(("127.0.0.1", 0))
        mailer = SmtpMailer(f"smtp://127.0.0.1:{closed.getsockname()[1]}?timeout=5", SENDER)
        with pytest.raises(aiosmtplib.SMTPConnectError):
            await mailer.send_email(EmailMessage("a@example.org", "S", "t"))

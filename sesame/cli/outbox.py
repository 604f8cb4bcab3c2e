"""``sesame outbox``: the dev inbox of emails, SMS and letters, and the delivery worker.

``list`` shows what was queued (with the text, so a developer can read a code), ``deliver``
runs one delivery pass, ``work`` runs the worker until Ctrl-C, ``send-test`` queues a test
message so an operator can check the SMTP or SMS setup end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from enum import StrEnum

import typer

from sesame.bootstrap import Container
from sesame.cli import common
from sesame.cli.common import JsonOption, domain_errors, print_json
from sesame.domain.messages import Channel
from sesame.logging import configure_logging
from sesame.services import outbox
from sesame.services.outbox_worker import deliver_due, run_forever, worker_name

app = typer.Typer(
    help="The outbox: every email, SMS and letter queued for delivery (the dev inbox), and its worker.",
    no_args_is_help=True,
)


@contextlib.contextmanager
def container() -> Iterator[Container]:
    """The container, with log lines on standard error: standard output is for data (--json)."""
    with common.container() as built:
        configure_logging(built.settings)
        yield built


class SendTestChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


def _one_line(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _print_entry(entry: outbox.InboxEntry) -> None:
    m = entry.message
    what = m.subject or (m.body_text or "")
    to = m.recipient.splitlines()[0] if m.recipient else ""
    typer.echo(
        f"{m.id:>6}  {m.created_at:%Y-%m-%d %H:%M}  {m.channel.value:6}  {m.status.value:7}  {m.attempts:>2}  "
        f"{_one_line(to, 32):32}  {_one_line(what, 60)}"
    )


@app.command("list")
def list_messages(
    json_output: bool = JsonOption,
    limit: int = typer.Option(50, "--limit", min=1, help="How many messages, newest first."),
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's messages (its slug)."),
) -> None:
    """List queued and delivered messages, newest first (--json includes texts, letters too)."""
    with container() as built, domain_errors():
        entries = outbox.list_messages(built.uow, limit=limit, tenant_slug=tenant)
    if json_output:
        print_json([entry.to_json() for entry in entries])
        return
    if not entries:
        typer.echo("The outbox is empty.")
        return
    typer.echo(f"{'id':>6}  {'created (UTC)':16}  {'chan.':6}  {'status':7}  {'n':>2}  {'to':32}  subject / text")
    for entry in entries:
        _print_entry(entry)


@app.command()
def deliver(
    json_output: bool = JsonOption,
    limit: int = typer.Option(50, "--limit", min=1, help="Most messages to deliver in this pass."),
) -> None:
    """Deliver the messages that are due, once (the server's worker does this continuously)."""
    with container() as built:
        report = asyncio.run(deliver_due(built, owner=worker_name(), limit=limit))
    if json_output:
        print_json(report.to_dict())
        return
    typer.echo(str(report))


@app.command()
def work() -> None:
    """Run the delivery worker until Ctrl-C (when the server runs with SESAME_OUTBOX_WORKER=0)."""
    with container() as built:
        typer.echo(f"Delivering every {built.settings.outbox_poll_seconds:g} s; Ctrl-C stops.")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_forever(built))
    typer.echo("Stopped.")


@app.command("send-test")
def send_test(
    to: str = typer.Option(..., "--to", help="Email address, or phone number in E.164 form for --channel sms."),
    channel: SendTestChannel = typer.Option(SendTestChannel.EMAIL, "--channel", help="Which channel to test."),
    tenant: str | None = typer.Option(None, "--tenant", help="Send in this tenant's name (its slug)."),
    locale: str = typer.Option("fr", "--locale", help="Language of the message: fr or en."),
    json_output: bool = JsonOption,
) -> None:
    """Queue a test message; the worker delivers it (or run `sesame outbox deliver`)."""
    with container() as built, domain_errors():
        message_id = outbox.send_test(
            built.uow, built.clock, to=to, channel=Channel(channel.value), tenant_slug=tenant, locale=locale
        )
    if json_output:
        print_json({"id": message_id, "channel": channel.value, "to": to})
        return
    typer.echo(f"Queued test {channel.value} {message_id} to {to}. `sesame outbox list` shows when it is sent.")

"""``sesame letters``: a tenant's registered electronic letters, as the sender sees them.

List and show the letters (never their content: it is sealed, for the recipient's eyes), and
issue or check the signed proofs of sending and of receipt.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from sesame.cli.common import JsonOption, container, domain_errors, fail, print_json
from sesame.domain.accounts import normalize_email
from sesame.domain.registered_letters import LetterStatus, ProofKind, RegisteredLetter
from sesame.services.context import CLI

app = typer.Typer(help="Registered electronic letters: list, show, proofs.", no_args_is_help=True)

TenantOption = typer.Option(..., "--tenant", "-t", help="Tenant slug.")


def letter_data(letter: RegisteredLetter) -> dict[str, Any]:
    return {
        "reference": letter.reference,
        "status": letter.status.value,
        "purpose": letter.purpose,
        "subject": letter.subject,
        "sender": letter.sender_name,
        "recipient_account_id": letter.recipient_account_id,
        "recipient_email": letter.recipient_email,
        "content_sha256": letter.content_sha256,
        "sent_at": letter.sent_at,
        "notified_at": letter.notified_at,
        "opened_at": letter.opened_at,
        "refused_at": letter.refused_at,
    }


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@app.command("list")
def list_letters(
    tenant: str = TenantOption,
    email: str = typer.Option("", "--email", help="Only the letters to this account (its email)."),
    purpose: str = typer.Option("", "--purpose", help="Only the letters of this purpose, e.g. proofing:42."),
    status: str = typer.Option("", "--status", help="sent, opened or refused."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    json_output: bool = JsonOption,
) -> None:
    """The tenant's letters, newest first."""
    try:
        wanted = LetterStatus(status) if status else None
    except ValueError:
        fail(f"unknown status {status!r}: use sent, opened or refused")
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        account_id = None
        if email:
            with built.uow(readonly=True) as uow:
                account = uow.accounts.by_email(found.id, normalize_email(email))
            if account is None:
                fail(f"no account {email} at {tenant}")
            account_id = account.id
        rows = built.registered_letters.list(
            found, account_id=account_id, purpose=purpose or None, status=wanted, limit=limit
        )
    if json_output:
        print_json([letter_data(letter) for letter in rows])
        return
    typer.echo(f"{'reference':20} {'status':8} {'sent':26} {'opened/refused':26} {'recipient':30} purpose")
    for letter in rows:
        typer.echo(
            f"{letter.reference:20} {letter.status.value:8} {_when(letter.sent_at):26} "
            f"{_when(letter.received_at):26} {letter.recipient_email:30} {letter.purpose}"
        )


@app.command()
def show(
    reference: str = typer.Argument(..., help="The letter's reference, e.g. K3M9-Q2PX-W4D7-H8J2."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """One letter: its recipient, subject, hash of its content and times (not the content)."""
    with container() as built, domain_errors():
        letter = built.registered_letters.get(built.tenants.get(tenant), reference)
    data = letter_data(letter)
    if json_output:
        print_json(data)
        return
    for name, value in data.items():
        typer.echo(f"{name + ':':22} {_when(value) if name.endswith('_at') else value if value is not None else '-'}")


@app.command()
def proof(
    reference: str = typer.Argument(..., help="The letter's reference."),
    tenant: str = TenantOption,
    kind: str = typer.Option("sending", "--kind", help="sending, or receipt (once opened or refused)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the proof to this file."),
    json_output: bool = JsonOption,
) -> None:
    """Issue a signed proof (compact JWS, verifiable with the tenant's JWKS)."""
    try:
        proof_kind = ProofKind(kind)
    except ValueError:
        fail(f"unknown proof kind {kind!r}: use sending or receipt")
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        letter = built.registered_letters.get(found, reference)
        token = built.registered_letters.proof(found, letter, proof_kind, context=CLI)
        claims = built.registered_letters.verify(found, token).claims
    if output is not None:
        output.write_text(token + "\n", encoding="ascii")
    if json_output:
        print_json({"reference": letter.reference, "kind": proof_kind.value, "proof": token, "claims": claims})
    elif output is None:
        typer.echo(token)
    else:
        typer.echo(f"Proof of {proof_kind.value} of letter {letter.reference} written to {output}.")


@app.command()
def verify(
    file: str = typer.Argument("-", help="A file holding the proof, or - for standard input."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Check a proof against the tenant's keys and print what it states."""
    token = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="ascii", errors="replace")
    with container() as built, domain_errors():
        verified = built.registered_letters.verify(built.tenants.get(tenant), token)
    if json_output:
        print_json({"valid": True, "kind": verified.kind.value, "claims": verified.claims})
        return
    typer.echo(f"Valid proof of {verified.kind.value} of letter {verified.reference}, signed by {tenant}.")
    for name, value in verified.claims.items():
        typer.echo(f"  {name}: {value}")

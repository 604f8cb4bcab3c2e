"""``sesame banque``: the bank's customers, for its back office and support.

``enrol`` creates a customer (a customer number, a one-time code, two letters: the number now,
the code a day later) and prints the number, never the code; ``new-code`` sends a new one-time
code by post; ``api-key`` manages the admin keys of the JSON API (``POST /api/{tenant}/customers``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import typer

from sesame.bootstrap import Container
from sesame.cli import common
from sesame.cli.common import JsonOption, domain_errors, fail, print_json
from sesame.domain.api_keys import ApiKey
from sesame.domain.errors import InvalidInput
from sesame.logging import configure_logging
from sesame.services.api_keys import ApiKeys
from sesame.services.banque import (
    CUSTOMER_NUMBER_LETTER,
    FIRST_CODE_LETTER,
    BankCustomers,
    EnrolledCustomer,
    NewCustomer,
)
from sesame.services.context import CLI

app = typer.Typer(help="The bank's customers: enrol one, send a new code by post, API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Admin API keys of a tenant (JSON API).", no_args_is_help=True)
app.add_typer(keys_app, name="api-key")

TenantOption = typer.Option("banque", "--tenant", "-t", help="Tenant slug (a customer-number tenant).")


@contextlib.contextmanager
def container() -> Iterator[Container]:
    """The container, with log lines on standard error: standard output is for data (--json)."""
    with common.container() as built:
        configure_logging(built.settings)
        yield built


def customers(built: Container) -> BankCustomers:
    return BankCustomers(
        built.uow,
        built.clock,
        built.counters,
        built.hasher,
        built.keyed,
        built.settings.base_url,
        logouts=built.backchannel_logouts,
    )


def _birth_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--birth-date is a date written YYYY-MM-DD, not {value!r}")


def _enrolled(enrolled: EnrolledCustomer, tenant: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "account_id": enrolled.account.id,
        "customer_number": enrolled.customer_number,
        "given_name": enrolled.account.given_name,
        "family_name": enrolled.account.family_name,
        "letters": [
            {"id": enrolled.letter_ids[0], "template": CUSTOMER_NUMBER_LETTER, "not_before": None},
            {
                "id": enrolled.letter_ids[1],
                "template": FIRST_CODE_LETTER,
                "not_before": enrolled.code_letter_not_before,
            },
        ],
    }


@app.command()
def enrol(
    given_name: str = typer.Option(..., "--given-name", help="First name."),
    family_name: str = typer.Option(..., "--family-name", help="Last name."),
    address: list[str] = typer.Option(
        [], "--address", help="A line of the postal address (repeat it, one per line; the name is added)."
    ),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY-MM-DD, if known (a code may not be it)."),
    locale: str = typer.Option("fr", "--locale", help="Language of the letters."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Enrol a customer: prints the customer number (the code goes by post only, a day later)."""
    new = NewCustomer(
        given_name=given_name,
        family_name=family_name,
        address=address,
        birth_date=_birth_date(birth_date),
        locale=locale,
    )
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        try:
            enrolled = customers(built).enrol(found, new, CLI)
        except InvalidInput as error:
            problems = error.details.get("errors")
            if isinstance(problems, dict) and problems:
                fail("; ".join(f"--{field.replace('_', '-')}: {reason}" for field, reason in problems.items()))
            raise
    data = _enrolled(enrolled, tenant)
    if json_output:
        print_json(data)
        return
    typer.echo(f"customer number  {enrolled.customer_number}")
    typer.echo(f"account id       {enrolled.account.id}")
    typer.echo(
        f"letters queued   #{enrolled.letter_ids[0]} (customer number, now), "
        f"#{enrolled.letter_ids[1]} (one-time code, from {enrolled.code_letter_not_before:%Y-%m-%d %H:%M} UTC)"
    )


@app.command("new-code")
def new_code(
    customer_number: str = typer.Option(..., "--customer-number", "-n", help="The customer's 10-digit number."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Send the customer a new one-time code by post (their current code works until it is used)."""
    with container() as built, domain_errors():
        account = customers(built).send_code_by_post(built.tenants.get(tenant), customer_number, CLI)
    if json_output:
        print_json({"account_id": account.id, "customer_number": account.customer_number, "letter": "queued"})
        return
    typer.echo(f"A new one-time code is on its way by post to customer {account.customer_number}.")


# -- API keys --------------------------------------------------------------------------------------


def _key(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "label": key.label,
        "created_at": key.created_at,
        "created_by": key.created_by,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


@keys_app.command("create")
def create_key(
    label: str = typer.Option(..., "--label", help="What the key is for (e.g. the bank's back office)."),
    tenant: str = TenantOption,
    json_output: bool = JsonOption,
) -> None:
    """Create an admin API key; the key is printed once and cannot be shown again."""
    with container() as built, domain_errors():
        issued = ApiKeys(built.uow, built.clock, built.keyed).create(built.tenants.get(tenant), label, CLI)
    if json_output:
        print_json({**_key(issued.key), "api_key": issued.secret})
        return
    typer.echo(issued.secret)
    typer.echo(f"(key {issued.key.key_id}: keep it now, it is not stored and cannot be shown again)", err=True)


@keys_app.command("list")
def list_keys(tenant: str = TenantOption, json_output: bool = JsonOption) -> None:
    """The tenant's admin API keys (never the keys themselves)."""
    with container() as built, domain_errors():
        keys = ApiKeys(built.uow, built.clock, built.keyed).list(built.tenants.get(tenant))
    if json_output:
        print_json([_key(key) for key in keys])
        return
    for key in keys:
        state = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active"
        typer.echo(f"{key.key_id}  {state:24}  last used {_when(key.last_used_at):16}  {key.label}")


@keys_app.command("revoke")
def revoke_key(
    key_id: str = typer.Argument(..., help="The key's id (the 12 hex digits after sk_)."),
    tenant: str = TenantOption,
) -> None:
    """Revoke an admin API key at once."""
    with container() as built, domain_errors():
        ApiKeys(built.uow, built.clock, built.keyed).revoke(built.tenants.get(tenant), key_id, CLI)
    typer.echo(f"API key {key_id} revoked.")

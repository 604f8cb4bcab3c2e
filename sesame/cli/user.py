"""``sesame user``: accounts, for support and tests (create, show, lock, unlock, flag a password change)."""

from __future__ import annotations

from typing import Any

import typer

from sesame.cli.banque import customers as bank_customers
from sesame.cli.common import JsonOption, container, domain_errors, fail, print_json
from sesame.domain.accounts import Account
from sesame.domain.errors import PolicyViolation
from sesame.services.accounts import NewAccount
from sesame.services.context import CLI

app = typer.Typer(
    help="Accounts: create one, look one up, lock or unlock it, force a password change.", no_args_is_help=True
)

TenantOption = typer.Option(..., "--tenant", "-t", help="Tenant slug.")
EmailOption = typer.Option(..., "--email", "-e", help="The account's email address.")
#: Accounts of customer-number tenants (the bank) have no email: they are found by their number.
AnyEmailOption = typer.Option(None, "--email", "-e", help="The account's email address.")
NumberOption = typer.Option(
    None, "--customer-number", "-n", help="The customer number, instead of --email (customer-number tenants)."
)


def _one_of(email: str | None, customer_number: str | None) -> None:
    if (email is None) == (customer_number is None):
        fail("give the account's --email or its --customer-number (one of them)")


def _data(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "customer_number": account.customer_number,
        "email_verified": account.email_verified,
        "given_name": account.given_name,
        "family_name": account.family_name,
        "status": account.status.value,
        "status_reason": account.status_reason,
        "password_change_required": account.password_change_required,
        "profile_review_required": account.profile_review_required,
        "terms_version": account.terms_version,
        "marketing_email": account.marketing_email,
        "marketing_partners": account.marketing_partners,
        "locale": account.locale,
        "created_at": account.created_at,
        "last_login_at": account.last_login_at,
    }


def _print(account: Account, json_output: bool) -> None:
    if json_output:
        print_json(_data(account))
        return
    for key, value in _data(account).items():
        typer.echo(f"{key:26} {value if value is not None else '-'}")


@app.command()
def create(
    tenant: str = TenantOption,
    email: str = EmailOption,
    password: str = typer.Option(
        ..., "--password", "-p", prompt=True, hide_input=True, help="Initial password (prompted if omitted)."
    ),
    given_name: str = typer.Option("Demo", "--given-name", help="First name."),
    family_name: str = typer.Option("User", "--family-name", help="Last name."),
    verified: bool = typer.Option(False, "--verified", help="Mark the email address as already confirmed."),
    locale: str = typer.Option("fr", "--locale", help="Language of the messages sent to this person."),
    json_output: bool = JsonOption,
) -> None:
    """Create an account with a password (checked against the tenant's password policy)."""
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        new = NewAccount(email=email, given_name=given_name, family_name=family_name, locale=locale, verified=verified)
        try:
            account = built.accounts.create(found, new, password, CLI)
        except PolicyViolation as error:
            rules = ", ".join(str(r) for r in error.details.get("rules", []))  # type: ignore[union-attr]
            fail(f"the password does not meet {tenant}'s policy (failed rules: {rules})")
    _print(account, json_output)


@app.command()
def show(
    tenant: str = TenantOption,
    email: str | None = AnyEmailOption,
    customer_number: str | None = NumberOption,
    json_output: bool = JsonOption,
) -> None:
    """Show an account."""
    _one_of(email, customer_number)
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        account = (
            built.accounts.find(found, email) if email else bank_customers(built).find(found, customer_number or "")
        )
    _print(account, json_output)


@app.command()
def lock(
    tenant: str = TenantOption,
    email: str | None = AnyEmailOption,
    customer_number: str | None = NumberOption,
    reason: str = typer.Option("support", "--reason", help="Why (kept in the audit log)."),
    json_output: bool = JsonOption,
) -> None:
    """Lock the access: no login, every session ended."""
    _one_of(email, customer_number)
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        if email:
            account = built.accounts.lock(found, email, reason, CLI)
        else:
            account = bank_customers(built).lock(found, customer_number or "", reason, CLI)
    _print(account, json_output)


@app.command()
def unlock(
    tenant: str = TenantOption,
    email: str | None = AnyEmailOption,
    customer_number: str | None = NumberOption,
    json_output: bool = JsonOption,
) -> None:
    """Reopen the access and clear failed-login suspensions (and the lockout cap's lock)."""
    _one_of(email, customer_number)
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        if email:
            account = built.accounts.unlock(found, email, CLI)
        else:
            account = bank_customers(built).unlock(found, customer_number or "", CLI)
    _print(account, json_output)


@app.command("flag-password-change")
def flag_password_change(
    tenant: str = TenantOption,
    email: str = EmailOption,
    reason: str = typer.Option("support", "--reason", help="Why (kept in the audit log), e.g. fraud."),
    json_output: bool = JsonOption,
) -> None:
    """Force a new password at the next login (sessions are ended now), then a review of personal data."""
    with container() as built, domain_errors():
        account = built.accounts.flag_password_change(built.tenants.get(tenant), email, reason, CLI)
    _print(account, json_output)

"""``sesame tenant``: list, show and create tenants (companies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from sesame.cli.common import JsonOption, container, domain_errors, fail, print_json
from sesame.domain.tenants import Tenant, TenantPolicy

app = typer.Typer(help="Tenants: the companies hosted by this server, with their policies.", no_args_is_help=True)


def _summary(tenant: Tenant) -> dict[str, Any]:
    policy = tenant.policy
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "identifier": policy.identifier.value,
        "credentials": [c.value for c in policy.credentials],
        "languages": list(policy.languages.available),
        "created_at": tenant.created_at,
    }


@app.command("list")
def list_tenants(json_output: bool = JsonOption) -> None:
    """List every tenant."""
    with container() as built:
        tenants = built.tenants.list()
    if json_output:
        print_json([_summary(t) for t in tenants])
        return
    if not tenants:
        typer.echo("No tenant yet: `sesame demo load` creates the demo ones, `sesame tenant create` yours.")
    for tenant in tenants:
        creds = ", ".join(c.value for c in tenant.policy.credentials)
        typer.echo(f"{tenant.slug:12} {tenant.name:28} {tenant.policy.identifier.value:16} {creds}")


@app.command()
def show(slug: str, json_output: bool = JsonOption) -> None:
    """Show one tenant with its whole policy."""
    with container() as built, domain_errors():
        tenant = built.tenants.get(slug)
    data = {**_summary(tenant), "policy": tenant.policy.model_dump(mode="json")}
    if json_output:
        print_json(data)
        return
    typer.echo(f"{tenant.slug} — {tenant.name}")
    typer.echo(json.dumps(data["policy"], indent=2, ensure_ascii=False))


@app.command()
def create(
    slug: str = typer.Argument(..., help="URL name: lower-case letters, digits, dashes."),
    name: str = typer.Option(..., "--name", help="Display name of the company."),
    policy_file: Path | None = typer.Option(
        None,
        "--policy",
        help="JSON file with the policy (missing parts take the defaults).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create a tenant; its policy is the default (NIST password rules) unless --policy is given."""
    policy = TenantPolicy()
    if policy_file is not None:
        try:
            policy = TenantPolicy.model_validate_json(policy_file.read_text(encoding="utf-8"))
        except ValueError as error:
            fail(f"the policy file is not valid: {error}")
    with container() as built, domain_errors():
        tenant = built.tenants.create(slug, name, policy, actor="cli")
        base_url = built.settings.base_url
    if json_output:
        print_json({**_summary(tenant), "url": f"{base_url}/{tenant.slug}"})
        return
    typer.echo(f"Created tenant {tenant.slug}: {base_url}/{tenant.slug}")

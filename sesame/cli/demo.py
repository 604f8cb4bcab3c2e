"""``sesame demo``: the demo tenants (and, as features land, demo accounts)."""

from __future__ import annotations

import typer

from sesame.cli.common import JsonOption, container, domain_errors, print_json
from sesame.services.demo import load_demo, load_demo_accounts

app = typer.Typer(help="Demo data for trying Sésame at once.", no_args_is_help=True)


@app.command()
def load(json_output: bool = JsonOption) -> None:
    """Create the demo tenants laposte, banque and poste-ch, and a ready account in each (idempotent)."""
    with container() as built, domain_errors():
        outcome = load_demo(built.tenants)
        logins = {
            slug: (email, password) for slug, email, password in load_demo_accounts(built.tenants, built.accounts)
        }
        base_url = built.settings.base_url
    if json_output:
        print_json(
            [
                {
                    "tenant": slug,
                    "result": result,
                    "url": f"{base_url}/{slug}",
                    "login": {"identifier": logins[slug][0], "password": logins[slug][1]} if slug in logins else None,
                }
                for slug, result in outcome
            ]
        )
        return
    for slug, result in outcome:
        login = f"  login: {logins[slug][0]} / {logins[slug][1]}" if slug in logins else ""
        typer.echo(f"{slug:10} {result:8} {base_url}/{slug}{login}")

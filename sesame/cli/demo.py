"""``sesame demo``: the demo tenants (and, as features land, demo accounts)."""

from __future__ import annotations

import typer

from sesame.backoffice.services import Backoffice
from sesame.cli.common import JsonOption, container, domain_errors, print_json
from sesame.services.banque import BankCustomers
from sesame.services.demo import load_demo, load_demo_accounts, load_demo_agent, load_demo_customer
from sesame.services.demo_partner import DEMO_PARTNER_TENANT, DemoPartner, ensure_demo_partner

app = typer.Typer(help="Demo data for trying Sésame at once.", no_args_is_help=True)


@app.command()
def load(json_output: bool = JsonOption) -> None:
    """Create the demo tenants laposte, banque and poste-ch, and a ready account in each (idempotent)."""
    with container() as built, domain_errors():
        outcome = load_demo(built.tenants)
        for slug, _ in outcome:  # each demo issuer gets its signing key now, not on its first request
            built.signing_keys.ensure_key(built.tenants.get(slug))
        logins = {
            slug: (email, password) for slug, email, password in load_demo_accounts(built.tenants, built.accounts)
        }
        customer_number = load_demo_customer(
            built.tenants,
            lambda draw: BankCustomers(
                built.uow,
                built.clock,
                built.counters,
                built.hasher,
                built.keyed,
                built.settings.base_url,
                draw_number=draw,
            ),
        )
        agent_email, agent_password = load_demo_agent(Backoffice(built).directory)
        base_url = built.settings.base_url
        partner = ensure_demo_partner(
            built.oidc_clients, built.tenants, var_dir=built.settings.var_dir, base_url=base_url
        )
    if json_output:
        print_json(
            [
                {
                    "tenant": slug,
                    "result": result,
                    "url": f"{base_url}/{slug}",
                    "login": _login_json(slug, logins, customer_number),
                    **({"demo_partner": _partner_json(partner)} if slug == DEMO_PARTNER_TENANT else {}),
                    **(
                        {
                            "backoffice": {
                                "url": f"{base_url}/backoffice",
                                "login": {"identifier": agent_email, "password": agent_password},
                            }
                        }
                        if slug == "laposte"
                        else {}
                    ),
                }
                for slug, result in outcome
            ]
        )
        return
    for slug, result in outcome:
        login = f"  login: {logins[slug][0]} / {logins[slug][1]}" if slug in logins else ""
        if slug == "banque":
            login = f"  customer number: {customer_number} (first code: second letter in the dev inbox)"
        typer.echo(f"{slug:10} {result:8} {base_url}/{slug}{login}")
    typer.echo(f"back office {base_url}/backoffice  agent: {agent_email} / {agent_password} (every role, laposte)")
    typer.echo(
        f"demo partner ({DEMO_PARTNER_TENANT}) {partner.result}: {partner.url}, client {partner.client_id}, "
        f"credentials in {partner.client_file}"
    )


def _login_json(slug: str, logins: dict[str, tuple[str, str]], customer_number: str) -> dict[str, str] | None:
    if slug == "banque":
        return {"customer_number": customer_number, "first_code": "second letter in the dev inbox"}
    if slug in logins:
        return {"identifier": logins[slug][0], "password": logins[slug][1]}
    return None


def _partner_json(partner: DemoPartner) -> dict[str, str]:
    return {
        "result": partner.result,
        "url": partner.url,
        "client_id": partner.client_id,
        "client_file": str(partner.client_file),
    }

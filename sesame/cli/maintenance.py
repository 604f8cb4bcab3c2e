"""``sesame maintenance``: housekeeping run by an operator or a timer (``purge``: retention)."""

from __future__ import annotations

import typer

from sesame.cli.common import JsonOption, container, domain_errors, print_json
from sesame.services.retention import PurgeReport

app = typer.Typer(help="Housekeeping: apply the retention policies.", no_args_is_help=True)

_LABELS = {
    "documents": "document images and videos",
    "abandoned_cases": "unfinished enrolments abandoned",
    "deleted_cases": "closed cases past evidence retention",
    "deleted_identities": "ended identities past evidence retention",
    "deleted_accounts": "accounts closed past retention",
    "expired_flows": "expired flows",
    "expired_approvals": "expired app approval requests",
    "expired_activations": "expired app activations",
    "agent_sessions": "old back-office sessions",
}


def _print(report: PurgeReport) -> None:
    verb = "Would remove" if report.dry_run else "Removed"
    typer.echo(f"{verb} (at {report.at.isoformat()}):")
    for tenant in report.tenants:
        counts = ", ".join(f"{count} {_LABELS[kind]}" for kind, count in tenant.counts().items() if count)
        typer.echo(f"  {tenant.tenant}: {counts or 'nothing'}")
    counts = ", ".join(f"{count} {_LABELS[kind]}" for kind, count in report.server_counts().items() if count)
    typer.echo(f"  server: {counts or 'nothing'}")
    totals = report.totals()
    typer.echo("Totals: " + ", ".join(f"{kind}={count}" for kind, count in totals.items()))


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be removed; remove nothing."),
    json_output: bool = JsonOption,
) -> None:
    """Apply every tenant's retention policy and say what was removed (per kind and per tenant)."""
    with container() as built, domain_errors():
        report = built.retention.purge(dry_run=dry_run)
    if json_output:
        print_json(report.to_json())
    else:
        _print(report)

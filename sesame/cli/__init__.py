"""The ``sesame`` command line: one module per noun."""

from __future__ import annotations

import typer

from sesame.cli import agent as agent_cli
from sesame.cli import audit, banque, client, config, db, demo, i18n, keys, outbox, serve, tenant, user
from sesame.cli import letters as letters_cli
from sesame.cli import maintenance as maintenance_cli

app = typer.Typer(
    name="sesame",
    help="Sésame: customer identity platform. Every command that prints data takes --json.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(tenant.app, name="tenant")
app.add_typer(config.app, name="config")
app.add_typer(outbox.app, name="outbox")
app.add_typer(audit.app, name="audit")
app.add_typer(i18n.app, name="i18n")
app.add_typer(user.app, name="user")
app.add_typer(banque.app, name="banque")
app.add_typer(client.app, name="client")
app.add_typer(keys.app, name="keys")
app.add_typer(letters_cli.app, name="letters")
app.add_typer(agent_cli.app, name="agent")
app.add_typer(maintenance_cli.app, name="maintenance")


def main() -> None:
    app()

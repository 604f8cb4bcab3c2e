"""The ``sesame`` command line: one module per noun."""

from __future__ import annotations

import typer

from sesame.cli import audit, config, db, demo, outbox, serve, tenant

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


def main() -> None:
    app()

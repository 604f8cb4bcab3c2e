"""``sesame db``: database migrations."""

from __future__ import annotations

import typer

from sesame.adapters.sql import migrate
from sesame.cli.common import JsonOption, print_json
from sesame.config import get_settings

app = typer.Typer(help="Database schema: migrate to the latest version, show the current one.", no_args_is_help=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("heads", help="Target revision (default: the latest)."),
    json_output: bool = JsonOption,
) -> None:
    """Apply the migrations up to REVISION (idempotent: an up-to-date database is left as it is)."""
    url = get_settings().resolved_database_url()
    before = migrate.current_revision(url)
    migrate.upgrade(url, revision)
    after = migrate.current_revision(url)
    if json_output:
        print_json({"before": before, "after": after, "changed": before != after})
        return
    typer.echo(f"Database at revision {after}" + (f" (was {before or 'empty'})." if before != after else "."))


@app.command()
def current(json_output: bool = JsonOption) -> None:
    """Show the database's revision and the latest one this code knows."""
    url = get_settings().resolved_database_url()
    current_rev, head = migrate.current_revision(url), migrate.head_revision(url)
    if json_output:
        print_json({"current": current_rev, "head": head, "up_to_date": current_rev == head})
        return
    state = "up to date" if current_rev == head else "needs `sesame db upgrade`"
    typer.echo(f"current: {current_rev or '(empty database)'}  head: {head}  ({state})")

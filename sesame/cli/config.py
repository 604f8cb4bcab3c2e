"""``sesame config``: show the effective settings and generate their reference page."""

from __future__ import annotations

from pathlib import Path

import typer

from sesame.cli.common import JsonOption, print_json
from sesame.config import Settings, get_settings, settings_reference

app = typer.Typer(help="Configuration (SESAME_* environment variables).", no_args_is_help=True)

SECRET_FIELDS = {"secret_key"}


def _redacted(settings: Settings) -> dict[str, object]:
    data = settings.model_dump(mode="json")
    for name in SECRET_FIELDS:
        data[name] = "(set)" if data[name] else "(generated into var/)"
    for name in ("database_url", "redis_url", "smtp_url", "sms_url"):
        data[name] = _hide_password(str(data[name]))
    return data


def _hide_password(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


@app.command()
def show(json_output: bool = JsonOption) -> None:
    """Print the effective settings (passwords and the secret key hidden)."""
    data = _redacted(get_settings())
    if json_output:
        print_json(data)
        return
    for key, value in data.items():
        typer.echo(f"SESAME_{key.upper():22} {value}")


@app.command()
def docs(
    output: Path = typer.Option(Path("docs/configuration.md"), "--output", "-o", help="Where to write the page."),
    check: bool = typer.Option(False, "--check", help="Fail if the page is not up to date (for CI)."),
) -> None:
    """Generate docs/configuration.md from sesame/config.py."""
    text = settings_reference()
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            typer.secho(f"{output} is out of date: run `sesame config docs`.", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date.")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {output}.")

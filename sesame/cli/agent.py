"""``sesame agent``: the back office's agents (create, list, disable, enable).

``create`` prints the agent with a generated one-time password (shown once, to be changed at the
first login), or reads the password from standard input with ``--password-stdin``: a password
never goes in the command line (shell history, process list) nor in a log.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from sesame.backoffice.services import Backoffice
from sesame.cli.common import JsonOption, container, domain_errors, fail, print_json
from sesame.domain.agents import Agent, AgentRole
from sesame.domain.errors import PolicyViolation
from sesame.services.context import CLI

app = typer.Typer(help="Back-office agents: create, list, disable, enable.", no_args_is_help=True)

ROLES = ", ".join(role.value for role in AgentRole)
EmailOption = typer.Option(..., "--email", "-e", help="The agent's email address (the login).")


def _data(agent: Agent, tenants: list[str]) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.display_name,
        "roles": sorted(role.value for role in agent.roles),
        "tenants": tenants,
        "active": agent.active,
        "password_change_required": agent.password_change_required,
        "created_at": agent.created_at,
        "last_login_at": agent.last_login_at,
        "disabled_at": agent.disabled_at,
    }


def _print(rows: list[dict[str, Any]], json_output: bool) -> None:
    if json_output:
        print_json(rows)
        return
    for row in rows:
        state = "active" if row["active"] else "disabled"
        typer.echo(f"{row['email']:40} {row['name']:30} {','.join(row['roles']):28} {','.join(row['tenants'])} {state}")


def _print_one(row: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(row)
    else:
        _print([row], json_output=False)


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("--password-stdin: no password on standard input")
    return password


@app.command()
def create(
    tenant: list[str] = typer.Option(..., "--tenant", "-t", help="A tenant slug of the agent's scope (repeatable)."),
    email: str = EmailOption,
    name: str = typer.Option(..., "--name", "-n", help="The name colleagues and the case history see."),
    role: list[str] = typer.Option(..., "--role", "-r", help=f"A role (repeatable): {ROLES}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input instead of generating one."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create an agent. Without --password-stdin, prints a one-time password to change at the first login."""
    password = _read_password() if password_stdin else None
    with container() as built, domain_errors():
        backoffice = Backoffice(built)
        try:
            created = backoffice.directory.create(tenant, email, name, role, CLI, password=password)
        except PolicyViolation as error:
            failed = error.details.get("rules")
            rules = ", ".join(str(rule) for rule in failed) if isinstance(failed, list) else ""
            fail(f"the password does not meet the back office's policy (failed rules: {rules})")
        data = _data(created.agent, backoffice.directory.slugs(created.agent))
    if created.one_time_password is not None:
        data["one_time_password"] = created.one_time_password
    _print_one(data, json_output)
    if not json_output and created.one_time_password is not None:
        typer.echo(f"One-time password (shown once, to change at the first login): {created.one_time_password}")


@app.command("list")
def list_agents(
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="Only the agents of this tenant."),
    json_output: bool = JsonOption,
) -> None:
    """List the agents (of one tenant with --tenant)."""
    with container() as built, domain_errors():
        directory = Backoffice(built).directory
        rows = [_data(agent, directory.slugs(agent)) for agent in directory.list(tenant)]
    _print(rows, json_output)


@app.command()
def disable(email: str = EmailOption, json_output: bool = JsonOption) -> None:
    """Disable an agent: no more logins, its sessions end now."""
    with container() as built, domain_errors():
        directory = Backoffice(built).directory
        agent = directory.disable(email, CLI)
        row = _data(agent, directory.slugs(agent))
    _print_one(row, json_output)


@app.command()
def enable(email: str = EmailOption, json_output: bool = JsonOption) -> None:
    """Enable a disabled agent again (and lift a login lockout)."""
    with container() as built, domain_errors():
        directory = Backoffice(built).directory
        agent = directory.enable(email, CLI, built.counters)
        row = _data(agent, directory.slugs(agent))
    _print_one(row, json_output)

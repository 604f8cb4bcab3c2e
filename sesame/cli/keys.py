"""``sesame keys``: a tenant's token signing keys: list them, rotate them.

A rotated-in key is published at once and signs after the activation delay; the key it
replaces stays published until every token it signed has expired (see sesame/oidc/keys.py).
"""

from __future__ import annotations

from typing import Any

import typer

from sesame.cli.common import JsonOption, container, domain_errors, print_json
from sesame.oidc.keys import ACTIVATION_DELAY, DEFAULT_ALG, KeySet
from sesame.oidc.models import SigningKey

app = typer.Typer(help="Token signing keys of a tenant (ES256 by default, RS256 available).", no_args_is_help=True)

TenantOption = typer.Option(..., "--tenant", "-t", help="Tenant slug.")


def key_data(key: SigningKey, signing_kids: set[str], now_published: bool) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "status": key.status.value,
        "signing": key.kid in signing_kids,
        "published": now_published,
        "created_at": key.created_at,
        "retired_at": key.retired_at,
        "publish_until": key.publish_until,
    }


def _rows(keys: KeySet, now: Any) -> list[dict[str, Any]]:
    signing = {active.kid for alg in {k.alg for k in keys.keys} if (active := keys.signing_key(now, alg))}
    return [key_data(k, signing, KeySet.is_published(k, now)) for k in keys.keys]


@app.command("list")
def list_keys(tenant: str = TenantOption, json_output: bool = JsonOption) -> None:
    """List the tenant's keys, newest first: which one signs, which are published and until when."""
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        built.signing_keys.invalidate(found.id)  # an operator wants the database's view, not a cache's
        rows = _rows(built.signing_keys.keyset(found), built.clock.now())
    if json_output:
        print_json(rows)
        return
    typer.echo(f"{'kid':44} {'alg':6} {'status':8} {'signing':8} {'created':26} {'retired':26} published until")
    for row in rows:
        typer.echo(
            f"{row['kid']:44} {row['alg']:6} {row['status']:8} {'yes' if row['signing'] else '':8} "
            f"{_when(row['created_at']):26} {_when(row['retired_at']):26} {_when(row['publish_until'])}"
        )


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@app.command()
def rotate(
    tenant: str = TenantOption,
    alg: str = typer.Option(DEFAULT_ALG, "--alg", help="ES256 (default) or RS256."),
    json_output: bool = JsonOption,
) -> None:
    """Make a new key for the tenant and retire the current one of the same algorithm."""
    with container() as built, domain_errors():
        found = built.tenants.get(tenant)
        new = built.signing_keys.rotate(found, alg.upper(), actor="cli")
        now = built.clock.now()
        row = next(r for r in _rows(built.signing_keys.keyset(found), now) if r["kid"] == new.kid)
    # A tenant's first key of an algorithm signs at once; a successor after the activation delay.
    signs_from = now if row["signing"] else new.created_at + ACTIVATION_DELAY
    if json_output:
        print_json({**row, "signs_from": signs_from})
        return
    when = "now" if row["signing"] else f"in {int(ACTIVATION_DELAY.total_seconds())} s"
    typer.echo(f"New {new.alg} key {new.kid} for {found.slug}: published now, signing {when}.")

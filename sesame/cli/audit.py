"""``sesame audit``: verify the audit log's hash chains, list its latest events.

``verify`` exits 1 when a chain is broken, naming the tenant, the first bad seq and why, so a
cron job or a monitoring probe can alert on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import typer

from sesame.cli.common import JsonOption, container, domain_errors, fail, print_json
from sesame.domain.audit import AuditRecord, VerificationResult, utc_text
from sesame.services.audit import AuditService

app = typer.Typer(help="The audit log: verify its hash chains, list its events.", no_args_is_help=True)

TenantOption = typer.Option(None, "--tenant", help="Only this tenant (its slug). Default: every chain.")


def _result_json(result: VerificationResult) -> dict[str, Any]:
    return {
        "chain": result.chain_name,
        "tenant": result.tenant_slug,
        "tenant_id": result.tenant_id,
        "intact": result.intact,
        "records": result.records,
        "last_seq": result.last_seq,
        "last_hash": result.last_hash,
        "broken_at": result.broken_at,
        "reason": result.reason,
        "detail": result.detail,
    }


def _result_line(result: VerificationResult) -> str:
    if result.intact:
        return f"ok      {result.chain_name}: {result.records} records, last seq {result.last_seq}"
    return f"BROKEN  {result.chain_name}: seq {result.broken_at}: {result.reason} ({result.detail})"


@app.command()
def verify(tenant: str | None = TenantOption, json_output: bool = JsonOption) -> None:
    """Recompute every hash chain; exit 1 if a record was changed, removed, reordered or added."""
    with container() as built, domain_errors():
        results = AuditService(built.uow, built.clock).verify(tenant)
    broken = [result for result in results if not result.intact]
    if json_output:
        print_json([_result_json(result) for result in results])
    else:
        for result in results:
            typer.echo(_result_line(result))
        if not results:
            typer.echo("The audit log is empty: nothing to verify.")
    if broken:
        first = broken[0]
        fail(
            f"the audit log was tampered with: {first.chain_name} breaks at seq {first.broken_at}, "
            f"{first.reason}: {first.detail}. Keep the database as it is and investigate."
            + (f" ({len(broken)} chains are broken.)" if len(broken) > 1 else "")
        )


def _record_json(record: AuditRecord, slugs: Mapping[int, str]) -> dict[str, Any]:
    event = record.event
    return {
        "tenant": slugs.get(event.tenant_id) if event.tenant_id is not None else None,
        "tenant_id": event.tenant_id,
        "seq": record.seq,
        "type": event.type,
        "occurred_at": utc_text(event.occurred_at),
        "actor": event.actor,
        "subject": event.subject,
        "ip": event.ip,
        "correlation_id": event.correlation_id,
        "details": event.details,
        "hash": record.hash,
    }


def _record_line(data: Mapping[str, Any]) -> str:
    tenant = data["tenant"] or (f"#{data['tenant_id']}" if data["tenant_id"] is not None else "(server)")
    line = f"{data['occurred_at']}  {tenant:12} {data['seq']:>6}  {data['type']:28} actor={data['actor'] or '-'}"
    for name in ("subject", "ip", "correlation_id"):
        if data[name]:
            line += f" {name}={data[name]}"
    if data["details"]:
        line += " " + json.dumps(data["details"], ensure_ascii=False, sort_keys=True)
    return line


@app.command("list")
def list_events(
    tenant: str | None = TenantOption,
    type: str | None = typer.Option(None, "--type", help="Only events of this type, e.g. login.failed."),
    limit: int = typer.Option(50, "--limit", min=1, help="How many events, newest first."),
    json_output: bool = JsonOption,
) -> None:
    """List the latest audit events, newest first."""
    with container() as built, domain_errors():
        records: Sequence[AuditRecord] = AuditService(built.uow, built.clock).list(tenant, type=type, limit=limit)
        slugs = {t.id: t.slug for t in built.tenants.list()}
    rows = [_record_json(record, slugs) for record in records]
    if json_output:
        print_json(rows)
        return
    if not rows:
        typer.echo("No audit event matches.")
    for row in rows:
        typer.echo(_record_line(row))

"""Audit use cases: record an event, verify the hash chains, list the latest events.

A service that changes something records its event with :func:`audit_event` inside its own
unit of work, so the event commits or rolls back with the change it describes.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sesame.domain.audit import AuditEvent, AuditRecord, ChainVerifier, VerificationResult, check_event
from sesame.domain.errors import InvalidInput, NotFound
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory

#: Records read per query while verifying: memory stays flat whatever the size of the log.
VERIFY_BATCH_SIZE = 1000


def audit_event(
    uow: UnitOfWork,
    clock: Clock,
    tenant_id: int | None,
    type: str,
    *,
    actor: str = "system",
    subject: str = "",
    ip: str = "",
    correlation_id: str = "",
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one event in the caller's unit of work (committed with it, or not at all).

    Raises :class:`~sesame.domain.audit.AuditEventRejected` when ``details`` holds something
    that looks like a secret ("password", "otp_code"...) and is not redacted.
    """
    event = AuditEvent(
        tenant_id=tenant_id,
        type=type,
        occurred_at=clock.now(),
        actor=actor,
        subject=subject,
        ip=ip,
        correlation_id=correlation_id,
        details=dict(details or {}),
    )
    check_event(event)  # the repository checks again; failing here names the caller in the traceback
    return uow.audit.append(event)


class AuditService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, batch_size: int = VERIFY_BATCH_SIZE) -> None:
        self._uow = uow
        self._clock = clock
        self._batch_size = batch_size

    def record(
        self,
        type: str,
        *,
        tenant_id: int | None = None,
        actor: str = "system",
        subject: str = "",
        ip: str = "",
        correlation_id: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one event in a transaction of its own (for callers outside a unit of work)."""
        with self._uow() as uow:
            record = audit_event(
                uow,
                self._clock,
                tenant_id,
                type,
                actor=actor,
                subject=subject,
                ip=ip,
                correlation_id=correlation_id,
                details=details,
            )
            uow.commit()
        return record

    def verify(self, tenant_slug: str | None = None) -> builtins.list[VerificationResult]:
        """Verify one tenant's chain, or every chain (the server-wide one first) when None."""
        with self._uow(readonly=True) as uow:
            slugs = {tenant.id: tenant.slug for tenant in uow.tenants.list()}
            chains: Sequence[int | None] = (
                uow.audit.chains() if tenant_slug is None else [self._tenant_id(uow, tenant_slug)]
            )
        return [
            replace(self._verify_chain(chain), tenant_slug=slugs.get(chain) if chain is not None else None)
            for chain in chains
        ]

    def _verify_chain(self, tenant_id: int | None) -> VerificationResult:
        # One read transaction: a snapshot on SQLite; on PostgreSQL the head is read before
        # and after the records, which ChainVerifier needs to tell appends from tampering.
        with self._uow(readonly=True) as uow:
            verifier = ChainVerifier(tenant_id, uow.audit.head(tenant_id))
            after_seq = 0
            while True:
                batch = uow.audit.chain(tenant_id, after_seq=after_seq, limit=self._batch_size)
                for record in batch:
                    if not verifier.feed(record):
                        return verifier.finish()
                if len(batch) < self._batch_size:
                    return verifier.finish(uow.audit.head(tenant_id))
                after_seq = batch[-1].seq

    @staticmethod
    def _tenant_id(uow: UnitOfWork, slug: str) -> int:
        tenant = uow.tenants.get_by_slug(slug)
        if tenant is None:
            raise NotFound(f"no tenant {slug}")
        return tenant.id

    def list(
        self, tenant_slug: str | None = None, *, type: str | None = None, limit: int = 50
    ) -> Sequence[AuditRecord]:
        """The latest events, newest first: of one tenant, or of every chain when None."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1", field="limit")
        with self._uow(readonly=True) as uow:
            tenant_ids = None if tenant_slug is None else [self._tenant_id(uow, tenant_slug)]
            return uow.audit.recent(limit, tenant_ids=tenant_ids, type=type)

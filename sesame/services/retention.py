"""Retention: applies each tenant's policy to what Sésame keeps (``sesame maintenance purge``).

Seed 001 promises the document is checked "without keeping it", that proofing evidence is kept
7 years (eIDAS) and that account data is deleted 3 years after the account's closure. Per tenant,
with its :class:`~sesame.domain.tenants.IdentityPolicy`:

1. document images of decided or closed cases are deleted (they were at the decision: this sweeps
   leftovers);
2. enrolments left unfinished for ``enrolment_ttl_days`` are abandoned, their images deleted (not
   the cases waiting for a reviewer, nor an override waiting for a supervisor: those wait for us);
3. proofing evidence past ``evidence_retention_days`` is deleted: closed cases (but the case of an
   identity still in use), and identities that ended (revoked, or their account closed);
4. accounts closed more than ``closed_account_retention_days`` ago are deleted, with what cascades
   from them; their verified identity is marked ended at the closure, so its evidence stays until
   its own retention ends.

Then, server-wide, expired flows, the phone app's approval requests and device activations a day
after they expired (:func:`~sesame.services.approvals.purge_expired`; a late poll still reads
"expired" meanwhile), and old back-office sessions. Running it twice removes nothing
the second time. ``dry_run`` does all of it in one transaction and rolls it back: the counts are
what a real run would remove now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sesame.domain.identity import CLOSED_STATES, WIZARD_STEPS, CaseStatus, ProofingCase
from sesame.domain.tenants import Tenant
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sesame.services.approvals import purge_expired
from sesame.services.audit import audit_event
from sesame.services.context import CLI, RequestContext

BATCH = 200
#: Decided or closed: a case in these states keeps no image.
WITHOUT_IMAGES: tuple[CaseStatus, ...] = (CaseStatus.ACTIVATION, *sorted(CLOSED_STATES))
#: Unfinished enrolments that wait for the person (the online review waits for us: never abandoned).
UNFINISHED: tuple[CaseStatus, ...] = (
    *WIZARD_STEPS,
    CaseStatus.IN_PERSON,
    CaseStatus.ONLINE_LETTER,
    CaseStatus.ACTIVATION,
)
#: Ended or expired back-office sessions are kept this long (who was logged in when), then forgotten.
AGENT_SESSION_DAYS = 90
#: Expired approval requests and device activations are kept this long (a CIBA client or a waiting
#: page polling late is told "expired", not "unknown"), then forgotten.
APPROVAL_GRACE = timedelta(days=1)


@dataclass(slots=True)
class TenantPurge:
    """What was (or, in a dry run, would be) removed at one tenant."""

    tenant: str
    documents: int = 0  # images and videos deleted
    abandoned_cases: int = 0
    deleted_cases: int = 0
    deleted_identities: int = 0
    deleted_accounts: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "documents": self.documents,
            "abandoned_cases": self.abandoned_cases,
            "deleted_cases": self.deleted_cases,
            "deleted_identities": self.deleted_identities,
            "deleted_accounts": self.deleted_accounts,
        }


@dataclass(slots=True)
class PurgeReport:
    at: datetime
    dry_run: bool
    tenants: list[TenantPurge] = field(default_factory=list)
    expired_flows: int = 0
    expired_approvals: int = 0
    expired_activations: int = 0
    agent_sessions: int = 0

    def server_counts(self) -> dict[str, int]:
        """What the purge removed server-wide (not per tenant)."""
        return {
            "expired_flows": self.expired_flows,
            "expired_approvals": self.expired_approvals,
            "expired_activations": self.expired_activations,
            "agent_sessions": self.agent_sessions,
        }

    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(TenantPurge("").counts(), 0)
        for tenant in self.tenants:
            for kind, count in tenant.counts().items():
                totals[kind] += count
        totals.update(self.server_counts())
        return totals

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "tenants": {tenant.tenant: tenant.counts() for tenant in self.tenants},
            "totals": self.totals(),
        }


class RetentionService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def purge(self, *, dry_run: bool = False, context: RequestContext = CLI) -> PurgeReport:
        now = self._clock.now()
        report = PurgeReport(at=now, dry_run=dry_run)
        with self._uow(readonly=True) as uow:
            tenants = list(uow.tenants.list())
        if dry_run:
            with self._uow() as shared:
                self._purge_all(_Batches(self._uow, shared), tenants, report, now, context)
                shared.rollback()
        else:
            self._purge_all(_Batches(self._uow, None), tenants, report, now, context)
        return report

    def _purge_all(
        self, batches: _Batches, tenants: Sequence[Tenant], report: PurgeReport, now: datetime, ctx: RequestContext
    ) -> None:
        for tenant in tenants:
            done = TenantPurge(tenant.slug)
            _TenantPurge(batches, tenant, now, done).run()
            report.tenants.append(done)
            if any(done.counts().values()) and not report.dry_run:
                with batches.batch() as uow:
                    audit_event(uow, self._clock, tenant.id, "retention.purged", actor=ctx.actor, details=done.counts())
        with batches.batch() as uow:
            report.expired_flows = uow.flows.delete_expired(now)
            report.expired_approvals, report.expired_activations = purge_expired(uow, now - APPROVAL_GRACE)
            report.agent_sessions = uow.agents.delete_sessions_before(now - timedelta(days=AGENT_SESSION_DAYS))


class _Batches:
    """Units of work for the purge: one per batch (committed), or the dry run's single shared one."""

    def __init__(self, uow: UnitOfWorkFactory, shared: UnitOfWork | None) -> None:
        self._uow = uow
        self._shared = shared

    @contextmanager
    def batch(self) -> Iterator[UnitOfWork]:
        if self._shared is not None:
            yield self._shared
            return
        with self._uow() as uow:
            yield uow
            uow.commit()

    def sweep(self, fetch: Callable[[UnitOfWork, int], Sequence[int]], act: Callable[[UnitOfWork, int], None]) -> None:
        """Page through ``fetch``'s ids (ascending, after the last seen), acting on each."""
        after = 0
        while True:
            with self.batch() as uow:
                ids = fetch(uow, after)
                for item in ids:
                    act(uow, item)
            if len(ids) < BATCH:
                return
            after = ids[-1]


class _TenantPurge:
    def __init__(self, batches: _Batches, tenant: Tenant, now: datetime, done: TenantPurge) -> None:
        self.batches = batches
        self.tenant = tenant
        self.policy = tenant.policy.identity
        self.now = now
        self.done = done

    def run(self) -> None:
        self.leftover_images()
        self.abandon_unfinished()
        self.expired_evidence()
        self.closed_accounts()

    def _delete_images(self, uow: UnitOfWork, case: ProofingCase, document_ids: Sequence[str]) -> None:
        """The images the case lists, and any other its owner holds (what was actually there is counted)."""
        deleted = sum(1 for document_id in document_ids if uow.documents.delete(document_id))
        deleted += uow.documents.delete_owner(f"proofing:{case.id}")
        self.done.documents += deleted

    # 1. images of decided or closed cases
    def leftover_images(self) -> None:
        def act(uow: UnitOfWork, case_id: int) -> None:
            case = uow.proofing.get(case_id)
            if case is None or not case.document_ids:
                return
            leftovers, case.document_ids = case.document_ids, []
            self._delete_images(uow, case, leftovers)
            uow.proofing.save(case)

        self.batches.sweep(
            lambda uow, after: uow.retention.cases_holding_documents(
                self.tenant.id, WITHOUT_IMAGES, after_id=after, limit=BATCH
            ),
            act,
        )

    # 2. unfinished enrolments
    def abandon_unfinished(self) -> None:
        cutoff = self.now - timedelta(days=self.policy.enrolment_ttl_days)

        def act(uow: UnitOfWork, case_id: int) -> None:
            case = uow.proofing.get(case_id)
            if case is None or not case.open or uow.agents.approval(case.id) is not None:
                return
            self._delete_images(uow, case, case.abandon("expired", self.now))
            uow.proofing.save(case)
            self.done.abandoned_cases += 1

        self.batches.sweep(
            lambda uow, after: uow.retention.idle_cases(
                self.tenant.id, UNFINISHED, cutoff, after_id=after, limit=BATCH
            ),
            act,
        )

    # 3. evidence past its retention
    def expired_evidence(self) -> None:
        cutoff = self.now - timedelta(days=self.policy.evidence_retention_days)
        closed = tuple(sorted(CLOSED_STATES))

        def act(uow: UnitOfWork, case_id: int) -> None:
            case = uow.proofing.get(case_id)
            if case is None:
                return
            if case.status is CaseStatus.COMPLETED:
                identity = uow.identities.of_account(case.account_id)
                if identity is not None and identity.evidence.case_id == case.id:
                    return  # the evidence of an identity in use
            self._delete_images(uow, case, case.document_ids)
            uow.proofing.delete(case.id)
            self.done.deleted_cases += 1

        self.batches.sweep(
            lambda uow, after: uow.retention.idle_cases(self.tenant.id, closed, cutoff, after_id=after, limit=BATCH),
            act,
        )
        while True:
            with self.batches.batch() as uow:
                ended = uow.identities.ended_before(cutoff, self.tenant.id, limit=BATCH)
                for identity_id in ended:
                    uow.identities.delete(identity_id)
                self.done.deleted_identities += len(ended)
            if len(ended) < BATCH:
                return

    # 4. accounts closed long ago
    def closed_accounts(self) -> None:
        cutoff = self.now - timedelta(days=self.policy.closed_account_retention_days)

        def act(uow: UnitOfWork, account_id: int) -> None:
            account = uow.accounts.get(account_id)
            if account is None:
                return
            identity = uow.identities.of_account(account_id)
            if identity is not None:
                # The identity ended with the account: its evidence is kept from then on.
                identity.revoked_at = account.closed_at or self.now
                identity.revoked_reason = "account_closed"
                uow.identities.save(identity)
            for case in uow.proofing.cases_of(account_id):
                self._delete_images(uow, case, case.document_ids)
            uow.retention.delete_account(account_id)
            self.done.deleted_accounts += 1

        self.batches.sweep(
            lambda uow, after: uow.retention.closed_accounts(self.tenant.id, cutoff, after_id=after, limit=BATCH),
            act,
        )

"""The agents' queues: the cases waiting for them, oldest first, per role and tenant scope.

A postman sees the in-person cases of the "postman" method, a clerk those of the post office, a
reviewer the online cases waiting for a review (with their age and whether the service level is
past), a supervisor all of them and the overrides awaiting a second approval. A line of a queue
says what finding the person and the case takes (a case number, the names, the wait), no more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sesame.backoffice.access import local_date
from sesame.domain.agents import Agent, AgentRole, Override, SecondApproval, overrides_of
from sesame.domain.errors import NotFound
from sesame.domain.identity import CaseStatus, MrzOutcome, ProofingCase, VerificationMethod
from sesame.domain.tenants import Tenant
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory

#: Lines per queue and tenant: a working list, not an export.
QUEUE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class QueueItem:
    case_id: int
    tenant_slug: str
    tenant_name: str
    method: VerificationMethod | None
    status: CaseStatus
    #: The names on the form (to find the person and the case), nothing else of the person.
    name: str
    waiting_since: datetime
    age: timedelta
    #: The online review's service level (seed 001: 48 hours); None in person.
    due_at: datetime | None
    overdue: bool
    mrz_outcome: MrzOutcome | None
    overrides: tuple[Override, ...]
    #: An override approved by a first agent, waiting for a supervisor.
    awaiting_second_approval: bool = False
    requested_by: str | None = None  # the first agent's display name


@dataclass(frozen=True, slots=True)
class Queue:
    items: list[QueueItem]
    #: Supervisors: the overrides awaiting their second approval (not the ones they asked for).
    second_approvals: list[QueueItem] = field(default_factory=list)
    #: The tenants of the agent's scope, for the filter: (slug, name).
    tenants: list[tuple[str, str]] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(1 for item in self.items if item.overdue)


def waiting_since(case: ProofingCase) -> datetime:
    """When the case started waiting for an agent (the review: its submission; in person: the
    method's choice)."""
    return case.submitted_at or case.method_chosen_at or case.updated_at


def person_name(case: ProofingCase) -> str:
    if case.identity is None:
        return ""
    names = [case.identity.given_names, case.identity.birth_name]
    if case.identity.usage_name and case.identity.usage_name != case.identity.birth_name:
        names.append(f"({case.identity.usage_name})")
    return " ".join(names)


class AgentQueues:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def queue(self, agent: Agent, tenant_slug: str | None = None) -> Queue:
        """The agent's queue (all its tenants, or the one asked for, which must be in scope)."""
        now = self._clock.now()
        with self._uow(readonly=True) as uow:
            tenants = [tenant for tenant in uow.tenants.list() if agent.in_scope(tenant.id)]
            chosen = tenants
            if tenant_slug:
                chosen = [tenant for tenant in tenants if tenant.slug == tenant_slug]
                if not chosen:
                    raise NotFound(f"tenant {tenant_slug!r} is not in the agent's scope")
            items: list[QueueItem] = []
            approvals: list[QueueItem] = []
            names = _AgentNames(uow)
            for tenant in chosen if agent.active else []:
                items.extend(self._waiting(uow, agent, tenant, now))
                if agent.has(AgentRole.SUPERVISOR):
                    approvals.extend(self._approvals(uow, agent, tenant, now, names))
        items.sort(key=lambda item: (item.waiting_since, item.case_id))
        approvals.sort(key=lambda item: (item.waiting_since, item.case_id))
        return Queue(items=items, second_approvals=approvals, tenants=[(t.slug, t.name) for t in tenants])

    def _waiting(self, uow: UnitOfWork, agent: Agent, tenant: Tenant, now: datetime) -> list[QueueItem]:
        cases: list[ProofingCase] = []
        for spec in agent.queues():
            cases.extend(uow.proofing.queue(tenant.id, [spec.status], methods=spec.methods, limit=QUEUE_LIMIT))
        # Cases awaiting a second approval wait for a supervisor, not for a first agent.
        pending = uow.agents.pending_case_ids([case.id for case in cases])
        return [_item(case, tenant, now) for case in cases if case.id not in pending]

    def _approvals(
        self, uow: UnitOfWork, agent: Agent, tenant: Tenant, now: datetime, names: _AgentNames
    ) -> list[QueueItem]:
        items = []
        for approval in uow.agents.approvals(tenant.id, limit=QUEUE_LIMIT):
            case = uow.proofing.get(approval.case_id)
            if case is None or not approval.may_confirm(agent):
                continue
            items.append(_item(case, tenant, now, approval, names.of(approval.requested_by)))
        return items


class _AgentNames:
    """Display names of agents, looked up once each."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._names: dict[int, str] = {}

    def of(self, agent_id: int) -> str:
        if agent_id not in self._names:
            agent = self._uow.agents.get(agent_id)
            self._names[agent_id] = agent.display_name if agent else f"agent:{agent_id}"
        return self._names[agent_id]


def _item(
    case: ProofingCase,
    tenant: Tenant,
    now: datetime,
    approval: SecondApproval | None = None,
    requested_by: str | None = None,
) -> QueueItem:
    since = waiting_since(case)
    due = case.review_due_at(tenant.policy.identity) if case.status is CaseStatus.ONLINE_REVIEW else None
    return QueueItem(
        case_id=case.id,
        tenant_slug=tenant.slug,
        tenant_name=tenant.name,
        method=case.method,
        status=case.status,
        name=person_name(case),
        waiting_since=approval.requested_at if approval else since,
        age=now - since,
        due_at=due,
        overdue=due is not None and now >= due,
        mrz_outcome=case.mrz_outcome,
        overrides=tuple(overrides_of(case, local_date(now))),
        awaiting_second_approval=approval is not None,
        requested_by=requested_by,
    )

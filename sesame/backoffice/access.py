"""Which case an agent may open, and the errors the back office's use cases raise.

An agent asking for a case outside its queues or its tenants gets the same answer as for a case
that does not exist (:class:`CaseNotAvailable`): the back office reveals nothing about cases an
agent has no business with.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sesame.domain.agents import Agent, SecondApproval
from sesame.domain.errors import FlowStateError, InvalidInput, NotFound
from sesame.domain.identity import CaseStatus, ProofingCase
from sesame.domain.tenants import Tenant
from sesame.ports import UnitOfWork

#: Dates ("is the document expired today?") are those of France, where the agents work.
PARIS = ZoneInfo("Europe/Paris")
#: States in which an agent decides (a case anywhere else has been decided, or is not ready).
UNDECIDED = frozenset({CaseStatus.IN_PERSON, CaseStatus.ONLINE_REVIEW})
REASON_MAX = 500


class CaseNotAvailable(NotFound):
    """No such case for this agent: absent, of another tenant, or not in the agent's queues."""

    code = "case_not_available"


class DecisionConflict(FlowStateError):
    """Someone acted on the case first; ``decided_by`` names who decided it, when someone did."""

    code = "decision_conflict"

    def __init__(self, message: str, *, decided_by: str | None = None) -> None:
        super().__init__(message)
        self.decided_by = decided_by


class CaseAlreadyDecided(DecisionConflict):
    code = "case_already_decided"


class CaseChanged(DecisionConflict):
    """The case changed while the agent was looking at it (reload and look again)."""

    code = "case_changed"


class AwaitingSecondApproval(DecisionConflict):
    """An override was approved and waits for a supervisor: no other decision meanwhile."""

    code = "awaiting_second_approval"


class DecisionRefused(InvalidInput):
    """The decision cannot be recorded as sent; ``reason`` says why (a stable code):
    ``checks_missing``, ``reason_required``, ``reason_too_long``, ``code_wrong``, ``code_expired``,
    ``code_locked``, ``no_code``, ``same_agent``."""

    code = "decision_refused"

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason, **details)
        self.reason = reason


def local_date(now: datetime) -> date:
    """The day in France at ``now``."""
    return now.astimezone(PARIS).date()


def clean_reason(reason: str, *, required: bool) -> str:
    cleaned = " ".join(reason.split())
    if required and not cleaned:
        raise DecisionRefused("reason_required")
    if len(cleaned) > REASON_MAX or not cleaned.isprintable():
        raise DecisionRefused("reason_too_long")
    return cleaned


def tenant_of(uow: UnitOfWork, case: ProofingCase) -> Tenant:
    tenant = uow.tenants.get(case.tenant_id)
    if tenant is None:  # a case outlives no tenant (foreign key), but say so clearly
        raise CaseNotAvailable(f"case {case.id} has no tenant")
    return tenant


def visible_case(uow: UnitOfWork, agent: Agent, case_id: int) -> tuple[ProofingCase, SecondApproval | None]:
    """The case if ``agent`` may open it now, with its pending second approval if any.

    Visible: undecided and in one of the agent's queues in its scope, or awaiting a second approval
    that the agent may confirm (a supervisor in scope). Anything else is :class:`CaseNotAvailable`.
    """
    case = uow.proofing.get(case_id)
    if case is None or not agent.active or not agent.in_scope(case.tenant_id):
        raise CaseNotAvailable(f"case {case_id} is not available to {agent.actor}")
    pending = uow.agents.approval(case.id)
    if agent.handles(case) or (pending is not None and pending.may_confirm(agent)):
        return case, pending
    raise CaseNotAvailable(f"case {case_id} is not available to {agent.actor}")


def decidable_case(uow: UnitOfWork, agent: Agent, case_id: int) -> tuple[ProofingCase, SecondApproval | None]:
    """The case for a decision: as :func:`visible_case`, but a case decided meanwhile (by another
    agent, at the same moment) is :class:`CaseAlreadyDecided`, which the page says in words."""
    case = uow.proofing.get(case_id)
    decided = case is not None and (case.decided_at is not None or not case.open)
    if case is not None and decided and case.status not in UNDECIDED and _was_for(agent, case):
        raise CaseAlreadyDecided(f"case {case_id} was decided", decided_by=case.decided_by)
    return visible_case(uow, agent, case_id)


def _was_for(agent: Agent, case: ProofingCase) -> bool:
    """Whether the case, before its decision, was in one of the agent's queues."""
    if not agent.active or not agent.in_scope(case.tenant_id):
        return False
    return any(case.method in spec.methods for spec in agent.queues())

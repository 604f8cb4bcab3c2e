"""Agents' decisions: in person (seeds 001 and 004), the online review, and the four-eyes rule.

In person, the postman or the clerk ticks what they checked in front of the person, types the
code of the day the person gives them (:data:`~sesame.domain.identity.CodePurpose.IN_PERSON`;
a wrong one is counted and saved, and no approval happens without the right one), and approves
or rejects with a reason. Online, a reviewer approves, rejects, or finds the video unusable (back
to the person; two failures block the video path for the policy's hours).

An *override* (approving when the MRZ disagrees or cannot be read, or the document has expired)
takes effect only once a supervisor other than the first agent confirms it. An approval that
takes effect deletes the case's images and delivers the activation code, in the same transaction.
Two agents deciding at once: the case's optimistic lock (and SQLite's single writer) lets one
win; the other gets :class:`~sesame.backoffice.access.CaseAlreadyDecided`. Every decision,
refused code and second approval is audited.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sesame.backoffice.access import (
    AwaitingSecondApproval,
    CaseAlreadyDecided,
    CaseChanged,
    CaseNotAvailable,
    DecisionRefused,
    clean_reason,
    decidable_case,
    local_date,
    tenant_of,
)
from sesame.domain.accounts import Account
from sesame.domain.agents import Agent, SecondApproval, missing_checks, overrides_of
from sesame.domain.errors import AlreadyExists, FlowStateError
from sesame.domain.identity import CaseEvent, CaseStatus, CodePurpose, Decision, ProofingCase
from sesame.domain.tenants import Tenant
from sesame.ports import Clock, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX
from sesame.services.context import RequestContext
from sesame.services.proofing_codes import CodeCheck, check_code


class ActivationDelivery(Protocol):
    """Sends the activation code after an approval (``ProofingService.deliver_activation_code``),
    in the caller's transaction."""

    def deliver_activation_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case: ProofingCase, now: datetime
    ) -> None: ...


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    PENDING_SECOND_APPROVAL = "pending_second_approval"
    VIDEO_UNUSABLE = "video_unusable"


class ReviewAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    VIDEO_UNUSABLE = "video_unusable"


@dataclass(frozen=True, slots=True)
class DecisionResult:
    case_id: int
    outcome: Outcome
    #: The video path's block after a second unusable video (seed 004), else None.
    video_blocked_until: datetime | None = None


#: Wrong codes of the day, by check result: the reason the page shows.
_CODE_REFUSALS = {
    CodeCheck.WRONG: "code_wrong",
    CodeCheck.EXPIRED: "code_expired",
    CodeCheck.LOCKED: "code_locked",
    CodeCheck.NO_CODE: "no_code",
}


class CaseDecisions:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, keyed: KeyedHasher, activation: ActivationDelivery
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._activation = activation

    # -- in person -------------------------------------------------------------------------------

    def decide_in_person(
        self,
        agent: Agent,
        case_id: int,
        decision: Decision,
        context: RequestContext,
        *,
        checks: Collection[str] = (),
        day_code: str = "",
        reason: str = "",
    ) -> DecisionResult:
        """A postman's or a clerk's decision, the person in front of them.

        Approving needs every check ticked and the person's code of the day (a wrong code is
        counted, saved and audited, then :class:`DecisionRefused`); rejecting needs a reason.
        """
        reason = clean_reason(reason, required=decision is Decision.REJECTED)
        if decision is Decision.APPROVED and missing_checks(checks):
            raise DecisionRefused("checks_missing", missing=[check.value for check in missing_checks(checks)])
        now = self._clock.now()
        refused: DecisionRefused | None = None
        with self._uow() as uow:
            case, tenant = self._load(uow, agent, case_id, in_person=True)
            if decision is Decision.REJECTED:
                result = self._reject(uow, tenant, case, agent, reason, now, context)
            else:
                policy = tenant.policy.identity
                checked = check_code(self._keyed, case, CodePurpose.IN_PERSON, day_code, policy.sms_max_tries, now)
                if checked == CodeCheck.OK:
                    result = self._approve_or_ask(uow, tenant, case, agent, reason, now, context)
                else:
                    # The try counts whatever happens next: saved and audited, then refused.
                    self._save(uow, case)
                    code = case.codes.get(CodePurpose.IN_PERSON.value)
                    tries_left = max(0, policy.sms_max_tries - code.tries) if code else 0
                    details: dict[str, object] = {"result": checked, "tries_left": tries_left}
                    self._audit(uow, agent, case, "backoffice.day_code_refused", context, details)
                    refused = DecisionRefused(_CODE_REFUSALS[checked], tries_left=tries_left)
            uow.commit()
        if refused is not None:
            raise refused
        return result

    # -- online ------------------------------------------------------------------------------------

    def review_online(
        self, agent: Agent, case_id: int, action: ReviewAction, context: RequestContext, *, reason: str = ""
    ) -> DecisionResult:
        """A reviewer's decision on the photo and the video. Rejecting and "video unusable" need
        a reason (the person is told what to do better)."""
        reason = clean_reason(reason, required=action is not ReviewAction.APPROVE)
        now = self._clock.now()
        with self._uow() as uow:
            case, tenant = self._load(uow, agent, case_id, in_person=False)
            if action is ReviewAction.APPROVE:
                result = self._approve_or_ask(uow, tenant, case, agent, reason, now, context)
            elif action is ReviewAction.REJECT:
                result = self._reject(uow, tenant, case, agent, reason, now, context)
            else:
                blocked = case.video_failed(agent.actor, reason, tenant.policy.identity, now)
                self._save(uow, case)
                until = case.video_blocked_until if blocked else None
                details: dict[str, object] = {
                    "failures": case.video_failures,
                    "blocked_until": until.isoformat() if until else None,
                }
                self._audit(uow, agent, case, "backoffice.video_unusable", context, details)
                result = DecisionResult(case.id, Outcome.VIDEO_UNUSABLE, video_blocked_until=until)
            uow.commit()
        return result

    # -- four eyes ---------------------------------------------------------------------------------

    def confirm_second_approval(self, agent: Agent, case_id: int, context: RequestContext) -> DecisionResult:
        """A supervisor (not the first agent) confirms an override: the approval takes effect, in
        the first agent's name (who saw the person or the video), with the supervisor recorded."""
        now = self._clock.now()
        with self._uow() as uow:
            case, approval, tenant = self._pending(uow, agent, case_id)
            case.history.append(CaseEvent(now, agent.actor, "second_approval_confirmed", _joined(approval)))
            first = f"agent:{approval.requested_by}"
            self._final_approval(uow, tenant, case, first, approval.reason, now)
            uow.agents.remove_approval(case.id)
            details: dict[str, object] = {"first_agent": first, "overrides": [o.value for o in approval.overrides]}
            self._audit(uow, agent, case, "backoffice.second_approval_confirmed", context, details)
            uow.commit()
        return DecisionResult(case.id, Outcome.APPROVED)

    def refuse_second_approval(
        self, agent: Agent, case_id: int, reason: str, context: RequestContext
    ) -> DecisionResult:
        """A supervisor refuses the override: the case is rejected (reason required)."""
        reason = clean_reason(reason, required=True)
        now = self._clock.now()
        with self._uow() as uow:
            case, approval, tenant = self._pending(uow, agent, case_id)
            case.history.append(CaseEvent(now, agent.actor, "second_approval_refused", _joined(approval)))
            uow.agents.remove_approval(case.id)
            result = self._reject(uow, tenant, case, agent, reason, now, context)
            uow.commit()
        return result

    # -- internals ---------------------------------------------------------------------------------

    def _load(self, uow: UnitOfWork, agent: Agent, case_id: int, *, in_person: bool) -> tuple[ProofingCase, Tenant]:
        """The case for a first decision: in the agent's queues, undecided, no override pending."""
        case, pending = decidable_case(uow, agent, case_id)
        allowed = agent.may_decide_in_person(case) if in_person else agent.may_review(case)
        if not allowed:  # a reviewer on an in-person case, a postman on a review...
            raise CaseNotAvailable(f"{agent.actor} does not decide case {case_id} this way")
        if pending is not None:
            raise AwaitingSecondApproval(f"case {case_id} awaits a second approval")
        return case, tenant_of(uow, case)

    def _pending(self, uow: UnitOfWork, agent: Agent, case_id: int) -> tuple[ProofingCase, SecondApproval, Tenant]:
        approval = uow.agents.approval(case_id)
        case = uow.proofing.get(case_id)
        if approval is None or case is None or not agent.in_scope(approval.tenant_id):
            if case is not None and agent.in_scope(case.tenant_id) and case.decided_at is not None:
                raise CaseAlreadyDecided(f"case {case_id} was decided", decided_by=case.decided_by)
            raise CaseNotAvailable(f"case {case_id} awaits no second approval")
        if agent.id == approval.requested_by:
            raise DecisionRefused("same_agent")
        if not approval.may_confirm(agent):
            raise CaseNotAvailable(f"{agent.actor} may not confirm case {case_id}")
        if case.version != approval.case_version or case.status not in (CaseStatus.IN_PERSON, CaseStatus.ONLINE_REVIEW):
            raise CaseChanged(f"case {case_id} changed since its first approval")
        return case, approval, tenant_of(uow, case)

    def _approve_or_ask(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        case: ProofingCase,
        agent: Agent,
        reason: str,
        now: datetime,
        context: RequestContext,
    ) -> DecisionResult:
        """Approve, or, for an override, record the first approval and wait for a supervisor."""
        overrides = overrides_of(case, local_date(now))
        details: dict[str, object] = {"method": case.method.value if case.method else None}
        if not overrides:
            self._final_approval(uow, tenant, case, agent.actor, reason, now)
            self._audit(uow, agent, case, "backoffice.case_approved", context, details)
            return DecisionResult(case.id, Outcome.APPROVED)
        detail = ", ".join(override.value for override in overrides)
        case.history.append(CaseEvent(now, agent.actor, "second_approval_requested", detail))
        self._save(uow, case)
        approval = SecondApproval(
            case_id=case.id,
            tenant_id=case.tenant_id,
            requested_by=agent.id,
            requested_at=now,
            reason=reason,
            overrides=tuple(overrides),
            case_version=case.version,
        )
        try:
            uow.agents.add_approval(approval)
        except AlreadyExists:
            raise AwaitingSecondApproval(f"case {case.id} awaits a second approval") from None
        details["overrides"] = [override.value for override in overrides]
        self._audit(uow, agent, case, "backoffice.second_approval_requested", context, details)
        return DecisionResult(case.id, Outcome.PENDING_SECOND_APPROVAL)

    def _final_approval(
        self, uow: UnitOfWork, tenant: Tenant, case: ProofingCase, actor: str, reason: str, now: datetime
    ) -> None:
        """The approval takes effect: images deleted, case saved, activation code delivered."""
        to_delete = case.decide(Decision.APPROVED, actor, reason, tenant.policy.identity, now)
        _delete_images(uow, case, to_delete)
        self._save(uow, case)
        account = uow.accounts.get(case.account_id)
        if account is None:
            raise CaseNotAvailable(f"case {case.id} has no account")
        self._activation.deliver_activation_code(uow, tenant, account, case, now)

    def _reject(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        case: ProofingCase,
        agent: Agent,
        reason: str,
        now: datetime,
        context: RequestContext,
    ) -> DecisionResult:
        to_delete = case.decide(Decision.REJECTED, agent.actor, reason, tenant.policy.identity, now)
        _delete_images(uow, case, to_delete)
        self._save(uow, case)
        details: dict[str, object] = {"method": case.method.value if case.method else None, "reason": reason}
        self._audit(uow, agent, case, "backoffice.case_rejected", context, details)
        return DecisionResult(case.id, Outcome.REJECTED)

    @staticmethod
    def _save(uow: UnitOfWork, case: ProofingCase) -> None:
        try:
            uow.proofing.save(case)
        except FlowStateError:
            raise CaseChanged(f"case {case.id} was changed by someone else") from None

    def _audit(
        self,
        uow: UnitOfWork,
        agent: Agent,
        case: ProofingCase,
        event: str,
        context: RequestContext,
        details: dict[str, object],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            case.tenant_id,
            event,
            actor=agent.actor,
            subject=f"proofing_case:{case.id}",
            ip=context.ip[:IP_MAX],
            correlation_id=context.correlation_id,
            details={"case_id": case.id, "account_id": case.account_id, **details},
        )


def _joined(approval: SecondApproval) -> str:
    return ", ".join(override.value for override in approval.overrides)


def _delete_images(uow: UnitOfWork, case: ProofingCase, document_ids: Collection[str]) -> None:
    """Seed 001: "we check it without keeping it". Everything the case's owner holds goes too
    (a failed attempt's photo and video)."""
    for document_id in document_ids:
        uow.documents.delete(document_id)
    uow.documents.delete_owner(f"proofing:{case.id}")

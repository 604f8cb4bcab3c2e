"""A case as an agent sees it: what the decision needs, and no more.

The identity form, the document's images (decrypted, only while the case is undecided), the MRZ
check with the fields that disagree, the history, the address for a postman who visits. Not the
person's account (beyond the names on the form), nor their other cases, nor their mobile number.
Every view, and every image served, is audited with the agent's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sesame.backoffice.access import UNDECIDED, CaseNotAvailable, local_date, tenant_of, visible_case
from sesame.backoffice.queues import person_name, waiting_since
from sesame.domain.agents import Agent, InPersonCheck, Override, SecondApproval, overrides_of
from sesame.domain.identity import (
    CaseEvent,
    CaseStatus,
    CodePurpose,
    IdentityData,
    MrzOutcome,
    PostalAddress,
    ProofingCase,
    VerificationMethod,
)
from sesame.domain.tenants import IdentityDocumentKind, Tenant
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX
from sesame.services.context import RequestContext

#: The form's value of each field the MRZ comparison names (sesame.domain.mrz.compare_fields).
_TYPED: dict[str, str] = {
    "document_number": "document_number",
    "family_name": "birth_name",
    "given_names": "given_names",
    "birth_date": "birth_date",
    "expiry_date": "document_expiry",
    "sex": "civility",
    "nationality": "nationality",
}


@dataclass(frozen=True, slots=True)
class MrzMismatch:
    field: str  # the comparison's name: document_number, family_name, birth_date...
    typed: str  # what the form says
    document: str  # what the machine-readable zone says (dates as YYMMDD)


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """One image (or the online path's video) of the case, served by its position."""

    index: int
    label: str  # "recto", "verso", "photo", "video"... as stored; "" when unknown
    media_type: str

    @property
    def is_video(self) -> bool:
        return self.media_type.startswith("video/")


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: datetime
    actor: str  # "person", "system", or an agent's display name
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class DayCodeState:
    """The in-person code of the day, as far as the agent needs to know (never the code)."""

    sent: bool
    expired: bool
    tries_left: int


@dataclass(frozen=True, slots=True)
class CaseView:
    case_id: int
    version: int
    tenant_slug: str
    tenant_name: str
    status: CaseStatus
    method: VerificationMethod | None
    name: str
    document_kind: IdentityDocumentKind | None
    identity: IdentityData | None
    #: Only for a postman, who goes to the person's home.
    address: PostalAddress | None
    mrz_outcome: MrzOutcome
    mrz_mismatches: list[MrzMismatch]
    mrz_failed_checks: list[str]
    documents: list[DocumentRef]
    history: list[HistoryLine]
    waiting_since: datetime
    due_at: datetime | None
    overdue: bool
    document_expired: bool
    overrides: tuple[Override, ...]
    video_failures: int
    day_code: DayCodeState | None
    pending: SecondApproval | None = None
    pending_by: str | None = None
    #: What this agent may do here.
    may_decide_in_person: bool = False
    may_review: bool = False
    may_confirm: bool = False
    checks: tuple[InPersonCheck, ...] = field(default=tuple(InPersonCheck))


@dataclass(frozen=True, slots=True)
class DocumentContent:
    content: bytes = field(repr=False)
    media_type: str


class CaseDesk:
    """Opening cases and their images (read-only, but audited)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def view(self, agent: Agent, case_id: int, context: RequestContext) -> CaseView:
        """The case for ``agent`` (:class:`CaseNotAvailable` otherwise); the view is audited."""
        now = self._clock.now()
        # Read, then a short write transaction for the audit (ADR 0002).
        with self._uow(readonly=True) as uow:
            case, pending = visible_case(uow, agent, case_id)
            tenant = tenant_of(uow, case)
            view = self._view(uow, agent, case, tenant, pending, now)
        self._audit(agent, case, "backoffice.case_viewed", context, {"documents": len(view.documents)})
        return view

    def document(self, agent: Agent, case_id: int, index: int, context: RequestContext) -> DocumentContent:
        """One image of an undecided case, decrypted (:class:`CaseNotAvailable` otherwise); audited."""
        with self._uow(readonly=True) as uow:
            case, _ = visible_case(uow, agent, case_id)
            if case.status not in UNDECIDED or not 0 <= index < len(case.document_ids):
                raise CaseNotAvailable(f"no document {index} in case {case_id}")
            stored = uow.documents.get(case.document_ids[index])
        if stored is None:
            raise CaseNotAvailable(f"document {index} of case {case_id} is gone")
        self._audit(agent, case, "backoffice.document_viewed", context, {"index": index})
        return DocumentContent(content=stored.content, media_type=stored.media_type)

    # -- internals ---------------------------------------------------------------------------------

    def _view(
        self,
        uow: UnitOfWork,
        agent: Agent,
        case: ProofingCase,
        tenant: Tenant,
        pending: SecondApproval | None,
        now: datetime,
    ) -> CaseView:
        policy = tenant.policy.identity
        due = case.review_due_at(policy) if case.status is CaseStatus.ONLINE_REVIEW else None
        names = _Names(uow)
        in_person = agent.may_decide_in_person(case) and pending is None
        return CaseView(
            case_id=case.id,
            version=case.version,
            tenant_slug=tenant.slug,
            tenant_name=tenant.name,
            status=case.status,
            method=case.method,
            name=person_name(case),
            document_kind=case.document_kind,
            identity=case.identity,
            address=case.address if case.method is VerificationMethod.POSTMAN else None,
            mrz_outcome=case.mrz_outcome or MrzOutcome.NOT_CHECKED,
            mrz_mismatches=_mismatches(case),
            mrz_failed_checks=[str(check) for check in case.mrz_detail.get("failed_checks") or []],
            documents=_documents(uow, case),
            history=[_line(event, names) for event in case.history],
            waiting_since=waiting_since(case),
            due_at=due,
            overdue=due is not None and now >= due,
            document_expired=Override.DOCUMENT_EXPIRED in overrides_of(case, local_date(now)),
            overrides=tuple(overrides_of(case, local_date(now))),
            video_failures=case.video_failures,
            day_code=_day_code(case, policy.sms_max_tries, now) if case.status is CaseStatus.IN_PERSON else None,
            pending=pending,
            pending_by=names.of(f"agent:{pending.requested_by}") if pending else None,
            may_decide_in_person=in_person,
            may_review=agent.may_review(case) and pending is None,
            may_confirm=pending is not None and pending.may_confirm(agent),
        )

    def _audit(
        self, agent: Agent, case: ProofingCase, event: str, context: RequestContext, details: dict[str, object]
    ) -> None:
        with self._uow() as uow:
            audit_event(
                uow,
                self._clock,
                case.tenant_id,
                event,
                actor=agent.actor,
                subject=f"proofing_case:{case.id}",
                ip=context.ip[:IP_MAX],
                correlation_id=context.correlation_id,
                details={"case_id": case.id, "status": case.status.value, **details},
            )
            uow.commit()


class _Names:
    """How the history names its actors: agents by display name."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._known: dict[str, str] = {}

    def of(self, actor: str) -> str:
        if not actor.startswith("agent:") or not actor[6:].isdigit():
            return actor
        if actor not in self._known:
            agent = self._uow.agents.get(int(actor[6:]))
            self._known[actor] = agent.display_name if agent else actor
        return self._known[actor]


def _line(event: CaseEvent, names: _Names) -> HistoryLine:
    return HistoryLine(at=event.at, actor=names.of(event.actor), action=event.action, detail=event.detail)


def _typed_value(identity: IdentityData | None, name: str) -> str:
    if identity is None or name not in _TYPED:
        return ""
    value = getattr(identity, _TYPED[name])
    if isinstance(value, date):
        return value.isoformat()
    return str(getattr(value, "value", value) or "")


def _mismatches(case: ProofingCase) -> list[MrzMismatch]:
    detail = case.mrz_detail
    values = detail.get("document_values") or {}
    return [
        MrzMismatch(field=str(name), typed=_typed_value(case.identity, str(name)), document=str(values.get(name, "")))
        for name in detail.get("mismatches") or []
    ]


def _documents(uow: UnitOfWork, case: ProofingCase) -> list[DocumentRef]:
    """The case's images in its order, described without decrypting them."""
    if case.status not in UNDECIDED:
        return []
    infos = {info.id: info for info in uow.documents.list_owner(f"proofing:{case.id}")}
    return [
        DocumentRef(index, infos[document_id].label, infos[document_id].media_type)
        for index, document_id in enumerate(case.document_ids)
        if document_id in infos
    ]


def _day_code(case: ProofingCase, max_tries: int, now: datetime) -> DayCodeState:
    code = case.codes.get(CodePurpose.IN_PERSON.value)
    if code is None or code.used_at is not None:
        return DayCodeState(sent=False, expired=False, tries_left=0)
    return DayCodeState(sent=True, expired=now >= code.expires_at, tries_left=max(0, max_tries - code.tries))

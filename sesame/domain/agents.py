"""The back office's people: agents (postmen, post-office clerks, online reviewers, supervisors).

An agent works for one tenant or several (its *scope*) in one or more :class:`AgentRole`. Each role
has its queue of cases (:data:`ROLE_QUEUES`); an agent sees and decides only the cases of its
queues in its scope, and of each case only what the decision needs (seed 001: "we check it
without keeping it"). The rules here are pure: who may act on which case, what an approval must
have ticked, which approvals are overrides that need a second agent (four-eyes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sesame.domain.accounts import normalize_email
from sesame.domain.errors import InvalidInput
from sesame.domain.identity import CaseStatus, MrzOutcome, ProofingCase, VerificationMethod
from sesame.domain.tenants import LockoutPolicy, PasswordPolicy

EMAIL_MAX = 320
DISPLAY_NAME_MAX = 100
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: Failed back-office logins: five in 15 minutes suspend the address 15 minutes; the fifth
#: suspension locks it until an administrator re-enables the agent. Stricter than customers':
#: an agent's access opens other people's identity documents.
BACKOFFICE_LOCKOUT = LockoutPolicy(
    max_failures=5,
    failure_window_seconds=15 * 60,
    suspension_seconds=15 * 60,
    max_suspensions=5,
    ip_requests_per_minute=30,
)
#: An agent's password: the default policy (15 characters at least, not in the blocklist).
BACKOFFICE_PASSWORD = PasswordPolicy()
#: An agent idle this long is logged out; no session outlives a working day.
BACKOFFICE_IDLE_SECONDS = 15 * 60
BACKOFFICE_SESSION_SECONDS = 10 * 3600


class AgentRole(StrEnum):
    POSTMAN = "postman"  # meets the person at home (method "postman")
    CLERK = "clerk"  # meets the person at a post office (method "post_office")
    REVIEWER = "reviewer"  # decides the online path's photo and video
    SUPERVISOR = "supervisor"  # everything, and the second approval of overrides


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """Cases of one status, and of these methods, make one role's queue."""

    status: CaseStatus
    methods: tuple[VerificationMethod, ...]


_POSTMAN = QueueSpec(CaseStatus.IN_PERSON, (VerificationMethod.POSTMAN,))
_CLERK = QueueSpec(CaseStatus.IN_PERSON, (VerificationMethod.POST_OFFICE,))
_REVIEW = QueueSpec(CaseStatus.ONLINE_REVIEW, (VerificationMethod.ONLINE,))

#: What each role works on. A supervisor sees every queue (and the pending second approvals).
ROLE_QUEUES: dict[AgentRole, tuple[QueueSpec, ...]] = {
    AgentRole.POSTMAN: (_POSTMAN,),
    AgentRole.CLERK: (_CLERK,),
    AgentRole.REVIEWER: (_REVIEW,),
    AgentRole.SUPERVISOR: (_POSTMAN, _CLERK, _REVIEW),
}


def parse_roles(values: Iterable[str]) -> frozenset[AgentRole]:
    roles: set[AgentRole] = set()
    for value in values:
        try:
            roles.add(AgentRole(value.strip().lower()))
        except ValueError:
            known = ", ".join(role.value for role in AgentRole)
            raise InvalidInput(f"unknown role {value!r} (one of {known})") from None
    if not roles:
        raise InvalidInput("an agent needs at least one role")
    return frozenset(roles)


def check_agent_email(email: str) -> str:
    """The address an agent logs in with, normalised (lower-case)."""
    normalized = normalize_email(email)
    if len(normalized) > EMAIL_MAX or not _EMAIL_RE.fullmatch(normalized):
        raise InvalidInput("an agent's email address looks like name@example.fr")
    return normalized


def check_display_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > DISPLAY_NAME_MAX or not cleaned.isprintable():
        raise InvalidInput(f"a display name has 1 to {DISPLAY_NAME_MAX} printable characters")
    return cleaned


@dataclass(slots=True)
class Agent:
    """Someone of the back office. ``password_hash`` is argon2id, never the password."""

    id: int
    email: str
    display_name: str
    roles: frozenset[AgentRole]
    tenant_ids: tuple[int, ...]
    active: bool
    created_at: datetime
    updated_at: datetime
    password_hash: str = field(default="", repr=False)
    #: A generated one-time password must be replaced at the first login.
    password_change_required: bool = False
    last_login_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def actor(self) -> str:
        """How the audit log and the case history name this agent."""
        return f"agent:{self.id}"

    def has(self, role: AgentRole) -> bool:
        return role in self.roles

    def in_scope(self, tenant_id: int) -> bool:
        return tenant_id in self.tenant_ids

    def queues(self) -> tuple[QueueSpec, ...]:
        """This agent's queue specs, each once, in a stable order."""
        specs: list[QueueSpec] = []
        for role in AgentRole:
            if role in self.roles:
                specs.extend(spec for spec in ROLE_QUEUES[role] if spec not in specs)
        return tuple(specs)

    def handles(self, case: ProofingCase) -> bool:
        """Whether ``case`` is in one of this agent's queues, in its scope (nothing else is shown)."""
        if not self.active or not self.in_scope(case.tenant_id):
            return False
        return any(case.status is spec.status and case.method in spec.methods for spec in self.queues())

    def may_decide_in_person(self, case: ProofingCase) -> bool:
        return case.status is CaseStatus.IN_PERSON and self.handles(case)

    def may_review(self, case: ProofingCase) -> bool:
        return case.status is CaseStatus.ONLINE_REVIEW and self.handles(case)


@dataclass(slots=True)
class AgentSession:
    """A logged-in back-office browser; ``id`` is the SHA-256 of the cookie's random value."""

    id: str
    agent_id: int
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    ip: str = ""
    user_agent: str = ""
    ended_at: datetime | None = None
    end_reason: str | None = None

    def is_active(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.idle_expires_at and now < self.expires_at


# -- decisions -------------------------------------------------------------------------------------


class InPersonCheck(StrEnum):
    """What a postman or a clerk ticks in front of the person (seed 004), in the page's order."""

    ORIGINAL_SEEN = "original_seen"  # the original document, not a copy or a photo
    PHOTO_MATCHES = "photo_matches"  # the photo is the person in front of me
    DATA_MATCHES = "data_matches"  # the document says what the form says
    DOCUMENT_VALID = "document_valid"  # genuine, undamaged, not expired


def missing_checks(ticked: Iterable[str]) -> list[InPersonCheck]:
    """The checks not ticked (every one is needed to approve)."""
    given = set(ticked)
    return [check for check in InPersonCheck if check.value not in given]


class Override(StrEnum):
    """Why an approval needs a supervisor's second approval: the machine or the date disagrees."""

    MRZ_MISMATCH = "mrz_mismatch"
    MRZ_UNREADABLE = "mrz_unreadable"
    DOCUMENT_EXPIRED = "document_expired"


def overrides_of(case: ProofingCase, today: date) -> list[Override]:
    """What approving ``case`` would override (empty: one agent's approval is enough)."""
    found: list[Override] = []
    if case.mrz_outcome is MrzOutcome.MISMATCH:
        found.append(Override.MRZ_MISMATCH)
    if case.mrz_outcome is MrzOutcome.UNREADABLE:
        found.append(Override.MRZ_UNREADABLE)
    expiry = case.identity.document_expiry if case.identity else None
    if case.document_expired or (expiry is not None and expiry < today):
        found.append(Override.DOCUMENT_EXPIRED)
    return found


@dataclass(slots=True, frozen=True)
class SecondApproval:
    """An override approved by a first agent, waiting for a supervisor (four-eyes).

    ``case_version`` is the case's version once the request was recorded: a case changed since
    (by anyone) is not what the first agent approved, so the request no longer holds.
    """

    case_id: int
    tenant_id: int
    requested_by: int  # the first agent's id
    requested_at: datetime
    reason: str
    overrides: tuple[Override, ...]
    case_version: int

    def may_confirm(self, agent: Agent) -> bool:
        """A supervisor in scope, other than the first agent."""
        return (
            agent.active
            and agent.has(AgentRole.SUPERVISOR)
            and agent.in_scope(self.tenant_id)
            and agent.id != self.requested_by
        )

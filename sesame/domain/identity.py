"""The digital identity: an enrolment case that proves who a person is, and the identity it yields.

Seed 001 is the journey: request, account, terms, documents, verification, activation. A
:class:`ProofingCase` is that journey's durable record (it lasts days and crosses devices, so it
is not a browser flow: the wizard's flows come and go, the case stays). Its :class:`CaseStatus`
only moves forward through the methods below, each of which checks that the steps before it are
done, so no path skips a step. :meth:`ProofingCase.activate` is the only way to a
:class:`VerifiedIdentity` at level "substantial", and it requires the document, the verified
mobile, an approved verification and the activation code.

Everything here is pure: times are given, codes arrive already checked (hashing lives in the
services), and images are referred to by the id the document store gave them.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sesame.domain.errors import InvalidInput
from sesame.domain.tenants import IdentityDocumentKind, IdentityPolicy

#: The level of assurance a completed enrolment reaches (eIDAS "substantial").
SUBSTANTIAL = "substantial"
#: FranceConnect's country code for France (INSEE COG): a person born there has a birthplace.
FRANCE_COG = "99100"


class ProofingError(InvalidInput):
    """A step refused: ``code`` is what the page shows (mapped to a message in the user's language)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code


class CaseStatus(StrEnum):
    """Where an enrolment stands. The wizard's steps come first, then the waits for people."""

    # -- the wizard (the person, online) --------------------------------------------------------
    TERMS = "terms"  # prerequisites shown; the identity's terms to accept
    DOCUMENT = "document"  # type of document, recto and verso
    IDENTITY = "identity"  # the form copied from the document
    REVIEW = "review"  # "my data is correct" or "modify"
    MOBILE = "mobile"  # the French mobile number
    MOBILE_CODE = "mobile_code"  # the SMS code
    ADDRESS = "address"  # the home address
    METHOD = "method"  # postman, post office or 100 % online
    # -- verification (people) -----------------------------------------------------------------
    IN_PERSON = "in_person"  # waiting for a postman or a clerk to see the person and the document
    ONLINE_LETTER = "online_letter"  # registered e-letter sent; opening it leads to the video
    ONLINE_REVIEW = "online_review"  # photo and video sent; a reviewer decides (service level)
    # -- completion ---------------------------------------------------------------------------------
    ACTIVATION = "activation"  # approved: the activation code completes the identity
    COMPLETED = "completed"  # the verified identity exists
    REJECTED = "rejected"  # a verification refused it (reason recorded)
    REFUSED = "refused"  # not eligible (under age, document type not accepted)
    ABANDONED = "abandoned"  # left unfinished past the policy's limit, or cancelled


#: The wizard's steps in order (the progress bar of seed 001 groups them).
WIZARD_STEPS: tuple[CaseStatus, ...] = (
    CaseStatus.TERMS,
    CaseStatus.DOCUMENT,
    CaseStatus.IDENTITY,
    CaseStatus.REVIEW,
    CaseStatus.MOBILE,
    CaseStatus.MOBILE_CODE,
    CaseStatus.ADDRESS,
    CaseStatus.METHOD,
)
#: States an agent or a reviewer acts on.
VERIFICATION_STATES = frozenset({CaseStatus.IN_PERSON, CaseStatus.ONLINE_LETTER, CaseStatus.ONLINE_REVIEW})
CLOSED_STATES = frozenset({CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.REFUSED, CaseStatus.ABANDONED})


class ProgressStage(StrEnum):
    """The six stages of seed 001's progress bar."""

    REQUEST = "request"
    ACCOUNT = "account"
    TERMS = "terms"
    DOCUMENTS = "documents"
    VERIFICATION = "verification"
    ACTIVATION = "activation"


STAGES: tuple[ProgressStage, ...] = tuple(ProgressStage)


def stage_of(status: CaseStatus) -> ProgressStage:
    """Which stage of the progress bar a case is at (a case exists once the account does)."""
    if status is CaseStatus.TERMS:
        return ProgressStage.TERMS
    if status in WIZARD_STEPS:
        return ProgressStage.DOCUMENTS
    if status in VERIFICATION_STATES or status in (CaseStatus.REJECTED, CaseStatus.REFUSED):
        return ProgressStage.VERIFICATION
    return ProgressStage.ACTIVATION


class VerificationMethod(StrEnum):
    POSTMAN = "postman"
    POST_OFFICE = "post_office"
    ONLINE = "online"

    @property
    def in_person(self) -> bool:
        return self is not VerificationMethod.ONLINE


class Civility(StrEnum):
    """As on the document: the OpenID ``gender`` claim is derived from it."""

    MR = "M"
    MRS = "F"

    @property
    def gender(self) -> str:
        return "male" if self is Civility.MR else "female"


class MrzOutcome(StrEnum):
    """What the machine-readable zone said about the form (shown to the agent, kept as evidence)."""

    MATCH = "match"
    MISMATCH = "mismatch"
    UNREADABLE = "unreadable"
    NOT_CHECKED = "not_checked"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


# -- the person's data ---------------------------------------------------------------------------


def normalise_name(value: str) -> str:
    """Names as typed, tidied: single spaces, no leading/trailing blanks (accents and hyphens kept)."""
    return " ".join(unicodedata.normalize("NFC", value).split())


@dataclass(slots=True, frozen=True)
class IdentityData:
    """The identity form (seed 001 step 4), checked against the document by the MRZ and an agent."""

    civility: Civility
    given_names: str  # every given name, separated by spaces, hyphens kept
    birth_name: str
    usage_name: str
    birth_date: date
    birth_country: str  # INSEE COG code (99100 for France)
    birth_town: str | None  # INSEE commune code when born in France, else None
    document_number: str
    document_expiry: date | None
    nationality: str  # ISO 3166-1 alpha-3, as in the MRZ ("FRA")

    def to_json(self) -> dict[str, Any]:
        return {
            "civility": self.civility.value,
            "given_names": self.given_names,
            "birth_name": self.birth_name,
            "usage_name": self.usage_name,
            "birth_date": self.birth_date.isoformat(),
            "birth_country": self.birth_country,
            "birth_town": self.birth_town,
            "document_number": self.document_number,
            "document_expiry": self.document_expiry.isoformat() if self.document_expiry else None,
            "nationality": self.nationality,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IdentityData:
        expiry = data.get("document_expiry")
        return cls(
            civility=Civility(data["civility"]),
            given_names=data["given_names"],
            birth_name=data["birth_name"],
            usage_name=data.get("usage_name") or data["birth_name"],
            birth_date=date.fromisoformat(data["birth_date"]),
            birth_country=data["birth_country"],
            birth_town=data.get("birth_town"),
            document_number=data["document_number"],
            document_expiry=date.fromisoformat(expiry) if expiry else None,
            nationality=data["nationality"],
        )

    def claims(self) -> dict[str, str]:
        """The French identity set (FranceConnect's names) this data asserts once verified."""
        claims = {
            "given_name": self.given_names,
            "family_name": self.birth_name,
            "preferred_username": self.usage_name,
            "birthdate": self.birth_date.isoformat(),
            "gender": self.civility.gender,
            "birthcountry": self.birth_country,
        }
        if self.birth_town:
            claims["birthplace"] = self.birth_town
        return claims


@dataclass(slots=True, frozen=True)
class PostalAddress:
    line1: str
    postcode: str
    town: str
    line2: str = ""
    town_code: str | None = None  # INSEE commune code, when the referential knew it
    country: str = "FR"

    def to_json(self) -> dict[str, Any]:
        return {
            "line1": self.line1,
            "line2": self.line2,
            "postcode": self.postcode,
            "town": self.town,
            "town_code": self.town_code,
            "country": self.country,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostalAddress:
        return cls(
            line1=data["line1"],
            line2=data.get("line2") or "",
            postcode=data["postcode"],
            town=data["town"],
            town_code=data.get("town_code"),
            country=data.get("country") or "FR",
        )

    def claim(self) -> dict[str, str]:
        """The OpenID ``address`` claim (Core §5.1.1)."""
        street = "\n".join(part for part in (self.line1, self.line2) if part)
        return {
            "formatted": "\n".join((street, f"{self.postcode} {self.town}", "France")),
            "street_address": street,
            "postal_code": self.postcode,
            "locality": self.town,
            "country": "FR",
        }


def age_on(birth_date: date, today: date) -> int:
    """Full years between ``birth_date`` and ``today`` (a person born 29 February ages on 1 March)."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def document_number_hash(kind: IdentityDocumentKind, number: str) -> str:
    """What evidence keeps of the document number: enough to recognise it, not to read it."""
    canonical = f"{kind.value}:{''.join(number.upper().split())}"
    return hashlib.sha256(canonical.encode()).hexdigest()


def eligibility_problems(
    data: IdentityData, kind: IdentityDocumentKind, policy: IdentityPolicy, today: date
) -> list[str]:
    """Why this person or document cannot go on (codes); empty when they can.

    ``under_age`` and ``document_not_accepted`` end the enrolment; ``document_expired`` does not:
    seed 004 sends the person to a post office, so only the in-person methods stay open.
    """
    problems: list[str] = []
    if age_on(data.birth_date, today) < policy.minimum_age:
        problems.append("under_age")
    if kind not in policy.accepted_documents:
        problems.append("document_not_accepted")
    if data.document_expiry is not None and data.document_expiry < today:
        problems.append("document_expired")
    if data.birth_date > today:
        problems.append("birth_date_in_future")
    return problems


FATAL_PROBLEMS = frozenset({"under_age", "document_not_accepted"})


# -- the case ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class CaseEvent:
    """One line of a case's history, shown to agents (the audit log holds the tamper-evident copy)."""

    at: datetime
    actor: str  # "person", "agent:<id>", "system"
    action: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> CaseEvent:
        return cls(datetime.fromisoformat(data["at"]), data["actor"], data["action"], data.get("detail", ""))


@dataclass(slots=True)
class CaseCode:
    """A one-time code of the case (SMS code of the mobile, the in-person code of the day, the
    activation code): only its keyed hash is kept, with its expiry, when it was sent and its tries."""

    digest: str
    expires_at: datetime
    sent_at: datetime
    tries: int = 0
    used_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "expires_at": self.expires_at.isoformat(),
            "sent_at": self.sent_at.isoformat(),
            "tries": self.tries,
            "used_at": self.used_at.isoformat() if self.used_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseCode:
        used = data.get("used_at")
        return cls(
            digest=data["digest"],
            expires_at=datetime.fromisoformat(data["expires_at"]),
            sent_at=datetime.fromisoformat(data["sent_at"]),
            tries=int(data.get("tries", 0)),
            used_at=datetime.fromisoformat(used) if used else None,
        )

    def usable(self, now: datetime, max_tries: int) -> bool:
        return self.used_at is None and now < self.expires_at and self.tries < max_tries


class CodePurpose(StrEnum):
    MOBILE = "mobile"  # the SMS code that verifies the mobile (10 minutes)
    IN_PERSON = "in_person"  # the code of the day the person gives the postman or the clerk
    ACTIVATION = "activation"  # the activation code that completes the identity


@dataclass(slots=True)
class ProofingCase:
    """One person's enrolment at one tenant. Methods move it forward; each checks what came before."""

    id: int
    tenant_id: int
    account_id: int
    status: CaseStatus
    created_at: datetime
    updated_at: datetime
    terms_version: str | None = None
    terms_accepted_at: datetime | None = None
    document_kind: IdentityDocumentKind | None = None
    #: Ids in the document store; cleared (and the images deleted) once the verification is decided.
    document_ids: list[str] = field(default_factory=list)
    identity: IdentityData | None = None
    identity_confirmed_at: datetime | None = None
    document_expired: bool = False
    mrz_outcome: MrzOutcome | None = None
    mrz_detail: dict[str, Any] = field(default_factory=dict)
    mobile: str | None = None  # E.164
    mobile_verified_at: datetime | None = None
    address: PostalAddress | None = None
    method: VerificationMethod | None = None
    method_chosen_at: datetime | None = None
    #: The online path: the registered e-letter, the video attempts and their block.
    letter_ref: str | None = None
    video_failures: int = 0
    video_blocked_until: datetime | None = None
    video_challenge: str | None = None  # the three digits to read aloud
    submitted_at: datetime | None = None  # photo and video sent (start of the review service level)
    decision: Decision | None = None
    decision_reason: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    activation_expires_at: datetime | None = None
    activation_tries: int = 0
    completed_at: datetime | None = None
    closed_reason: str = ""
    #: One-time codes by :class:`CodePurpose` value (hashes only).
    codes: dict[str, CaseCode] = field(default_factory=dict)
    history: list[CaseEvent] = field(default_factory=list)
    version: int = 1

    # -- helpers --------------------------------------------------------------------------------
    @property
    def open(self) -> bool:
        return self.status not in CLOSED_STATES

    @property
    def stage(self) -> ProgressStage:
        return stage_of(self.status)

    def _require(self, *allowed: CaseStatus) -> None:
        if self.status not in allowed:
            raise ProofingError("wrong_step", f"case {self.id} is at {self.status.value}, not {allowed}")

    def _move(self, status: CaseStatus, now: datetime, actor: str, action: str, detail: str = "") -> None:
        self.status = status
        self.updated_at = now
        self.history.append(CaseEvent(now, actor, action, detail))

    def can_go_back_to(self, status: CaseStatus) -> bool:
        """The wizard's "modify": any earlier wizard step, while the wizard is not finished."""
        if self.status not in WIZARD_STEPS or status not in WIZARD_STEPS:
            return False
        return WIZARD_STEPS.index(status) < WIZARD_STEPS.index(self.status) and status is not CaseStatus.TERMS

    def go_back_to(self, status: CaseStatus, now: datetime) -> None:
        if not self.can_go_back_to(status):
            raise ProofingError("wrong_step")
        # Going back past a step undoes what that step established.
        index = WIZARD_STEPS.index(status)
        if index <= WIZARD_STEPS.index(CaseStatus.REVIEW):
            self.identity_confirmed_at = None
        if index <= WIZARD_STEPS.index(CaseStatus.MOBILE):
            self.mobile_verified_at = None
        self._move(status, now, "person", "modify", status.value)

    # -- the wizard -----------------------------------------------------------------------------
    def accept_terms(self, version: str, now: datetime) -> None:
        self._require(CaseStatus.TERMS)
        self.terms_version, self.terms_accepted_at = version, now
        self._move(CaseStatus.DOCUMENT, now, "person", "terms_accepted", version)

    def attach_document(
        self, kind: IdentityDocumentKind, document_ids: list[str], policy: IdentityPolicy, now: datetime
    ) -> list[str]:
        """Record the uploaded images; returns the ids they replace (for the caller to delete)."""
        self._require(CaseStatus.DOCUMENT)
        if kind not in policy.accepted_documents:
            raise ProofingError("document_not_accepted")
        if not document_ids:
            raise ProofingError("document_missing")
        replaced, self.document_kind, self.document_ids = self.document_ids, kind, list(document_ids)
        self._move(CaseStatus.IDENTITY, now, "person", "document_added", kind.value)
        return replaced

    def fill_identity(self, data: IdentityData, policy: IdentityPolicy, today: date, now: datetime) -> list[str]:
        """Store the form; returns the eligibility problems. A fatal one refuses the case."""
        self._require(CaseStatus.IDENTITY)
        if self.document_kind is None or not self.document_ids:
            raise ProofingError("document_missing")
        problems = eligibility_problems(data, self.document_kind, policy, today)
        self.identity = data
        self.document_expired = "document_expired" in problems
        fatal = [problem for problem in problems if problem in FATAL_PROBLEMS]
        if fatal:
            self.closed_reason = fatal[0]
            self._move(CaseStatus.REFUSED, now, "system", "refused", fatal[0])
        elif "birth_date_in_future" not in problems:
            self._move(CaseStatus.REVIEW, now, "person", "identity_filled")
        return problems

    def record_mrz(self, outcome: MrzOutcome, detail: dict[str, Any]) -> None:
        self.mrz_outcome, self.mrz_detail = outcome, dict(detail)

    def confirm_identity(self, now: datetime) -> None:
        self._require(CaseStatus.REVIEW)
        if self.identity is None:
            raise ProofingError("identity_missing")
        self.identity_confirmed_at = now
        self._move(CaseStatus.MOBILE, now, "person", "identity_confirmed")

    def set_mobile(self, e164: str, now: datetime) -> None:
        self._require(CaseStatus.MOBILE, CaseStatus.MOBILE_CODE)
        self.mobile, self.mobile_verified_at = e164, None
        self._move(CaseStatus.MOBILE_CODE, now, "person", "mobile_given")

    def verify_mobile(self, now: datetime) -> None:
        """The SMS code was right (checked by the service)."""
        self._require(CaseStatus.MOBILE_CODE)
        if self.mobile is None:
            raise ProofingError("mobile_missing")
        self.mobile_verified_at = now
        self._move(CaseStatus.ADDRESS, now, "person", "mobile_verified")

    def set_address(self, address: PostalAddress, now: datetime) -> None:
        self._require(CaseStatus.ADDRESS)
        self.address = address
        self._move(CaseStatus.METHOD, now, "person", "address_given")

    def methods_offered(self, policy: IdentityPolicy) -> list[VerificationMethod]:
        """The methods this case may choose: an expired document goes to a post office (seed 004)."""
        offered = [VerificationMethod(value) for value in policy.verification_methods]
        if self.document_expired:
            offered = [method for method in offered if method.in_person]
        return offered

    def choose_method(self, method: VerificationMethod, policy: IdentityPolicy, now: datetime) -> None:
        self._require(CaseStatus.METHOD)
        self._check_wizard_done()
        if method not in self.methods_offered(policy):
            raise ProofingError("method_not_offered")
        self.method, self.method_chosen_at = method, now
        target = CaseStatus.IN_PERSON if method.in_person else CaseStatus.ONLINE_LETTER
        self._move(target, now, "person", "method_chosen", method.value)

    def _check_wizard_done(self) -> None:
        missing = [
            name
            for name, present in (
                ("terms", self.terms_accepted_at is not None),
                ("document", bool(self.document_ids) and self.document_kind is not None),
                ("identity", self.identity is not None and self.identity_confirmed_at is not None),
                ("mobile", self.mobile_verified_at is not None),
                ("address", self.address is not None),
            )
            if not present
        ]
        if missing:
            raise ProofingError("step_missing", f"case {self.id} lacks {', '.join(missing)}")

    # -- the online path ------------------------------------------------------------------------
    def letter_sent(self, letter_ref: str, now: datetime) -> None:
        self._require(CaseStatus.ONLINE_LETTER)
        self.letter_ref = letter_ref
        self.history.append(CaseEvent(now, "system", "letter_sent", letter_ref))

    def video_allowed(self, now: datetime) -> bool:
        return self.video_blocked_until is None or now >= self.video_blocked_until

    def start_video(self, challenge: str, now: datetime) -> None:
        self._require(CaseStatus.ONLINE_LETTER)
        if not self.video_allowed(now):
            raise ProofingError("video_blocked")
        self.video_challenge = challenge
        self.history.append(CaseEvent(now, "person", "video_started"))

    def submit_video(self, photo_ids: list[str], video_id: str, now: datetime) -> list[str]:
        """The photo of the document and the video are in: the reviewer's service level starts."""
        self._require(CaseStatus.ONLINE_LETTER)
        if self.video_challenge is None:
            raise ProofingError("video_not_started")
        if not self.video_allowed(now):
            raise ProofingError("video_blocked")
        self.document_ids = [*self.document_ids, *photo_ids, video_id]
        self.submitted_at = now
        self._move(CaseStatus.ONLINE_REVIEW, now, "person", "video_submitted")
        return self.document_ids

    def video_failed(self, reviewer: str, reason: str, policy: IdentityPolicy, now: datetime) -> bool:
        """A reviewer found the video unusable: one failed attempt. Returns True when the path is
        now blocked for the policy's time (two failures, seed 004), the person may try again after."""
        self._require(CaseStatus.ONLINE_REVIEW)
        self.video_failures += 1
        self.video_challenge = None
        blocked = self.video_failures % policy.video_max_failures == 0
        if blocked:
            self.video_blocked_until = now + timedelta(seconds=policy.video_block_seconds)
        self._move(CaseStatus.ONLINE_LETTER, now, reviewer, "video_failed", reason)
        return blocked

    def review_due_at(self, policy: IdentityPolicy) -> datetime | None:
        return self.submitted_at + timedelta(hours=policy.review_sla_hours) if self.submitted_at else None

    # -- decisions -------------------------------------------------------------------------------
    def decide(self, decision: Decision, actor: str, reason: str, policy: IdentityPolicy, now: datetime) -> list[str]:
        """An agent's (in person) or a reviewer's (online) decision. Returns the document ids to
        delete: seed 001 promises the images are checked, not kept."""
        self._require(CaseStatus.IN_PERSON, CaseStatus.ONLINE_REVIEW)
        self._check_wizard_done()
        if decision is Decision.REJECTED and not reason.strip():
            raise ProofingError("reason_required")
        self.decision, self.decision_reason, self.decided_by, self.decided_at = decision, reason.strip(), actor, now
        to_delete, self.document_ids = self.document_ids, []
        if decision is Decision.APPROVED:
            self.activation_expires_at = now + timedelta(days=policy.activation_code_ttl_days)
            self.activation_tries = 0
            self._move(CaseStatus.ACTIVATION, now, actor, "approved", reason.strip())
        else:
            self.closed_reason = "rejected"
            self._move(CaseStatus.REJECTED, now, actor, "rejected", reason.strip())
        return to_delete

    def reopen_activation(self, policy: IdentityPolicy, now: datetime) -> None:
        """A new activation code (the old one expired or was used up): same case, fresh tries."""
        self._require(CaseStatus.ACTIVATION)
        self.activation_expires_at = now + timedelta(days=policy.activation_code_ttl_days)
        self.activation_tries = 0
        self.history.append(CaseEvent(now, "system", "activation_code_renewed"))

    def activation_open(self, policy: IdentityPolicy, now: datetime) -> bool:
        return (
            self.status is CaseStatus.ACTIVATION
            and self.activation_expires_at is not None
            and now < self.activation_expires_at
            and self.activation_tries < policy.activation_max_tries
        )

    def count_activation_try(self, policy: IdentityPolicy, now: datetime) -> None:
        """One try of the activation code (before checking it); raises when none is left."""
        self._require(CaseStatus.ACTIVATION)
        if self.activation_expires_at is None or now >= self.activation_expires_at:
            raise ProofingError("activation_expired")
        if self.activation_tries >= policy.activation_max_tries:
            raise ProofingError("activation_locked")
        self.activation_tries += 1

    def activate(self, now: datetime) -> VerifiedIdentity:
        """The activation code was right: the identity exists, at level substantial.

        The single door to a verified identity; it checks every step again.
        """
        self._require(CaseStatus.ACTIVATION)
        self._check_wizard_done_for_evidence()
        assert self.identity is not None and self.document_kind is not None and self.method is not None
        assert self.mobile is not None and self.decided_at is not None and self.decided_by is not None
        if self.decision is not Decision.APPROVED:
            raise ProofingError("not_approved")
        self.completed_at = now
        self._move(CaseStatus.COMPLETED, now, "person", "activated")
        evidence = Evidence(
            method=self.method,
            verifier=self.decided_by,
            document_kind=self.document_kind,
            document_number_hash=document_number_hash(self.document_kind, self.identity.document_number),
            document_expiry=self.identity.document_expiry,
            mrz_outcome=self.mrz_outcome or MrzOutcome.NOT_CHECKED,
            terms_version=self.terms_version or "",
            started_at=self.created_at,
            mobile_verified_at=self.mobile_verified_at or now,
            decided_at=self.decided_at,
            activated_at=now,
            case_id=self.id,
        )
        return VerifiedIdentity(
            id=0,
            tenant_id=self.tenant_id,
            account_id=self.account_id,
            level=SUBSTANTIAL,
            data=self.identity,
            mobile=self.mobile,
            address=self.address,
            evidence=evidence,
            verified_at=now,
        )

    def _check_wizard_done_for_evidence(self) -> None:
        # After the decision the images are gone, so the document is proved by its kind and the decision.
        missing = [
            name
            for name, present in (
                ("terms", self.terms_accepted_at is not None),
                ("document", self.document_kind is not None),
                ("identity", self.identity is not None and self.identity_confirmed_at is not None),
                ("mobile", self.mobile_verified_at is not None and self.mobile is not None),
                ("address", self.address is not None),
                ("verification", self.decision is Decision.APPROVED and self.decided_by is not None),
                ("method", self.method is not None),
            )
            if not present
        ]
        if missing:
            raise ProofingError("step_missing", f"case {self.id} lacks {', '.join(missing)}")

    def abandon(self, reason: str, now: datetime, actor: str = "system") -> list[str]:
        if not self.open:
            raise ProofingError("case_closed")
        to_delete, self.document_ids = self.document_ids, []
        self.closed_reason = reason
        self._move(CaseStatus.ABANDONED, now, actor, "abandoned", reason)
        return to_delete


# -- the result ----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Evidence:
    """What eIDAS asks us to keep (7 years by default): how the identity was verified, by whom, when."""

    method: VerificationMethod
    verifier: str
    document_kind: IdentityDocumentKind
    document_number_hash: str
    document_expiry: date | None
    mrz_outcome: MrzOutcome
    terms_version: str
    started_at: datetime
    mobile_verified_at: datetime
    decided_at: datetime
    activated_at: datetime
    case_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "verifier": self.verifier,
            "document_kind": self.document_kind.value,
            "document_number_hash": self.document_number_hash,
            "document_expiry": self.document_expiry.isoformat() if self.document_expiry else None,
            "mrz_outcome": self.mrz_outcome.value,
            "terms_version": self.terms_version,
            "started_at": self.started_at.isoformat(),
            "mobile_verified_at": self.mobile_verified_at.isoformat(),
            "decided_at": self.decided_at.isoformat(),
            "activated_at": self.activated_at.isoformat(),
            "case_id": self.case_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        expiry = data.get("document_expiry")
        return cls(
            method=VerificationMethod(data["method"]),
            verifier=data["verifier"],
            document_kind=IdentityDocumentKind(data["document_kind"]),
            document_number_hash=data["document_number_hash"],
            document_expiry=date.fromisoformat(expiry) if expiry else None,
            mrz_outcome=MrzOutcome(data["mrz_outcome"]),
            terms_version=data.get("terms_version", ""),
            started_at=datetime.fromisoformat(data["started_at"]),
            mobile_verified_at=datetime.fromisoformat(data["mobile_verified_at"]),
            decided_at=datetime.fromisoformat(data["decided_at"]),
            activated_at=datetime.fromisoformat(data["activated_at"]),
            case_id=int(data["case_id"]),
        )


@dataclass(slots=True)
class VerifiedIdentity:
    """An account's verified identity. ``app_activated_at`` is set by the phone app's activation
    (issue 7): until then the identity exists but cannot yet reach ``eidas2`` logins."""

    id: int
    tenant_id: int
    account_id: int
    level: str
    data: IdentityData
    mobile: str
    address: PostalAddress | None
    evidence: Evidence
    verified_at: datetime
    app_activated_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def usable_for_eidas2(self) -> bool:
        return self.active and self.level == SUBSTANTIAL and self.app_activated_at is not None

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = dict(self.data.claims())
        claims["phone_number"] = self.mobile
        claims["phone_number_verified"] = True
        if self.address is not None:
            claims["address"] = self.address.claim()
        return claims

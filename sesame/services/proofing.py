"""The person's side of the digital identity enrolment (seed 001): the wizard's steps, the online
path's video, the activation code.

One method per step. A wizard step runs in the flow runner's unit of work
(``sesame/flows/proofing/steps.py``): the step first does the slow work through the
``prepare_*``/``read_*`` methods here (re-encoding images, OCR, counters: ADR 0002), then calls the
step's method with ``env.uow``, which loads the case, checks it is at that step (the case's
status decides, never the URL), changes it, saves it with optimistic locking and audits; the
runner commits it with the flow. The video page and the activation code delivery (called by the
back office right after an approval) open their own transactions.

Refusals raise :class:`~sesame.domain.identity.ProofingError` with a code the pages turn into a
sentence (:class:`StepRefused` when the code belongs to a form field); nothing is changed then.
A wrong one-time code is not an exception: its try must be saved, so the method saves the case
and returns the :class:`~sesame.services.proofing_codes.CodeCheck` result. Audit events never
hold a code, a document number nor an image: a case id, a kind, an outcome.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from sesame.domain.accounts import Account
from sesame.domain.documents import DocumentUnreadable
from sesame.domain.identity import (
    CaseStatus,
    CodePurpose,
    Decision,
    IdentityData,
    PostalAddress,
    ProofingCase,
    ProofingError,
    VerificationMethod,
    VerifiedIdentity,
)
from sesame.domain.images import ACCEPTED_MEDIA_TYPES, ImageRejected, SanitizedImage
from sesame.domain.messages import Channel
from sesame.domain.mrz import MrzReading, TypedIdentity, best_reading, compare_reading
from sesame.domain.phones import mask_mobile
from sesame.domain.registered_letters import LetterAction, LetterStatus
from sesame.domain.tenants import IdentityDocumentKind, IdentityPolicy, Tenant
from sesame.messages.render import normalize_locale, render_message
from sesame.ports import Clock, Counters, ImageSanitizer, KeyedHasher, MrzReader, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email, queue_sms
from sesame.services.proofing_codes import (
    CodeCheck,
    activation_ttl,
    check_code,
    new_code,
    renew_code,
    resend_wait,
    send_code_by_sms,
)
from sesame.services.registered_letters import RegisteredLetters
from sesame.services.settings import public_url

#: The digital identity's own terms (seed 001 step 3), stored with the case when accepted.
IDENTITY_TERMS_VERSION = "2026-01"
#: The in-person code is "the code of the day" where the post offices are.
PARIS = ZoneInfo("Europe/Paris")
#: SMS a person may have sent by the enrolment in a day, whatever the steps (no SMS bombing).
SMS_PER_DAY = 10
SMS_COUNTER_WINDOW = 24 * 3600
#: The online path's video: a few seconds of WebM or MP4 (checked by content, not by name).
VIDEO_MAX_BYTES = 30 * 1024 * 1024
VIDEO_MIN_BYTES = 1024
WEBM = "video/webm"
MP4 = "video/mp4"
#: The digits the person reads aloud in the video.
CHALLENGE_DIGITS = 3
#: Documents that have two sides to upload (a passport: its photo page only).
TWO_SIDED = frozenset({IdentityDocumentKind.NATIONAL_ID_CARD, IdentityDocumentKind.RESIDENCE_PERMIT})
SYSTEM = RequestContext(actor="system")


class StepRefused(ProofingError):
    """A step's input refused, field by field (field -> reason code); nothing was changed."""

    def __init__(self, errors: Mapping[str, str], **params: str) -> None:
        first = next(iter(errors.values()), "invalid")
        super().__init__(first, "refused: " + ", ".join(f"{k}={v}" for k, v in errors.items()))
        self.errors = dict(errors)
        self.params = dict(params)


class CaseMoved(ProofingError):
    """The case is not at the step the form was for (another tab, another device, an agent):
    nothing was changed; ``status`` is where it is."""

    def __init__(self, status: CaseStatus) -> None:
        super().__init__("wrong_step", f"the case is at {status.value}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file as the browser sent it: its name and type are hints, never trusted."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """The document step's images, re-encoded (slow work done before the transaction)."""

    kind: IdentityDocumentKind
    images: tuple[tuple[str, SanitizedImage], ...]  # (label, image)


@dataclass(frozen=True, slots=True)
class PreparedVideo:
    photos: tuple[tuple[str, SanitizedImage], ...]
    video: bytes = field(repr=False)
    video_type: str = WEBM


@dataclass(frozen=True, slots=True)
class Overview:
    """Where an account stands: its verified identity, its open case, its latest closed one."""

    identity: VerifiedIdentity | None
    case: ProofingCase | None
    last_closed: ProofingCase | None


@dataclass(frozen=True, slots=True)
class VideoPage:
    """What the online path's video page shows."""

    case: ProofingCase
    letter_opened: bool
    blocked_until: datetime | None


# -- pure helpers ------------------------------------------------------------------------------


def end_of_day(now: datetime) -> datetime:
    """Midnight after ``now`` in Paris: the in-person code is valid for the rest of the day."""
    local = now.astimezone(PARIS)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PARIS)


def sniff_video(data: bytes) -> str | None:
    """WebM (an EBML header whose doctype is webm) or MP4 (an ISO BMFF ``ftyp`` box), by content."""
    if data[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in data[:64]:
        return WEBM
    if data[4:8] == b"ftyp" and data[8:12].isascii() and data[8:12].strip(b" ").isalnum():
        return MP4
    return None


def new_challenge() -> str:
    return f"{secrets.randbelow(10**CHALLENGE_DIGITS):0{CHALLENGE_DIGITS}d}"


def owner_of(case: ProofingCase) -> str:
    """The document store's owner of a case's images (deleted together)."""
    return f"proofing:{case.id}"


class ProofingService:
    """The enrolment's use cases; cheap to make (``Container.proofing``)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        keyed: KeyedHasher,
        counters: Counters,
        *,
        images: ImageSanitizer,
        mrz_reader: MrzReader | None,
        letters: RegisteredLetters,
        base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._counters = counters
        self._images = images
        self._mrz = mrz_reader
        self._letters = letters
        self._base_url = base_url.rstrip("/")

    # -- where the account stands ---------------------------------------------------------------

    def overview(self, tenant: Tenant, account_id: int) -> Overview:
        with self._uow(readonly=True) as uow:
            identity = uow.identities.of_account(account_id)
            case = uow.proofing.open_case_of(account_id)
            closed = [c for c in uow.proofing.cases_of(account_id) if not c.open and c.tenant_id == tenant.id]
        if case is not None and case.tenant_id != tenant.id:
            case = None
        return Overview(identity=identity, case=case, last_closed=closed[0] if closed else None)

    def case_of(self, tenant: Tenant, account_id: int, case_id: int) -> ProofingCase:
        """The account's case (open or not); ``ProofingError("case_not_found")`` for anyone else's."""
        with self._uow(readonly=True) as uow:
            return self._owned(uow, tenant, account_id, case_id)

    def start(self, uow: UnitOfWork, tenant: Tenant, account: Account, context: RequestContext) -> ProofingCase:
        """The account's open case, or a new one at the terms: one open case per account."""
        policy = tenant.policy.identity
        if not policy.enabled:
            raise ProofingError("identity_disabled")
        if account.tenant_id != tenant.id:
            raise ProofingError("case_not_found")
        uow.accounts.get(account.id, for_update=True)  # two starts at once make one case
        if uow.identities.of_account(account.id) is not None:
            raise ProofingError("already_verified")
        existing = uow.proofing.open_case_of(account.id)
        if existing is not None:
            return existing
        now = self._clock.now()
        case = uow.proofing.add(
            ProofingCase(
                id=0,
                tenant_id=tenant.id,
                account_id=account.id,
                status=CaseStatus.TERMS,
                created_at=now,
                updated_at=now,
            )
        )
        self._audit(uow, tenant, "identity.case_started", case, context)
        return case

    def open_case(self, tenant: Tenant, account: Account, context: RequestContext) -> ProofingCase:
        """:meth:`start` in a transaction of its own (the prerequisites page's "Continue")."""
        with self._uow() as uow:
            case = self.start(uow, tenant, account, context)
            uow.commit()
        return case

    def load(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int, at: CaseStatus | None = None
    ) -> ProofingCase:
        """The account's case, at step ``at`` (else :class:`CaseMoved`)."""
        case = self._owned(uow, tenant, account_id, case_id)
        if at is not None and case.status is not at:
            raise CaseMoved(case.status)
        return case

    # -- terms ------------------------------------------------------------------------------------

    def accept_terms(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int, accepted: bool, context: RequestContext
    ) -> ProofingCase:
        if not accepted:
            raise StepRefused({"accept": "required"})
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.TERMS)
        case.accept_terms(IDENTITY_TERMS_VERSION, self._clock.now())
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.terms_accepted", case, context, {"version": IDENTITY_TERMS_VERSION})
        return case

    # -- the document ---------------------------------------------------------------------------

    def prepare_document(
        self, tenant: Tenant, kind_value: str, recto: Upload | None, verso: Upload | None
    ) -> PreparedDocument:
        """Slow: check and re-encode the images (before any transaction). ``StepRefused`` names
        each bad field: ``kind`` (missing, not accepted), ``recto``/``verso`` (missing, too_large,
        not_an_image, unsupported_type, truncated, polyglot, too_many_pixels)."""
        policy = tenant.policy.identity
        errors: dict[str, str] = {}
        try:
            kind = IdentityDocumentKind(kind_value)
        except ValueError:
            kind = None
        if kind is None:
            errors["kind"] = "required"
        elif kind not in policy.accepted_documents:
            errors["kind"] = "document_not_accepted"
        sides: list[tuple[str, Upload | None]] = [("recto", recto)]
        if kind is None or kind in TWO_SIDED or (verso is not None and verso.data):
            sides.append(("verso", verso))
        images: list[tuple[str, SanitizedImage]] = []
        for label, upload in sides:
            try:
                images.append((label, self._image(upload, policy)))
            except ProofingError as error:
                errors[label] = error.code
        if errors or kind is None:
            raise StepRefused(errors or {"kind": "required"})
        return PreparedDocument(kind=kind, images=tuple(images))

    def attach_document(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account_id: int,
        case_id: int,
        prepared: PreparedDocument,
        context: RequestContext,
    ) -> ProofingCase:
        """Store the images encrypted and attach them; images they replace are deleted."""
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.DOCUMENT)
        now = self._clock.now()
        ids = [
            uow.documents.put(tenant.id, owner_of(case), label, image.content, image.media_type, now)
            for label, image in prepared.images
        ]
        replaced = case.attach_document(prepared.kind, ids, tenant.policy.identity, now)
        for document_id in replaced:
            uow.documents.delete(document_id)
        uow.proofing.save(case)
        details = {"kind": prepared.kind.value, "images": len(ids), "replaced": len(replaced)}
        self._audit(uow, tenant, "identity.document_added", case, context, details)
        return case

    # -- the identity form -------------------------------------------------------------------------

    def read_mrz(self, tenant: Tenant, account_id: int, case_id: int) -> MrzReading:
        """Slow: OCR the case's document images (before any transaction). Without an OCR
        engine, the reading says so, and the comparison will say "not checked"."""
        if self._mrz is None:
            return MrzReading.engine_missing()
        with self._uow(readonly=True) as uow:
            case = self._owned(uow, tenant, account_id, case_id)
            try:
                found = [uow.documents.get(document_id) for document_id in case.document_ids]
            except DocumentUnreadable:
                return MrzReading(engine_available=True)  # unreadable for the agent, never "passed"
            contents = [stored.content for stored in found if stored is not None]
        readings = []
        for content in reversed(contents):  # cards and permits have their zone on the back
            readings.append(self._mrz.read(content))
            if readings[-1].mrz is not None and readings[-1].mrz.valid:
                break
        return best_reading(readings)

    def fill_identity(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account_id: int,
        case_id: int,
        data: IdentityData,
        reading: MrzReading,
        context: RequestContext,
    ) -> list[str]:
        """Store the form and the MRZ comparison; returns the eligibility problems. Under age or
        a type not accepted refuses the case (its images are deleted); an expired document
        leaves only the in-person methods (seed 004)."""
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.IDENTITY)
        now = self._clock.now()
        today = now.astimezone(PARIS).date()
        if data.birth_date > today:
            raise StepRefused({"birth_date": "in_future"})
        comparison = compare_reading(reading, TypedIdentity.from_form(data))
        case.record_mrz(comparison.outcome, comparison.detail())
        problems = case.fill_identity(data, tenant.policy.identity, today, now)
        details: dict[str, object] = {"mrz": comparison.outcome.value, "problems": sorted(problems)}
        if case.status is CaseStatus.REFUSED:
            for document_id in case.document_ids:
                uow.documents.delete(document_id)
            case.document_ids = []
            self._audit(uow, tenant, "identity.refused", case, context, {"reason": case.closed_reason})
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.form_filled", case, context, details)
        return problems

    def confirm_identity(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int, context: RequestContext
    ) -> ProofingCase:
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.REVIEW)
        case.confirm_identity(self._clock.now())
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.form_confirmed", case, context)
        return case

    def go_back(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account_id: int,
        case_id: int,
        current: CaseStatus,
        to: CaseStatus,
        context: RequestContext,
    ) -> ProofingCase:
        """The wizard's "Modify": back to an earlier step (what it established is undone)."""
        case = self.load(uow, tenant, account_id, case_id, current)
        if not case.can_go_back_to(to):
            raise ProofingError("wrong_step")
        case.go_back_to(to, self._clock.now())
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.step_modified", case, context, {"to": to.value})
        return case

    # -- the mobile ---------------------------------------------------------------------------------

    def count_sms(self, account_id: int) -> None:
        """Slow (counters, own transaction): one more SMS for this account today, or refused."""
        now = self._clock.now()
        if self._counters.increment(f"proofing-sms:{account_id}", SMS_COUNTER_WINDOW, now) > SMS_PER_DAY:
            raise ProofingError("sms_limit")

    def set_mobile(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account: Account,
        case_id: int,
        e164: str,
        context: RequestContext,
    ) -> ProofingCase:
        """Record the number and text it a code (6 digits, policy's lifetime). Giving another
        number from the code page waits for the resend delay and keeps the failed tries."""
        case = self._owned(uow, tenant, account.id, case_id)
        if case.status not in (CaseStatus.MOBILE, CaseStatus.MOBILE_CODE):
            raise CaseMoved(case.status)
        policy, now = tenant.policy.identity, self._clock.now()
        self._check_cooldown(case, CodePurpose.MOBILE, policy, now)
        case.set_mobile(e164, now)
        code = renew_code(self._keyed, case, CodePurpose.MOBILE, timedelta(seconds=policy.sms_code_ttl_seconds), now)
        send_code_by_sms(uow, tenant, account.locale, case, CodePurpose.MOBILE, code, now)
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.mobile_code_sent", case, context, {"mobile": mask_mobile(e164)})
        return case

    def resend_mobile_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case_id: int, context: RequestContext
    ) -> ProofingCase:
        """A new code to the same number, once the delay is over; the failed tries stay."""
        case = self.load(uow, tenant, account.id, case_id, CaseStatus.MOBILE_CODE)
        policy, now = tenant.policy.identity, self._clock.now()
        self._check_cooldown(case, CodePurpose.MOBILE, policy, now)
        code = renew_code(self._keyed, case, CodePurpose.MOBILE, timedelta(seconds=policy.sms_code_ttl_seconds), now)
        send_code_by_sms(uow, tenant, account.locale, case, CodePurpose.MOBILE, code, now)
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.mobile_code_sent", case, context, {"resend": True})
        return case

    def verify_mobile(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int, presented: str, context: RequestContext
    ) -> str:
        """Check the SMS code (a :class:`CodeCheck` result); the try is saved whatever the result."""
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.MOBILE_CODE)
        policy, now = tenant.policy.identity, self._clock.now()
        result = check_code(self._keyed, case, CodePurpose.MOBILE, presented, policy.sms_max_tries, now)
        if result == CodeCheck.OK:
            case.verify_mobile(now)
            self._audit(uow, tenant, "identity.mobile_verified", case, context)
        else:
            self._audit(uow, tenant, "identity.mobile_code_failed", case, context, {"result": result})
        uow.proofing.save(case)
        return result

    def resend_wait(self, case: ProofingCase, purpose: CodePurpose, policy: IdentityPolicy) -> int:
        """Seconds before "send again" works (the page's countdown)."""
        return resend_wait(case, purpose, timedelta(seconds=policy.sms_resend_after_seconds), self._clock.now())

    def _check_cooldown(self, case: ProofingCase, purpose: CodePurpose, policy: IdentityPolicy, now: datetime) -> None:
        wait = resend_wait(case, purpose, timedelta(seconds=policy.sms_resend_after_seconds), now)
        if wait > 0:
            raise StepRefused({"resend": "wait"}, seconds=str(wait))

    # -- the address and the method ---------------------------------------------------------------

    def set_address(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account_id: int,
        case_id: int,
        address: PostalAddress,
        context: RequestContext,
    ) -> ProofingCase:
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.ADDRESS)
        case.set_address(address, self._clock.now())
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.address_given", case, context, {"insee_town": address.town_code or ""})
        return case

    def choose_method(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account: Account,
        case_id: int,
        method_value: str,
        online_terms_accepted: bool,
        context: RequestContext,
    ) -> ProofingCase:
        """In person: the code of the day by SMS. Online: the registered letter that leads to the
        video (its terms accepted, seed 001)."""
        case = self.load(uow, tenant, account.id, case_id, CaseStatus.METHOD)
        policy, now = tenant.policy.identity, self._clock.now()
        try:
            method = VerificationMethod(method_value)
        except ValueError:
            raise StepRefused({"method": "required"}) from None
        if method not in case.methods_offered(policy):
            raise StepRefused({"method": "method_not_offered"})
        if method is VerificationMethod.ONLINE and not online_terms_accepted:
            raise StepRefused({"online_terms": "required"})
        case.choose_method(method, policy, now)
        self._audit(uow, tenant, "identity.method_chosen", case, context, {"method": method.value})
        if method.in_person:
            self._send_day_code(uow, tenant, account, case, now, context)
        else:
            self._send_video_letter(uow, tenant, account, case, now, context)
        uow.proofing.save(case)
        return case

    def resend_day_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case_id: int, context: RequestContext
    ) -> ProofingCase:
        """Today's code again (a new one: the earlier ones stop working), after the resend delay."""
        case = self.load(uow, tenant, account.id, case_id, CaseStatus.IN_PERSON)
        policy, now = tenant.policy.identity, self._clock.now()
        self._check_cooldown(case, CodePurpose.IN_PERSON, policy, now)
        self._send_day_code(uow, tenant, account, case, now, context)
        uow.proofing.save(case)
        return case

    def _send_day_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case: ProofingCase, now: datetime, ctx: RequestContext
    ) -> None:
        code = renew_code(self._keyed, case, CodePurpose.IN_PERSON, end_of_day(now) - now, now)
        send_code_by_sms(uow, tenant, account.locale, case, CodePurpose.IN_PERSON, code, now)
        self._audit(uow, tenant, "identity.day_code_sent", case, ctx, {"expires_at": end_of_day(now).isoformat()})

    def _send_video_letter(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case: ProofingCase, now: datetime, ctx: RequestContext
    ) -> None:
        context = {"name": account.given_name, "sla_hours": tenant.policy.identity.review_sla_hours}
        letter = render_message(
            Channel.LETTER, "identity_online_check", account.locale, self._message_vars(tenant, context)
        )
        label = render_message(
            Channel.LETTER, "identity_online_check_action", account.locale, self._message_vars(tenant, {})
        )
        sent = self._letters.send(
            uow,
            tenant,
            account,
            letter.subject,
            letter.text,
            action=LetterAction(label.text.strip(), self.video_url(tenant)),
            purpose=f"proofing:{case.id}",
            now=now,
            context=ctx,
        )
        case.letter_sent(sent.reference, now)
        self._audit(uow, tenant, "identity.letter_sent", case, ctx, {"reference": sent.reference})

    # -- the online path: photo and video ------------------------------------------------------------

    def video_url(self, tenant: Tenant) -> str:
        return public_url(self._base_url, tenant, "identity/video")

    def video_page(self, tenant: Tenant, account_id: int) -> VideoPage:
        """The open case of the online path, and whether its letter was opened (the video comes
        after the acknowledgement of receipt); ``ProofingError("no_video")`` otherwise."""
        now = self._clock.now()
        with self._uow(readonly=True) as uow:
            case = uow.proofing.open_case_of(account_id)
            if case is None or case.tenant_id != tenant.id or case.method is not VerificationMethod.ONLINE:
                raise ProofingError("no_video")
            letter = uow.letters.get(tenant.id, case.letter_ref) if case.letter_ref else None
        opened = letter is not None and letter.status is LetterStatus.OPENED
        blocked = None if case.video_allowed(now) else case.video_blocked_until
        return VideoPage(case=case, letter_opened=opened, blocked_until=blocked)

    def start_video(self, tenant: Tenant, account_id: int, context: RequestContext) -> str:
        """Three fresh digits to read aloud (each start draws new ones: no video made beforehand)."""
        now = self._clock.now()
        with self._uow() as uow:
            case = self._video_case(uow, tenant, account_id)
            challenge = new_challenge()
            case.start_video(challenge, now)
            uow.proofing.save(case)
            self._audit(uow, tenant, "identity.video_started", case, context)
            uow.commit()
        return challenge

    def prepare_video(
        self, tenant: Tenant, recto: Upload | None, verso: Upload | None, video: Upload | None, max_bytes: int
    ) -> PreparedVideo:
        """Slow: the photo of the document re-encoded, the video checked by content."""
        policy = tenant.policy.identity
        errors: dict[str, str] = {}
        photos: list[tuple[str, SanitizedImage]] = []
        for label, upload in (("photo_recto", recto), ("photo_verso", verso)):
            if label == "photo_verso" and (upload is None or not upload.data):
                continue
            try:
                photos.append((label, self._image(upload, policy)))
            except ProofingError as error:
                errors[label] = error.code
        video_type = None
        if video is None or not video.data:
            errors["video"] = "missing"
        elif len(video.data) > min(max_bytes, VIDEO_MAX_BYTES):
            errors["video"] = "too_large"
        elif len(video.data) < VIDEO_MIN_BYTES:
            errors["video"] = "truncated"
        else:
            video_type = sniff_video(video.data)
            if video_type is None:
                errors["video"] = "unsupported_type"
        if errors or video is None or video_type is None:
            raise StepRefused(errors or {"video": "missing"})
        return PreparedVideo(photos=tuple(photos), video=video.data, video_type=video_type)

    def submit_video(
        self, tenant: Tenant, account: Account, prepared: PreparedVideo, context: RequestContext
    ) -> ProofingCase:
        """Photo and video in (encrypted): the reviewers' service level starts (seed 001: 48 hours)."""
        now = self._clock.now()
        with self._uow() as uow:
            case = self._video_case(uow, tenant, account.id)
            owner = owner_of(case)
            photo_ids = [
                uow.documents.put(tenant.id, owner, label, image.content, image.media_type, now)
                for label, image in prepared.photos
            ]
            video_id = uow.documents.put(tenant.id, owner, "video", prepared.video, prepared.video_type, now)
            case.submit_video(photo_ids, video_id, now)
            uow.proofing.save(case)
            self._audit(uow, tenant, "identity.video_submitted", case, context, {"photos": len(photo_ids)})
            if account.email:
                variables = {"name": account.given_name, "sla_hours": tenant.policy.identity.review_sla_hours}
                queue_email(uow, tenant, "identity_video_received", account.locale, account.email, variables, now=now)
            uow.commit()
        return case

    def _video_case(self, uow: UnitOfWork, tenant: Tenant, account_id: int) -> ProofingCase:
        case = uow.proofing.open_case_of(account_id)
        if case is None or case.tenant_id != tenant.id or case.method is not VerificationMethod.ONLINE:
            raise ProofingError("no_video")
        if case.status is not CaseStatus.ONLINE_LETTER:
            raise CaseMoved(case.status)
        letter = uow.letters.get(tenant.id, case.letter_ref) if case.letter_ref else None
        if letter is None or letter.status is not LetterStatus.OPENED:
            raise ProofingError("letter_not_opened")
        if not case.video_allowed(self._clock.now()):
            raise ProofingError("video_blocked")
        return case

    # -- activation -------------------------------------------------------------------------------

    def deliver_activation_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case: ProofingCase, now: datetime
    ) -> None:
        """Called in the back office's transaction right after an approval (``case.decide``):
        a fresh activation code, valid as long as the case's activation window, delivered in a
        registered letter with an SMS notice (online path, seed 001) or by SMS (in person).
        Saves the case (its code's hash); the caller commits."""
        if case.status is not CaseStatus.ACTIVATION or case.decision is not Decision.APPROVED:
            raise ProofingError("not_approved")
        if account.id != case.account_id or tenant.id != case.tenant_id:
            raise ProofingError("case_not_found")
        code = new_code(self._keyed, case, CodePurpose.ACTIVATION, activation_ttl(case, now), now)
        if case.method is VerificationMethod.ONLINE:
            self._send_activation_letter(uow, tenant, account, case, code, now)
        else:
            send_code_by_sms(uow, tenant, account.locale, case, CodePurpose.ACTIVATION, code, now)
        uow.proofing.save(case)
        details = {"channel": "letter" if case.method is VerificationMethod.ONLINE else "sms"}
        self._audit(uow, tenant, "identity.activation_code_sent", case, SYSTEM, details)

    def _send_activation_letter(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case: ProofingCase, code: str, now: datetime
    ) -> None:
        assert case.activation_expires_at is not None
        variables = self._message_vars(
            tenant,
            {
                "name": account.given_name,
                "code": code,
                "expires_on": format_date(
                    case.activation_expires_at.astimezone(PARIS).date(), "long", locale=normalize_locale(account.locale)
                ),
            },
        )
        letter = render_message(Channel.LETTER, "identity_activation", account.locale, variables)
        label = render_message(Channel.LETTER, "identity_activation_action", account.locale, variables)
        sent = self._letters.send(
            uow,
            tenant,
            account,
            letter.subject,
            letter.text,
            action=LetterAction(label.text.strip(), public_url(self._base_url, tenant, "identity")),
            purpose=f"proofing:{case.id}:activation",
            now=now,
        )
        if case.mobile:
            notice = {"reference": sent.reference}
            queue_sms(uow, tenant, "identity_letter_notice", account.locale, case.mobile, notice, now=now)

    def new_activation_code(
        self, uow: UnitOfWork, tenant: Tenant, account: Account, case_id: int, context: RequestContext
    ) -> ProofingCase:
        """The activation window ran out: a new window and a new code, delivered as the first one.
        Not while the code still works, nor after its tries are used up (then: support)."""
        case = self.load(uow, tenant, account.id, case_id, CaseStatus.ACTIVATION)
        policy, now = tenant.policy.identity, self._clock.now()
        if case.activation_expires_at is not None and now < case.activation_expires_at:
            raise StepRefused(
                {"renew": "still_valid" if case.activation_tries < policy.activation_max_tries else "locked"}
            )
        case.reopen_activation(policy, now)
        self._audit(uow, tenant, "identity.activation_renewed", case, context)
        self.deliver_activation_code(uow, tenant, account, case, now)
        return case

    def activate(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int, presented: str, context: RequestContext
    ) -> str:
        """The activation code: right, the verified identity exists (level substantial). Every
        try is counted and saved (10 at most by default); a :class:`CodeCheck` result."""
        case = self.load(uow, tenant, account_id, case_id, CaseStatus.ACTIVATION)
        policy, now = tenant.policy.identity, self._clock.now()
        case.count_activation_try(policy, now)  # raises activation_expired / activation_locked
        result = check_code(self._keyed, case, CodePurpose.ACTIVATION, presented, policy.activation_max_tries, now)
        if result == CodeCheck.OK:
            if uow.identities.of_account(account_id) is not None:
                raise ProofingError("already_verified")
            identity = uow.identities.add(case.activate(now))
            self._audit(uow, tenant, "identity.activated", case, context, {"identity_id": identity.id})
        else:
            self._audit(uow, tenant, "identity.activation_failed", case, context, {"result": result})
        uow.proofing.save(case)
        return result

    def cancel(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int, context: RequestContext
    ) -> ProofingCase:
        """The person gives up: the case is closed and its images deleted."""
        case = self._owned(uow, tenant, account_id, case_id)
        for document_id in case.abandon("cancelled", self._clock.now(), actor="person"):
            uow.documents.delete(document_id)
        uow.documents.delete_owner(owner_of(case))
        uow.proofing.save(case)
        self._audit(uow, tenant, "identity.cancelled", case, context)
        return case

    # -- internals ------------------------------------------------------------------------------

    def _owned(self, uow: UnitOfWork, tenant: Tenant, account_id: int, case_id: int) -> ProofingCase:
        case = uow.proofing.get(case_id)
        if case is None or case.account_id != account_id or case.tenant_id != tenant.id:
            raise ProofingError("case_not_found")
        return case

    def _image(self, upload: Upload | None, policy: IdentityPolicy) -> SanitizedImage:
        if upload is None or not upload.data:
            raise ProofingError("missing")
        if len(upload.data) > policy.document_max_bytes:
            raise ProofingError("too_large")
        try:
            image = self._images.sanitize(upload.data, max_bytes=policy.document_max_bytes)
        except ImageRejected as error:
            raise ProofingError(error.reason.value) from None
        if image.media_type not in ACCEPTED_MEDIA_TYPES:
            raise ProofingError("unsupported_type")
        return image

    def _message_vars(self, tenant: Tenant, extra: Mapping[str, object]) -> dict[str, object]:
        return {"tenant_name": tenant.name, "tenant": tenant, **extra}

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        type: str,
        case: ProofingCase,
        context: RequestContext,
        details: Mapping[str, object] | None = None,
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            type,
            actor=context.actor,
            subject=f"account:{case.account_id}",
            ip=context.ip,
            correlation_id=context.correlation_id,
            details={"case_id": case.id, "status": case.status.value, **(details or {})},
        )

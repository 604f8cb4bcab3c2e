"""The enrolment's use cases on a real database: every step, its bad inputs, the codes, the online
path's video, the activation, and what never reaches the audit log."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from PIL import Image
from sqlalchemy import text

from sesame.adapters.clock import FrozenClock
from sesame.adapters.ocr_tesseract import TesseractMrzReader
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import FlowStateError
from sesame.domain.identity import (
    CaseStatus,
    Civility,
    CodePurpose,
    Decision,
    IdentityData,
    MrzOutcome,
    PostalAddress,
    ProofingCase,
    ProofingError,
)
from sesame.domain.tenants import IdentityDocumentKind, Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import list_messages
from sesame.services.proofing import (
    IDENTITY_TERMS_VERSION,
    SMS_PER_DAY,
    CaseMoved,
    ProofingService,
    StepRefused,
    Upload,
    end_of_day,
    sniff_video,
)
from sesame.services.proofing_codes import CodeCheck, check_code
from sesame.services.sessions import LiveSession
from tests.specimens import MARIE, french_id_card_recto, french_id_card_verso

CONTEXT = RequestContext(ip="192.0.2.7", correlation_id="corr-proofing", actor="account:test")
MOBILE = "+33612345678"
CODE_RE = re.compile(r"\b(\d{6})\b")
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 4000
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 4000
T = TypeVar("T")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email="maelys.martin@example.fr", given_name="Maëlys", family_name="Martin", verified=True)
    return container.accounts.create(tenant, new, "Proofing-Test-2026", RequestContext(actor="test"))


@pytest.fixture
def service(container: Container) -> ProofingService:
    return ProofingService(
        container.uow,
        container.clock,
        container.keyed,
        container.counters,
        images=container.images,
        mrz_reader=TesseractMrzReader(),
        letters=container.registered_letters,
        base_url="https://testserver",
    )


def png(size: tuple[int, int] = (60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (210, 190, 170)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (20, 80, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (60, 40)).save(buffer, "GIF")
    return buffer.getvalue()


def marie(**changes: Any) -> IdentityData:
    values: dict[str, Any] = {
        "civility": Civility.MRS,
        "given_names": "Maëlys-Gaëlle Marie",
        "birth_name": "Martin",
        "usage_name": "Martin",
        "birth_date": MARIE.birth_date,
        "birth_country": "99100",
        "birth_town": "29019",
        "document_number": MARIE.document_number,
        "document_expiry": MARIE.expiry_date,
        "nationality": "FRA",
    }
    values.update(changes)
    return IdentityData(**values)


HOME = PostalAddress(line1="12 rue des Lilas", postcode="75011", town="Paris", town_code="75111")


class Enrolment:
    """One person's case, driven through the service, one committed transaction per step."""

    def __init__(self, container: Container, service: ProofingService, tenant: Tenant, account: Account) -> None:
        self.container, self.service, self.tenant, self.account = container, service, tenant, account
        self.case_id = service.open_case(tenant, account, CONTEXT).id

    def run(self, step: Callable[..., T], *args: Any) -> T:
        with self.container.uow() as uow:
            result = step(uow, self.tenant, *args)
            uow.commit()
        return result

    @property
    def case(self) -> ProofingCase:
        return self.service.case_of(self.tenant, self.account.id, self.case_id)

    def terms(self) -> None:
        self.run(self.service.accept_terms, self.account.id, self.case_id, True, CONTEXT)

    def documents(self, kind: str = "national_id_card", recto: bytes | None = None, verso: bytes | None = None) -> None:
        prepared = self.service.prepare_document(
            self.tenant,
            kind,
            Upload("recto.png", "image/png", recto or french_id_card_recto(MARIE, dpi=200)),
            Upload("verso.png", "image/png", verso or french_id_card_verso(MARIE, dpi=250)),
        )
        self.run(self.service.attach_document, self.account.id, self.case_id, prepared, CONTEXT)

    def identity(self, data: IdentityData | None = None) -> list[str]:
        reading = self.service.read_mrz(self.tenant, self.account.id, self.case_id)
        return self.run(self.service.fill_identity, self.account.id, self.case_id, data or marie(), reading, CONTEXT)

    def confirm(self) -> None:
        self.run(self.service.confirm_identity, self.account.id, self.case_id, CONTEXT)

    def mobile(self, number: str = MOBILE) -> None:
        self.run(self.service.set_mobile, self.account, self.case_id, number, CONTEXT)

    def verify(self, code: str) -> str:
        return self.run(self.service.verify_mobile, self.account.id, self.case_id, code, CONTEXT)

    def address(self) -> None:
        self.run(self.service.set_address, self.account.id, self.case_id, HOME, CONTEXT)

    def method(self, method: str, online_terms: bool = True) -> None:
        self.run(self.service.choose_method, self.account, self.case_id, method, online_terms, CONTEXT)

    def through_wizard(self, method: str | None = None) -> None:
        self.terms()
        self.documents()
        self.identity()
        self.confirm()
        self.mobile()
        assert self.verify(sms_code(self.container, CodePurpose.MOBILE)) == CodeCheck.OK
        self.address()
        if method:
            self.method(method)

    def approve(self) -> None:
        with self.container.uow() as uow:
            case = uow.proofing.get(self.case_id)
            assert case is not None
            now = self.container.clock.now()
            for document_id in case.decide(Decision.APPROVED, "agent:1", "seen", self.tenant.policy.identity, now):
                uow.documents.delete(document_id)
            self.service.deliver_activation_code(uow, self.tenant, self.account, case, now)
            uow.commit()

    def activate(self, code: str) -> str:
        return self.run(self.service.activate, self.account.id, self.case_id, code, CONTEXT)


@pytest.fixture
def enrolment(container: Container, service: ProofingService, tenant: Tenant, account: Account) -> Enrolment:
    return Enrolment(container, service, tenant, account)


def messages(container: Container, channel: str, template: str | None = None) -> list[Any]:
    found = [
        entry.message
        for entry in list_messages(container.uow, tenant_slug="laposte")
        if entry.message.channel.value == channel and (template is None or entry.message.template == template)
    ]
    return found  # newest first


def sms_code(container: Container, purpose: CodePurpose) -> str:
    for message in messages(container, "sms", "identity_code"):
        match = CODE_RE.search(message.body_text)
        if match and purpose_of(message.body_text) is purpose:
            return match.group(1)
    raise AssertionError(f"no {purpose} code sent")


def purpose_of(text: str) -> CodePurpose:
    lowered = text.lower()
    if "activation" in lowered:
        return CodePurpose.ACTIVATION
    if "jour" in lowered or "day" in lowered:
        return CodePurpose.IN_PERSON
    return CodePurpose.MOBILE


def live_session(container: Container, tenant: Tenant, account: Account) -> LiveSession:
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="192.0.2.7", user_agent="t"
        )
        uow.commit()
    live = container.sessions.resolve(tenant, opened.token)
    assert live is not None
    return live


def audit_text(container: Container, tenant: Tenant) -> str:
    with container.uow(readonly=True) as uow:
        return json.dumps([(r.event.type, r.event.details) for r in uow.audit.chain(tenant.id)], default=str)


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [record.event.type for record in uow.audit.chain(tenant.id)]


# -- start ---------------------------------------------------------------------------------------------


def test_one_open_case_per_account(enrolment: Enrolment, service: ProofingService) -> None:
    again = service.open_case(enrolment.tenant, enrolment.account, CONTEXT)
    assert again.id == enrolment.case_id
    assert enrolment.case.status is CaseStatus.TERMS
    assert audit_types(enrolment.container, enrolment.tenant).count("identity.case_started") == 1


def test_refused_where_identity_is_disabled(container: Container, service: ProofingService, account: Account) -> None:
    banque = container.tenants.get("banque")
    with pytest.raises(ProofingError) as refused:
        service.open_case(banque, account, CONTEXT)
    assert refused.value.code == "identity_disabled"


def test_refused_when_the_account_is_verified_already(enrolment: Enrolment, service: ProofingService) -> None:
    enrolment.through_wizard("post_office")
    enrolment.approve()
    assert enrolment.activate(sms_code(enrolment.container, CodePurpose.ACTIVATION)) == CodeCheck.OK
    with pytest.raises(ProofingError) as refused:
        service.open_case(enrolment.tenant, enrolment.account, CONTEXT)
    assert refused.value.code == "already_verified"


def test_a_case_of_someone_else_is_not_found(
    enrolment: Enrolment, container: Container, service: ProofingService, tenant: Tenant
) -> None:
    other = container.accounts.create(
        tenant,
        NewAccount(email="intrus@example.fr", given_name="I", family_name="N", verified=True),
        "Other-Pass-2026",
        RequestContext(actor="test"),
    )
    with pytest.raises(ProofingError) as refused, container.uow() as uow:
        service.accept_terms(uow, tenant, other.id, enrolment.case_id, True, CONTEXT)
    assert refused.value.code == "case_not_found"
    assert enrolment.case.status is CaseStatus.TERMS


# -- terms and documents ------------------------------------------------------------------------------------


def test_terms_must_be_ticked(enrolment: Enrolment, service: ProofingService) -> None:
    with pytest.raises(StepRefused) as refused:
        enrolment.run(service.accept_terms, enrolment.account.id, enrolment.case_id, False, CONTEXT)
    assert refused.value.errors == {"accept": "required"}
    enrolment.terms()
    case = enrolment.case
    assert case.status is CaseStatus.DOCUMENT and case.terms_version == IDENTITY_TERMS_VERSION


def test_documents_are_reencoded_and_encrypted(enrolment: Enrolment, container: Container) -> None:
    enrolment.terms()
    recto = french_id_card_recto(MARIE, dpi=200)
    enrolment.documents(recto=recto)
    case = enrolment.case
    assert case.status is CaseStatus.IDENTITY and len(case.document_ids) == 2
    with container.uow(readonly=True) as uow:
        stored = uow.documents.get(case.document_ids[0])
        listed = uow.documents.list_owner(f"proofing:{case.id}")
        images = [uow.documents.get(document_id) for document_id in case.document_ids]
    assert stored is not None and stored.media_type == "image/png" and stored.label == "recto"
    assert len(listed) == 2
    with container.database.read_engine.connect() as connection:
        stored_rows = connection.execute(text("select ciphertext from documents")).fetchall()
    assert len(stored_rows) == 2
    # No row holds a PNG in clear: neither its opening (signature and header chunk) nor a piece of
    # its middle. (The 4-byte markers alone turn up in 100 kB of ciphertext once in 40,000 rows.)
    pieces = []
    for image in images:
        assert image is not None and image.content.startswith(b"\x89PNG\r\n\x1a\n")
        middle = len(image.content) // 2
        pieces += [image.content[:33], image.content[middle : middle + 64]]
    assert all(piece not in bytes(row[0]) for row in stored_rows for piece in pieces)


def bad_file(name: str | None) -> bytes | None:
    """Uploads by name: ``None`` is no file at all."""
    made: dict[str | None, bytes | None] = {
        None: None,
        "good": png(),
        "pdf": b"%PDF-1.4 a contract",
        "text": b"GIF",
        "gif": gif(),
        "polyglot": png() + b"PK\x03\x04" + b"\x00" * 300,
        "truncated": png((300, 200))[:-40],
        "huge": b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * 1024 * 1024 + 1),
        "jpeg": jpeg(),
    }
    return made[name]


@pytest.mark.parametrize(
    ("recto", "verso", "errors"),
    [
        ("pdf", None, {"recto": "not_an_image", "verso": "missing"}),
        ("good", "text", {"verso": "not_an_image"}),
        ("gif", None, {"recto": "unsupported_type", "verso": "missing"}),
        ("polyglot", "truncated", {"recto": "polyglot", "verso": "truncated"}),
        ("huge", "jpeg", {"recto": "too_large"}),
        (None, "good", {"recto": "missing"}),
    ],
)
def test_bad_images_are_refused_and_nothing_changes(
    enrolment: Enrolment, service: ProofingService, recto: str | None, verso: str | None, errors: dict[str, str]
) -> None:
    enrolment.terms()
    recto_bytes, verso_bytes = bad_file(recto), bad_file(verso)
    with pytest.raises(StepRefused) as refused:
        service.prepare_document(
            enrolment.tenant,
            "national_id_card",
            Upload("recto.jpg", "image/jpeg", recto_bytes) if recto_bytes else None,
            Upload("verso.png", "image/png", verso_bytes) if verso_bytes else None,
        )
    assert refused.value.errors == errors
    assert enrolment.case.status is CaseStatus.DOCUMENT and enrolment.case.document_ids == []


def test_a_jpeg_named_png_is_judged_by_its_content(enrolment: Enrolment, service: ProofingService) -> None:
    enrolment.terms()
    prepared = service.prepare_document(enrolment.tenant, "passport", Upload("photo.png", "image/png", jpeg()), None)
    assert [label for label, _ in prepared.images] == ["recto"]
    assert prepared.images[0][1].media_type == "image/jpeg"


def test_the_document_type_is_tenant_policy(enrolment: Enrolment, service: ProofingService) -> None:
    identity = enrolment.tenant.policy.identity.model_copy(
        update={"accepted_documents": (IdentityDocumentKind.PASSPORT,)}
    )
    strict = enrolment.tenant.model_copy(
        update={"policy": enrolment.tenant.policy.model_copy(update={"identity": identity})}
    )
    with pytest.raises(StepRefused) as refused:
        service.prepare_document(strict, "national_id_card", Upload("r.png", "image/png", png()), None)
    assert refused.value.errors["kind"] == "document_not_accepted"
    with pytest.raises(StepRefused) as unknown:
        service.prepare_document(strict, "driving_licence", Upload("r.png", "image/png", png()), None)
    assert unknown.value.errors["kind"] == "required"


def test_going_back_replaces_the_images(enrolment: Enrolment, service: ProofingService, container: Container) -> None:
    enrolment.terms()
    enrolment.documents()
    first = enrolment.case.document_ids
    enrolment.run(
        service.go_back, enrolment.account.id, enrolment.case_id, CaseStatus.IDENTITY, CaseStatus.DOCUMENT, CONTEXT
    )
    enrolment.documents()
    with container.uow(readonly=True) as uow:
        assert all(uow.documents.get(old) is None for old in first)
        assert len(uow.documents.list_owner(f"proofing:{enrolment.case_id}")) == 2


# -- identity form and MRZ ------------------------------------------------------------------------------------


def test_the_form_is_compared_with_the_mrz(enrolment: Enrolment) -> None:
    enrolment.terms()
    enrolment.documents()
    assert enrolment.identity() == []
    case = enrolment.case
    assert case.status is CaseStatus.REVIEW
    assert case.mrz_outcome is MrzOutcome.MATCH


def test_a_form_that_disagrees_with_the_mrz_is_a_mismatch_for_the_agent(enrolment: Enrolment) -> None:
    enrolment.terms()
    enrolment.documents()
    enrolment.identity(marie(birth_date=date(1990, 7, 14)))
    case = enrolment.case
    assert case.mrz_outcome is MrzOutcome.MISMATCH and case.mrz_detail["mismatches"] == ["birth_date"]
    assert case.status is CaseStatus.REVIEW  # the agent decides; the person is not told


def test_under_age_refuses_the_case_and_deletes_the_images(enrolment: Enrolment, container: Container) -> None:
    enrolment.terms()
    enrolment.documents()
    ids = enrolment.case.document_ids
    enrolment.identity(marie(birth_date=date(2010, 1, 1)))
    case = enrolment.case
    assert case.status is CaseStatus.REFUSED and case.closed_reason == "under_age"
    with container.uow(readonly=True) as uow:
        assert all(uow.documents.get(document_id) is None for document_id in ids)
    assert "identity.refused" in audit_types(container, enrolment.tenant)


def test_an_expired_document_leaves_only_the_in_person_methods(enrolment: Enrolment) -> None:
    enrolment.terms()
    enrolment.documents()
    enrolment.identity(marie(document_expiry=date(2025, 1, 1)))
    enrolment.confirm()
    enrolment.mobile()
    enrolment.verify(sms_code(enrolment.container, CodePurpose.MOBILE))
    enrolment.address()
    with pytest.raises(StepRefused) as refused:
        enrolment.method("online")
    assert refused.value.errors == {"method": "method_not_offered"}
    enrolment.method("post_office")
    assert enrolment.case.status is CaseStatus.IN_PERSON


def test_a_birth_date_in_the_future_is_refused(enrolment: Enrolment) -> None:
    enrolment.terms()
    enrolment.documents()
    with pytest.raises(StepRefused) as refused:
        enrolment.identity(marie(birth_date=date(2030, 1, 1)))
    assert refused.value.errors == {"birth_date": "in_future"}
    assert enrolment.case.status is CaseStatus.IDENTITY


def test_steps_cannot_be_skipped(enrolment: Enrolment, service: ProofingService) -> None:
    version = enrolment.case.version
    with pytest.raises(CaseMoved) as moved:
        enrolment.mobile()
    assert moved.value.status is CaseStatus.TERMS
    with pytest.raises(CaseMoved):
        enrolment.address()
    with pytest.raises(CaseMoved):
        enrolment.activate("123456")
    assert enrolment.case.version == version and enrolment.case.mobile is None


def test_a_double_submit_changes_the_case_once(enrolment: Enrolment, container: Container) -> None:
    enrolment.terms()
    with pytest.raises(CaseMoved):
        enrolment.terms()
    assert audit_types(container, enrolment.tenant).count("identity.terms_accepted") == 1


def test_a_stale_copy_of_the_case_cannot_be_saved(enrolment: Enrolment, container: Container) -> None:
    with container.uow() as uow:
        stale = uow.proofing.get(enrolment.case_id)
    enrolment.terms()
    assert stale is not None
    stale.accept_terms("other", container.clock.now())
    with pytest.raises(FlowStateError), container.uow() as uow:
        uow.proofing.save(stale)


# -- the mobile ------------------------------------------------------------------------------------------------


def walk_to_mobile(enrolment: Enrolment) -> None:
    enrolment.terms()
    enrolment.documents()
    enrolment.identity()
    enrolment.confirm()


def test_mobile_code_is_single_use(enrolment: Enrolment, container: Container) -> None:
    walk_to_mobile(enrolment)
    enrolment.mobile()
    sent = messages(container, "sms", "identity_code")[0]
    assert sent.recipient == MOBILE
    code = sms_code(container, CodePurpose.MOBILE)
    assert enrolment.verify(code) == CodeCheck.OK
    assert enrolment.case.status is CaseStatus.ADDRESS
    with pytest.raises(CaseMoved):  # replayed: the case is further on
        enrolment.verify(code)


def test_wrong_codes_are_counted_and_resends_do_not_reset_them(
    enrolment: Enrolment, container: Container, clock: FrozenClock, service: ProofingService
) -> None:
    walk_to_mobile(enrolment)
    enrolment.mobile()
    policy = enrolment.tenant.policy.identity
    code = sms_code(container, CodePurpose.MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(policy.sms_max_tries - 1):
        assert enrolment.verify(wrong) == CodeCheck.WRONG
    assert enrolment.case.codes["mobile"].tries == policy.sms_max_tries - 1
    # too early for a new code: refused with the seconds to wait
    with pytest.raises(StepRefused) as early:
        enrolment.run(service.resend_mobile_code, enrolment.account, enrolment.case_id, CONTEXT)
    assert early.value.errors == {"resend": "wait"} and 0 < int(early.value.params["seconds"]) <= 60
    clock.advance(seconds=policy.sms_resend_after_seconds)
    enrolment.run(service.resend_mobile_code, enrolment.account, enrolment.case_id, CONTEXT)
    new_code = sms_code(container, CodePurpose.MOBILE)
    assert enrolment.case.codes["mobile"].tries == policy.sms_max_tries - 1
    assert enrolment.verify(wrong) == CodeCheck.LOCKED
    assert enrolment.verify(new_code) == CodeCheck.LOCKED  # the tries were used up across the resend
    assert enrolment.case.status is CaseStatus.MOBILE_CODE


def test_an_old_code_stops_working_after_a_resend(
    enrolment: Enrolment, container: Container, clock: FrozenClock, service: ProofingService
) -> None:
    walk_to_mobile(enrolment)
    enrolment.mobile()
    old = sms_code(container, CodePurpose.MOBILE)
    clock.advance(seconds=61)
    enrolment.run(service.resend_mobile_code, enrolment.account, enrolment.case_id, CONTEXT)
    new = sms_code(container, CodePurpose.MOBILE)
    if old != new:
        assert enrolment.verify(old) == CodeCheck.WRONG
    assert enrolment.verify(new) == CodeCheck.OK


def test_an_expired_mobile_code_is_refused(enrolment: Enrolment, container: Container, clock: FrozenClock) -> None:
    walk_to_mobile(enrolment)
    enrolment.mobile()
    clock.advance(seconds=enrolment.tenant.policy.identity.sms_code_ttl_seconds + 1)
    assert enrolment.verify(sms_code(container, CodePurpose.MOBILE)) == CodeCheck.EXPIRED


def test_changing_the_number_waits_for_the_delay(enrolment: Enrolment, clock: FrozenClock) -> None:
    walk_to_mobile(enrolment)
    enrolment.mobile()
    with pytest.raises(StepRefused):
        enrolment.mobile("+33712345678")
    clock.advance(seconds=61)
    enrolment.mobile("+33712345678")
    assert enrolment.case.mobile == "+33712345678"


def test_sms_per_day_are_limited(enrolment: Enrolment, service: ProofingService) -> None:
    for _ in range(SMS_PER_DAY):
        service.count_sms(enrolment.account.id)
    with pytest.raises(ProofingError) as refused:
        service.count_sms(enrolment.account.id)
    assert refused.value.code == "sms_limit"


# -- the method ------------------------------------------------------------------------------------------------


def test_in_person_sends_the_code_of_the_day(
    enrolment: Enrolment, container: Container, clock: FrozenClock, service: ProofingService
) -> None:
    enrolment.through_wizard("postman")
    case = enrolment.case
    assert case.status is CaseStatus.IN_PERSON
    code = case.codes["in_person"]
    assert code.expires_at == end_of_day(clock.now())
    first = sms_code(container, CodePurpose.IN_PERSON)
    # the next day: today's code again
    clock.advance(days=1)
    enrolment.run(service.resend_day_code, enrolment.account, enrolment.case_id, CONTEXT)
    assert enrolment.case.codes["in_person"].expires_at == end_of_day(clock.now())
    with pytest.raises(StepRefused):  # not twice in a row
        enrolment.run(service.resend_day_code, enrolment.account, enrolment.case_id, CONTEXT)
    second = sms_code(container, CodePurpose.IN_PERSON)
    case = enrolment.case  # what the agent's check sees: only the latest code works
    if second != first:
        assert check_code(container.keyed, case, CodePurpose.IN_PERSON, first, 5, clock.now()) == CodeCheck.WRONG
    assert check_code(container.keyed, case, CodePurpose.IN_PERSON, second, 5, clock.now()) == CodeCheck.OK


def test_end_of_day_is_midnight_in_paris() -> None:
    assert end_of_day(datetime(2026, 7, 1, 21, 30, tzinfo=UTC)) == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    assert end_of_day(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == datetime(2026, 7, 2, 22, 0, tzinfo=UTC)
    assert end_of_day(datetime(2026, 1, 15, 9, 0, tzinfo=UTC)) == datetime(2026, 1, 15, 23, 0, tzinfo=UTC)


def test_online_needs_its_terms_and_sends_the_registered_letter(
    enrolment: Enrolment, container: Container, tenant: Tenant
) -> None:
    enrolment.through_wizard()
    with pytest.raises(StepRefused) as refused:
        enrolment.method("online", online_terms=False)
    assert refused.value.errors == {"online_terms": "required"}
    enrolment.method("online")
    case = enrolment.case
    assert case.status is CaseStatus.ONLINE_LETTER and case.letter_ref
    letter = container.registered_letters.get(tenant, case.letter_ref)
    assert letter.purpose == f"proofing:{case.id}"
    assert messages(container, "email", "registered_letter")
    opened = container.registered_letters.open(
        tenant, live_session(container, tenant, enrolment.account), case.letter_ref, CONTEXT
    )
    assert opened.content.action is not None
    assert opened.content.action.url == "https://testserver/laposte/identity/video"


# -- the online path: photo and video ---------------------------------------------------------------------------


def online_case(enrolment: Enrolment, open_letter: bool = True) -> None:
    enrolment.through_wizard("online")
    if open_letter:
        live = live_session(enrolment.container, enrolment.tenant, enrolment.account)
        enrolment.container.registered_letters.open(enrolment.tenant, live, enrolment.case.letter_ref or "", CONTEXT)


def test_the_video_comes_after_the_letter_is_opened(enrolment: Enrolment, service: ProofingService) -> None:
    online_case(enrolment, open_letter=False)
    assert not service.video_page(enrolment.tenant, enrolment.account.id).letter_opened
    with pytest.raises(ProofingError) as refused:
        service.start_video(enrolment.tenant, enrolment.account.id, CONTEXT)
    assert refused.value.code == "letter_not_opened"


def test_photo_and_video_are_sent_for_review(
    enrolment: Enrolment, service: ProofingService, container: Container, clock: FrozenClock
) -> None:
    online_case(enrolment)
    assert service.video_page(enrolment.tenant, enrolment.account.id).letter_opened
    challenge = service.start_video(enrolment.tenant, enrolment.account.id, CONTEXT)
    assert re.fullmatch(r"\d{3}", challenge) and enrolment.case.video_challenge == challenge
    prepared = service.prepare_video(
        enrolment.tenant,
        Upload("recto.jpg", "image/jpeg", french_id_card_recto(MARIE, dpi=150, image_format="JPEG")),
        None,
        Upload("video.webm", "video/webm", WEBM),
        30 * 1024 * 1024,
    )
    case = service.submit_video(enrolment.tenant, enrolment.account, prepared, CONTEXT)
    assert case.status is CaseStatus.ONLINE_REVIEW and case.submitted_at == clock.now()
    with container.uow(readonly=True) as uow:
        labels = sorted(info.label for info in uow.documents.list_owner(f"proofing:{case.id}"))
        video = uow.documents.get(case.document_ids[-1])
    assert labels == ["photo_recto", "recto", "verso", "video"]
    assert video is not None and video.media_type == "video/webm" and video.content == WEBM
    assert messages(container, "email", "identity_video_received")
    with pytest.raises(CaseMoved):  # sent twice
        service.submit_video(enrolment.tenant, enrolment.account, prepared, CONTEXT)


@pytest.mark.parametrize(
    ("video", "error"),
    [
        (None, "missing"),
        (b"\x1a\x45\xdf\xa3", "truncated"),
        (b"<html><script>alert(1)</script></html>" * 100, "unsupported_type"),
        (WEBM + b"\x00" * 2000, "too_large"),
    ],
)
def test_bad_videos_are_refused(
    enrolment: Enrolment, service: ProofingService, video: bytes | None, error: str
) -> None:
    with pytest.raises(StepRefused) as refused:
        service.prepare_video(
            enrolment.tenant,
            Upload("r.png", "image/png", png()),
            None,
            Upload("v.webm", "video/webm", video) if video else None,
            len(WEBM) + 1000,
        )
    assert refused.value.errors == {"video": error}


def test_videos_are_sniffed_by_content() -> None:
    assert sniff_video(WEBM) == "video/webm"
    assert sniff_video(MP4) == "video/mp4"
    assert sniff_video(b"\x1a\x45\xdf\xa3" + b"matroska" + b"\x00" * 60) is None  # MKV is not WebM
    assert sniff_video(png()) is None


def test_two_failed_videos_block_the_path_for_hours(
    enrolment: Enrolment, service: ProofingService, container: Container, clock: FrozenClock
) -> None:
    online_case(enrolment)
    policy = enrolment.tenant.policy.identity
    for _ in range(policy.video_max_failures):
        service.start_video(enrolment.tenant, enrolment.account.id, CONTEXT)
        prepared = service.prepare_video(
            enrolment.tenant, Upload("r.png", "image/png", png()), None, Upload("v.webm", "video/webm", WEBM), 10**7
        )
        service.submit_video(enrolment.tenant, enrolment.account, prepared, CONTEXT)
        with container.uow() as uow:  # a reviewer finds the video unusable
            case = uow.proofing.get(enrolment.case_id)
            assert case is not None
            case.video_failed("agent:2", "face not visible", policy, clock.now())
            uow.proofing.save(case)
            uow.commit()
    page = service.video_page(enrolment.tenant, enrolment.account.id)
    assert page.blocked_until == clock.now() + timedelta(seconds=policy.video_block_seconds)
    with pytest.raises(ProofingError) as blocked:
        service.start_video(enrolment.tenant, enrolment.account.id, CONTEXT)
    assert blocked.value.code == "video_blocked"
    clock.advance(seconds=policy.video_block_seconds)
    assert service.start_video(enrolment.tenant, enrolment.account.id, CONTEXT)


# -- activation -------------------------------------------------------------------------------------------------


def test_in_person_activation_by_sms(enrolment: Enrolment, container: Container) -> None:
    enrolment.through_wizard("post_office")
    enrolment.approve()
    code = sms_code(container, CodePurpose.ACTIVATION)
    wrong = "000000" if code != "000000" else "111111"
    assert enrolment.activate(wrong) == CodeCheck.WRONG
    assert enrolment.case.activation_tries == 1
    assert enrolment.activate(code) == CodeCheck.OK
    with container.uow(readonly=True) as uow:
        identity = uow.identities.of_account(enrolment.account.id)
    assert identity is not None and identity.level == "substantial"
    assert identity.evidence.method.value == "post_office" and identity.evidence.verifier == "agent:1"
    assert identity.evidence.mrz_outcome is MrzOutcome.MATCH
    assert identity.app_activated_at is None and not identity.usable_for_eidas2
    with pytest.raises(CaseMoved):  # replayed
        enrolment.activate(code)


def test_online_activation_code_comes_in_a_registered_letter(
    enrolment: Enrolment, service: ProofingService, container: Container, tenant: Tenant
) -> None:
    online_case(enrolment)
    service.start_video(tenant, enrolment.account.id, CONTEXT)
    prepared = service.prepare_video(
        tenant, Upload("r.png", "image/png", png()), None, Upload("v.webm", "video/webm", WEBM), 10**7
    )
    service.submit_video(tenant, enrolment.account, prepared, CONTEXT)
    enrolment.approve()
    case = enrolment.case
    letters = container.registered_letters.list(tenant, purpose=f"proofing:{case.id}:activation")
    assert len(letters) == 1
    notice = messages(container, "sms", "identity_letter_notice")[0]
    assert letters[0].reference in notice.body_text and not CODE_RE.search(notice.body_text.replace("-", " "))
    opened = container.registered_letters.open(
        tenant, live_session(container, tenant, enrolment.account), letters[0].reference, CONTEXT
    )
    match = re.search(r"\b(\d{6})\b", opened.content.body)
    assert match is not None
    assert enrolment.activate(match.group(1)) == CodeCheck.OK
    assert enrolment.case.status is CaseStatus.COMPLETED


def test_activation_tries_are_limited(enrolment: Enrolment, container: Container) -> None:
    enrolment.through_wizard("post_office")
    enrolment.approve()
    code = sms_code(container, CodePurpose.ACTIVATION)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(enrolment.tenant.policy.identity.activation_max_tries):
        assert enrolment.activate(wrong) in (CodeCheck.WRONG, CodeCheck.LOCKED)
    with pytest.raises(ProofingError) as locked:
        enrolment.activate(code)
    assert locked.value.code == "activation_locked"
    with pytest.raises(StepRefused) as no_renewal:
        enrolment.run(enrolment.service.new_activation_code, enrolment.account, enrolment.case_id, CONTEXT)
    assert no_renewal.value.errors == {"renew": "locked"}


def test_an_expired_activation_code_is_renewed(enrolment: Enrolment, container: Container, clock: FrozenClock) -> None:
    enrolment.through_wizard("post_office")
    enrolment.approve()
    old = sms_code(container, CodePurpose.ACTIVATION)
    with pytest.raises(StepRefused) as too_early:
        enrolment.run(enrolment.service.new_activation_code, enrolment.account, enrolment.case_id, CONTEXT)
    assert too_early.value.errors == {"renew": "still_valid"}
    clock.advance(days=enrolment.tenant.policy.identity.activation_code_ttl_days, seconds=1)
    with pytest.raises(ProofingError) as expired:
        enrolment.activate(old)
    assert expired.value.code == "activation_expired"
    enrolment.run(enrolment.service.new_activation_code, enrolment.account, enrolment.case_id, CONTEXT)
    new = sms_code(container, CodePurpose.ACTIVATION)
    if new != old:
        assert enrolment.activate(old) == CodeCheck.WRONG
    assert enrolment.activate(new) == CodeCheck.OK


def test_activation_code_is_delivered_only_after_an_approval(enrolment: Enrolment, container: Container) -> None:
    enrolment.through_wizard("post_office")
    with container.uow() as uow:
        case = uow.proofing.get(enrolment.case_id)
        assert case is not None
        with pytest.raises(ProofingError) as refused:
            enrolment.service.deliver_activation_code(
                uow, enrolment.tenant, enrolment.account, case, container.clock.now()
            )
    assert refused.value.code == "not_approved"


def test_cancel_closes_the_case_and_deletes_the_images(enrolment: Enrolment, container: Container) -> None:
    enrolment.terms()
    enrolment.documents()
    enrolment.run(enrolment.service.cancel, enrolment.account.id, enrolment.case_id, CONTEXT)
    assert enrolment.case.status is CaseStatus.ABANDONED
    with container.uow(readonly=True) as uow:
        assert uow.documents.list_owner(f"proofing:{enrolment.case_id}") == []


def test_the_audit_log_holds_no_code_and_no_document_number(enrolment: Enrolment, container: Container) -> None:
    enrolment.through_wizard("post_office")
    enrolment.approve()
    code = sms_code(container, CodePurpose.ACTIVATION)
    enrolment.activate(code)
    text = audit_text(container, enrolment.tenant)
    assert MARIE.document_number not in text and MOBILE not in text
    for message in messages(container, "sms", "identity_code"):
        for found in CODE_RE.findall(message.body_text):
            assert found not in text
    types = audit_types(container, enrolment.tenant)
    for expected in (
        "identity.case_started",
        "identity.terms_accepted",
        "identity.document_added",
        "identity.form_filled",
        "identity.form_confirmed",
        "identity.mobile_code_sent",
        "identity.mobile_verified",
        "identity.address_given",
        "identity.method_chosen",
        "identity.day_code_sent",
        "identity.activation_code_sent",
        "identity.activated",
    ):
        assert expected in types

"""Building proofing cases in tests: a person's data and a case walked to any step."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sesame.domain.identity import (
    CaseStatus,
    Civility,
    Decision,
    IdentityData,
    PostalAddress,
    ProofingCase,
    VerificationMethod,
)
from sesame.domain.tenants import IdentityDocumentKind, IdentityPolicy

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
POLICY = IdentityPolicy(enabled=True)


def person(**changes: object) -> IdentityData:
    values: dict[str, object] = {
        "civility": Civility.MRS,
        "given_names": "Marie Louise",
        "birth_name": "Dupont",
        "usage_name": "Martin",
        "birth_date": date(1985, 6, 14),
        "birth_country": "99100",
        "birth_town": "75056",
        "document_number": "X4RTBPFW4",
        "document_expiry": date(2031, 5, 1),
        "nationality": "FRA",
    }
    values.update(changes)
    return IdentityData(**values)  # type: ignore[arg-type]


ADDRESS = PostalAddress(line1="9 rue du Colonel Pierre Avy", postcode="75015", town="Paris", town_code="75115")


def new_case(case_id: int = 1, account_id: int = 7) -> ProofingCase:
    return ProofingCase(
        id=case_id, tenant_id=1, account_id=account_id, status=CaseStatus.TERMS, created_at=NOW, updated_at=NOW
    )


def walk(
    case: ProofingCase,
    until: CaseStatus,
    *,
    method: VerificationMethod = VerificationMethod.POST_OFFICE,
    data: IdentityData | None = None,
) -> ProofingCase:
    """Take ``case`` through the steps, in order, until it reaches ``until``."""
    steps = [
        (CaseStatus.TERMS, lambda: case.accept_terms("1", NOW)),
        (
            CaseStatus.DOCUMENT,
            lambda: case.attach_document(
                IdentityDocumentKind.NATIONAL_ID_CARD, ["doc-recto", "doc-verso"], POLICY, NOW
            ),
        ),
        (CaseStatus.IDENTITY, lambda: case.fill_identity(data or person(), POLICY, TODAY, NOW)),
        (CaseStatus.REVIEW, lambda: case.confirm_identity(NOW)),
        (CaseStatus.MOBILE, lambda: case.set_mobile("+33612345678", NOW)),
        (CaseStatus.MOBILE_CODE, lambda: case.verify_mobile(NOW)),
        (CaseStatus.ADDRESS, lambda: case.set_address(ADDRESS, NOW)),
        (CaseStatus.METHOD, lambda: case.choose_method(method, POLICY, NOW)),
    ]
    for status, step in steps:
        if case.status is until:
            return case
        if case.status is not status:
            continue  # done already: the case is further on
        step()
    if case.status is until:
        return case
    if case.status is CaseStatus.ONLINE_LETTER:
        case.letter_sent("LRE-1", NOW)
        case.start_video("482", NOW)
        case.submit_video(["photo"], "video", NOW + timedelta(minutes=5))
        if case.status is until:
            return case
    if case.status in (CaseStatus.IN_PERSON, CaseStatus.ONLINE_REVIEW):
        case.decide(Decision.APPROVED, "agent:3", "document seen", POLICY, NOW + timedelta(hours=1))
    if case.status is until:
        return case
    case.activate(NOW + timedelta(hours=2))
    assert case.status is until
    return case

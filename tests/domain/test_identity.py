"""The proofing case's rules: steps in order, eligibility, and the single door to "substantial"."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from sesame.domain.identity import (
    CaseStatus,
    Decision,
    MrzOutcome,
    ProgressStage,
    ProofingError,
    VerificationMethod,
    age_on,
    document_number_hash,
    eligibility_problems,
)
from sesame.domain.tenants import IdentityDocumentKind, IdentityPolicy
from tests.identity_support import NOW, POLICY, TODAY, new_case, person, walk


def test_age_counts_full_years_and_leap_days() -> None:
    assert age_on(date(2008, 3, 2), date(2026, 3, 2)) == 18
    assert age_on(date(2008, 3, 3), date(2026, 3, 2)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_eligibility_problems() -> None:
    assert eligibility_problems(person(), IdentityDocumentKind.PASSPORT, POLICY, TODAY) == []
    minor = person(birth_date=date(2010, 1, 1))
    assert eligibility_problems(minor, IdentityDocumentKind.PASSPORT, POLICY, TODAY) == ["under_age"]
    expired = person(document_expiry=date(2025, 1, 1))
    assert eligibility_problems(expired, IdentityDocumentKind.PASSPORT, POLICY, TODAY) == ["document_expired"]
    passports_only = IdentityPolicy(enabled=True, accepted_documents=(IdentityDocumentKind.PASSPORT,))
    problems = eligibility_problems(person(), IdentityDocumentKind.RESIDENCE_PERMIT, passports_only, TODAY)
    assert problems == ["document_not_accepted"]


def test_a_full_in_person_journey_reaches_substantial() -> None:
    case = walk(new_case(), CaseStatus.ACTIVATION)
    assert case.activation_expires_at == NOW + timedelta(hours=1) + timedelta(days=POLICY.activation_code_ttl_days)
    assert case.document_ids == [], "images are dropped at the decision"
    identity = case.activate(NOW + timedelta(hours=2))
    assert identity.level == "substantial" and case.status is CaseStatus.COMPLETED
    assert identity.evidence.method is VerificationMethod.POST_OFFICE and identity.evidence.verifier == "agent:3"
    assert identity.evidence.document_number_hash == document_number_hash(
        IdentityDocumentKind.NATIONAL_ID_CARD, "x4rt bpfw4"
    )
    assert identity.claims()["birthplace"] == "75056" and identity.claims()["gender"] == "female"
    assert not identity.usable_for_eidas2, "the app is not activated yet"


def test_the_online_journey_goes_through_letter_video_and_review() -> None:
    case = walk(new_case(), CaseStatus.ONLINE_REVIEW, method=VerificationMethod.ONLINE)
    assert case.submitted_at is not None and case.review_due_at(POLICY) == case.submitted_at + timedelta(hours=48)
    walk(case, CaseStatus.COMPLETED, method=VerificationMethod.ONLINE)


def test_steps_cannot_be_skipped() -> None:
    case = new_case()
    with pytest.raises(ProofingError) as error:
        case.confirm_identity(NOW)
    assert error.value.code == "wrong_step"
    case = walk(new_case(), CaseStatus.MOBILE_CODE)
    with pytest.raises(ProofingError):
        case.choose_method(VerificationMethod.ONLINE, POLICY, NOW)
    with pytest.raises(ProofingError):
        case.decide(Decision.APPROVED, "agent:1", "", POLICY, NOW)
    with pytest.raises(ProofingError):
        case.activate(NOW)


@pytest.mark.parametrize(
    "missing",
    ["terms_accepted_at", "identity_confirmed_at", "mobile_verified_at", "address", "decision", "document_kind"],
)
def test_no_path_reaches_substantial_without_every_step(missing: str) -> None:
    """Even a case whose status was forced to ACTIVATION (a bug, a hand-edited row) cannot
    activate without the document, the verified mobile, an approved verification and the rest."""
    case = walk(new_case(), CaseStatus.ACTIVATION)
    broken = dataclasses.replace(case, **{missing: None})
    with pytest.raises(ProofingError) as error:
        broken.activate(NOW + timedelta(hours=3))
    assert error.value.code == "step_missing"
    assert broken.status is CaseStatus.ACTIVATION


def test_under_age_is_refused_and_an_expired_document_goes_in_person() -> None:
    minor = walk(new_case(), CaseStatus.IDENTITY)
    assert minor.fill_identity(person(birth_date=date(2010, 1, 1)), POLICY, TODAY, NOW) == ["under_age"]
    assert minor.status is CaseStatus.REFUSED and minor.closed_reason == "under_age"

    expired = walk(new_case(), CaseStatus.METHOD, data=person(document_expiry=date(2025, 1, 1)))
    assert expired.document_expired
    assert expired.methods_offered(POLICY) == [VerificationMethod.POSTMAN, VerificationMethod.POST_OFFICE]
    with pytest.raises(ProofingError) as error:
        expired.choose_method(VerificationMethod.ONLINE, POLICY, NOW)
    assert error.value.code == "method_not_offered"


def test_a_rejection_needs_a_reason_and_closes_the_case() -> None:
    case = walk(new_case(), CaseStatus.IN_PERSON)
    with pytest.raises(ProofingError):
        case.decide(Decision.REJECTED, "agent:1", "  ", POLICY, NOW)
    deleted = case.decide(Decision.REJECTED, "agent:1", "photo does not match", POLICY, NOW)
    assert deleted == ["doc-recto", "doc-verso"] and case.status is CaseStatus.REJECTED and not case.open


def test_two_failed_videos_block_the_online_path() -> None:
    case = walk(new_case(), CaseStatus.ONLINE_REVIEW, method=VerificationMethod.ONLINE)
    assert not case.video_failed("reviewer:1", "blurred", POLICY, NOW)
    assert case.status is CaseStatus.ONLINE_LETTER and case.video_allowed(NOW)
    case.start_video("123", NOW)
    case.submit_video([], "video-2", NOW)
    assert case.video_failed("reviewer:1", "no document shown", POLICY, NOW)
    assert not case.video_allowed(NOW + timedelta(hours=5))
    with pytest.raises(ProofingError) as error:
        case.start_video("456", NOW + timedelta(hours=1))
    assert error.value.code == "video_blocked"
    case.start_video("456", NOW + timedelta(seconds=POLICY.video_block_seconds))


def test_modify_goes_back_and_undoes_later_steps() -> None:
    case = walk(new_case(), CaseStatus.ADDRESS)
    assert case.can_go_back_to(CaseStatus.IDENTITY) and not case.can_go_back_to(CaseStatus.TERMS)
    case.go_back_to(CaseStatus.IDENTITY, NOW)
    assert case.identity_confirmed_at is None and case.mobile_verified_at is None
    assert case.stage is ProgressStage.DOCUMENTS


def test_activation_tries_and_expiry() -> None:
    case = walk(new_case(), CaseStatus.ACTIVATION)
    for _ in range(POLICY.activation_max_tries):
        case.count_activation_try(POLICY, NOW)
    with pytest.raises(ProofingError) as error:
        case.count_activation_try(POLICY, NOW)
    assert error.value.code == "activation_locked"
    case.reopen_activation(POLICY, NOW)
    assert case.activation_open(POLICY, NOW)
    assert not case.activation_open(POLICY, NOW + timedelta(days=POLICY.activation_code_ttl_days))


def test_mrz_result_is_kept_as_evidence() -> None:
    case = walk(new_case(), CaseStatus.ACTIVATION)
    case.record_mrz(MrzOutcome.MISMATCH, {"fields": ["birth_date"]})
    assert case.activate(NOW).evidence.mrz_outcome is MrzOutcome.MISMATCH

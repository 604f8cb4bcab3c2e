"""In-person decisions, online reviews and the four-eyes rule, on real SQLite with real images."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.backoffice.access import (
    AwaitingSecondApproval,
    CaseAlreadyDecided,
    CaseNotAvailable,
    DecisionConflict,
    DecisionRefused,
)
from sesame.backoffice.decisions import Outcome, ReviewAction
from sesame.bootstrap import Container
from sesame.domain.agents import InPersonCheck
from sesame.domain.identity import CaseStatus, CodePurpose, Decision, MrzOutcome, VerificationMethod
from sesame.domain.tenants import Tenant
from sesame.services.outbox import list_messages
from tests.backoffice.support import (
    AT_COUNTER,
    MISMATCH_DETAIL,
    audit,
    documents_of,
    make_agent,
    reload,
    store_case,
)
from tests.identity_support import person

ALL_CHECKS = [check.value for check in InPersonCheck]


def test_a_clerk_approves_with_the_checks_and_the_code(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    assert documents_of(container, stored.case.id) == 2

    result = container.backoffice.decisions.decide_in_person(
        clerk, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or ""
    )

    assert result.outcome is Outcome.APPROVED
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.ACTIVATION and case.decided_by == clerk.actor
    assert case.document_ids == [] and documents_of(container, case.id) == 0  # seed 001: not kept
    assert CodePurpose.ACTIVATION.value in case.codes  # delivered in the same transaction
    sent = [entry.message for entry in list_messages(container.uow, limit=20)]
    assert [(m.channel.value, m.template) for m in sent] == [("sms", "identity_code")]  # the activation code
    events = [record.event for record in audit(container, laposte.id)]
    approved = [event for event in events if event.type == "backoffice.case_approved"]
    assert approved and approved[0].actor == clerk.actor and approved[0].details["case_id"] == case.id


def test_approval_is_impossible_without_the_right_code(container: Container, laposte: Tenant) -> None:
    postman = make_agent(container, ["postman"])
    stored = store_case(container, laposte, VerificationMethod.POSTMAN)
    decide = container.backoffice.decisions.decide_in_person
    wrong = "000000" if stored.day_code != "000000" else "111111"

    with pytest.raises(DecisionRefused) as refused:
        decide(postman, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=wrong)
    assert refused.value.reason == "code_wrong" and refused.value.details["tries_left"] == 4
    with pytest.raises(DecisionRefused):
        decide(postman, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code="")

    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.IN_PERSON and case.codes["in_person"].tries == 2  # counted and saved
    assert documents_of(container, case.id) == 2
    refusals = [r.event for r in audit(container, laposte.id) if r.event.type == "backoffice.day_code_refused"]
    assert len(refusals) == 2 and all(stored.day_code not in str(event.details) for event in refusals)


def test_wrong_codes_lock_the_code_of_the_day(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    decide = container.backoffice.decisions.decide_in_person
    reasons = []
    for _ in range(laposte.policy.identity.sms_max_tries):
        with pytest.raises(DecisionRefused) as refused:
            decide(clerk, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code="12345x")
        reasons.append(refused.value.reason)
    assert reasons[-1] == "code_wrong"
    with pytest.raises(DecisionRefused) as locked:  # even the right code is refused now
        decide(clerk, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or "")
    assert locked.value.reason == "code_locked"
    assert reload(container, stored.case.id).status is CaseStatus.IN_PERSON


def test_an_expired_code_of_the_day_is_refused(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    clock.advance(days=1)
    with pytest.raises(DecisionRefused) as refused:
        container.backoffice.decisions.decide_in_person(
            clerk, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or ""
        )
    assert refused.value.reason == "code_expired"


def test_every_check_must_be_ticked(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    with pytest.raises(DecisionRefused) as refused:
        container.backoffice.decisions.decide_in_person(
            clerk, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS[:3], day_code=stored.day_code or ""
        )
    assert refused.value.reason == "checks_missing"
    case = reload(container, stored.case.id)
    assert case.codes["in_person"].tries == 0  # refused before the code was even tried


def test_a_rejection_needs_a_reason_and_deletes_the_images(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    decide = container.backoffice.decisions.decide_in_person
    with pytest.raises(DecisionRefused) as refused:
        decide(clerk, stored.case.id, Decision.REJECTED, AT_COUNTER, reason="   ")
    assert refused.value.reason == "reason_required"

    result = decide(clerk, stored.case.id, Decision.REJECTED, AT_COUNTER, reason="The photo is not the person")

    assert result.outcome is Outcome.REJECTED
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.REJECTED and case.decision_reason == "The photo is not the person"
    assert documents_of(container, case.id) == 0


def test_a_reviewer_cannot_decide_in_person_cases(container: Container, laposte: Tenant) -> None:
    reviewer = make_agent(container, ["reviewer"])
    stored = store_case(container, laposte)
    with pytest.raises(CaseNotAvailable):
        container.backoffice.decisions.decide_in_person(
            reviewer, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or ""
        )
    with pytest.raises(CaseNotAvailable):
        container.backoffice.decisions.decide_in_person(
            reviewer, stored.case.id, Decision.REJECTED, AT_COUNTER, reason="no"
        )
    assert reload(container, stored.case.id).status is CaseStatus.IN_PERSON


def test_a_postman_cannot_decide_post_office_nor_online_cases(container: Container, laposte: Tenant) -> None:
    postman = make_agent(container, ["postman"])
    counter = store_case(container, laposte, VerificationMethod.POST_OFFICE)
    online = store_case(container, laposte, VerificationMethod.ONLINE)
    with pytest.raises(CaseNotAvailable):
        container.backoffice.decisions.decide_in_person(
            postman, counter.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=counter.day_code or ""
        )
    with pytest.raises(CaseNotAvailable):
        container.backoffice.decisions.review_online(postman, online.case.id, ReviewAction.APPROVE, AT_COUNTER)


def test_an_agent_of_another_tenant_cannot_decide(container: Container, laposte: Tenant, poste_ch: Tenant) -> None:
    swiss_clerk = make_agent(container, ["clerk", "supervisor"], tenants=["poste-ch"])
    stored = store_case(container, laposte)
    with pytest.raises(CaseNotAvailable):
        container.backoffice.decisions.decide_in_person(
            swiss_clerk,
            stored.case.id,
            Decision.APPROVED,
            AT_COUNTER,
            checks=ALL_CHECKS,
            day_code=stored.day_code or "",
        )


def test_a_reviewer_approves_an_online_case(container: Container, laposte: Tenant) -> None:
    reviewer = make_agent(container, ["reviewer"])
    stored = store_case(container, laposte, VerificationMethod.ONLINE)
    assert documents_of(container, stored.case.id) == 4

    result = container.backoffice.decisions.review_online(reviewer, stored.case.id, ReviewAction.APPROVE, AT_COUNTER)

    assert result.outcome is Outcome.APPROVED
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.ACTIVATION and documents_of(container, case.id) == 0
    assert CodePurpose.ACTIVATION.value in case.codes


def test_two_unusable_videos_block_the_video_path(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    reviewer = make_agent(container, ["reviewer"])
    stored = store_case(container, laposte, VerificationMethod.ONLINE)
    review = container.backoffice.decisions.review_online
    with pytest.raises(DecisionRefused):
        review(reviewer, stored.case.id, ReviewAction.VIDEO_UNUSABLE, AT_COUNTER, reason="")

    first = review(reviewer, stored.case.id, ReviewAction.VIDEO_UNUSABLE, AT_COUNTER, reason="Too dark")
    assert first.outcome is Outcome.VIDEO_UNUSABLE and first.video_blocked_until is None
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.ONLINE_LETTER and case.video_failures == 1

    # The person sends a new video; the reviewer finds it unusable again: the path is blocked.
    with container.uow() as uow:
        again = uow.proofing.get(case.id)
        assert again is not None
        again.start_video("731", clock.now())
        again.submit_video([], again.document_ids[-1], clock.now())
        uow.proofing.save(again)
        uow.commit()
    second = review(reviewer, stored.case.id, ReviewAction.VIDEO_UNUSABLE, AT_COUNTER, reason="No sound")
    block = timedelta(seconds=laposte.policy.identity.video_block_seconds)
    assert second.video_blocked_until == clock.now() + block
    assert not reload(container, stored.case.id).video_allowed(clock.now())


def test_an_mrz_mismatch_needs_a_second_approval(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    supervisor = make_agent(container, ["supervisor"], name="Sophie Superviseure")
    stored = store_case(container, laposte, mrz=MrzOutcome.MISMATCH, mrz_detail=MISMATCH_DETAIL)
    decisions = container.backoffice.decisions

    first = decisions.decide_in_person(
        clerk,
        stored.case.id,
        Decision.APPROVED,
        AT_COUNTER,
        checks=ALL_CHECKS,
        day_code=stored.day_code or "",
        reason="Typo in the birth date",
    )

    assert first.outcome is Outcome.PENDING_SECOND_APPROVAL
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.IN_PERSON and case.decision is None  # no effect yet
    assert documents_of(container, case.id) == 2
    assert case.history[-1].action == "second_approval_requested"
    queue = container.backoffice.queues.queue(supervisor)
    assert [item.case_id for item in queue.second_approvals] == [case.id]
    assert case.id not in [item.case_id for item in container.backoffice.queues.queue(clerk).items]
    with pytest.raises(AwaitingSecondApproval):  # no other first decision meanwhile
        decisions.decide_in_person(clerk, case.id, Decision.REJECTED, AT_COUNTER, reason="changed my mind")

    confirmed = decisions.confirm_second_approval(supervisor, case.id, AT_COUNTER)

    assert confirmed.outcome is Outcome.APPROVED
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.ACTIVATION and case.decided_by == clerk.actor  # who saw the person
    assert documents_of(container, case.id) == 0
    assert any(e.action == "second_approval_confirmed" and e.actor == supervisor.actor for e in case.history)
    types = [record.event.type for record in audit(container, laposte.id)]
    assert "backoffice.second_approval_requested" in types and "backoffice.second_approval_confirmed" in types
    assert container.backoffice.queues.queue(supervisor).second_approvals == []


def test_the_first_agent_cannot_give_the_second_approval(container: Container, laposte: Tenant) -> None:
    both = make_agent(container, ["clerk", "supervisor"])
    other = make_agent(container, ["supervisor"], tenants=["poste-ch"])
    stored = store_case(container, laposte, mrz=MrzOutcome.UNREADABLE)
    decisions = container.backoffice.decisions
    first = decisions.decide_in_person(
        both, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or ""
    )
    assert first.outcome is Outcome.PENDING_SECOND_APPROVAL
    with pytest.raises(DecisionRefused) as refused:
        decisions.confirm_second_approval(both, stored.case.id, AT_COUNTER)
    assert refused.value.reason == "same_agent"
    assert container.backoffice.queues.queue(both).second_approvals == []  # not offered to its author
    with pytest.raises(CaseNotAvailable):  # a supervisor of another tenant
        decisions.confirm_second_approval(other, stored.case.id, AT_COUNTER)
    assert reload(container, stored.case.id).status is CaseStatus.IN_PERSON


def test_an_expired_document_is_an_override(container: Container, laposte: Tenant) -> None:
    reviewer = make_agent(container, ["clerk"])
    supervisor = make_agent(container, ["supervisor"])
    stored = store_case(container, laposte, data=person(document_expiry=date(2025, 12, 31)))
    decisions = container.backoffice.decisions
    first = decisions.decide_in_person(
        reviewer, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or ""
    )
    assert first.outcome is Outcome.PENDING_SECOND_APPROVAL
    refused = decisions.refuse_second_approval(supervisor, stored.case.id, "Expired for too long", AT_COUNTER)
    assert refused.outcome is Outcome.REJECTED
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.REJECTED and documents_of(container, case.id) == 0


def test_an_online_override_goes_to_a_supervisor(container: Container, laposte: Tenant) -> None:
    reviewer = make_agent(container, ["reviewer"])
    supervisor = make_agent(container, ["supervisor"])
    stored = store_case(
        container, laposte, VerificationMethod.ONLINE, mrz=MrzOutcome.MISMATCH, mrz_detail=MISMATCH_DETAIL
    )
    decisions = container.backoffice.decisions
    first = decisions.review_online(reviewer, stored.case.id, ReviewAction.APPROVE, AT_COUNTER)
    assert first.outcome is Outcome.PENDING_SECOND_APPROVAL
    assert decisions.confirm_second_approval(supervisor, stored.case.id, AT_COUNTER).outcome is Outcome.APPROVED
    assert reload(container, stored.case.id).status is CaseStatus.ACTIVATION


def test_a_second_decision_gets_a_clear_message(container: Container, laposte: Tenant) -> None:
    first, second = make_agent(container, ["clerk"]), make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    decisions = container.backoffice.decisions
    decisions.decide_in_person(first, stored.case.id, Decision.REJECTED, AT_COUNTER, reason="Not the person")
    with pytest.raises(CaseAlreadyDecided) as conflict:
        decisions.decide_in_person(
            second, stored.case.id, Decision.APPROVED, AT_COUNTER, checks=ALL_CHECKS, day_code=stored.day_code or ""
        )
    assert conflict.value.decided_by == first.actor


def test_two_agents_at_once_one_wins(container: Container, laposte: Tenant) -> None:
    clerks = [make_agent(container, ["clerk"]), make_agent(container, ["clerk"])]
    stored = store_case(container, laposte)
    decisions = container.backoffice.decisions
    start = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def decide(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = decisions.decide_in_person(
                clerks[index],
                stored.case.id,
                Decision.APPROVED,
                AT_COUNTER,
                checks=ALL_CHECKS,
                day_code=stored.day_code or "",
            )
        except DecisionConflict as conflict:
            outcomes[index] = conflict

    threads = [threading.Thread(target=decide, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    wins = [outcome for outcome in outcomes if not isinstance(outcome, DecisionConflict)]
    losses = [outcome for outcome in outcomes if isinstance(outcome, DecisionConflict)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    case = reload(container, stored.case.id)
    assert case.status is CaseStatus.ACTIVATION
    assert len([r for r in audit(container, laposte.id) if r.event.type == "backoffice.case_approved"]) == 1

"""A case as an agent sees it: only what the decision needs, images only while undecided, every view audited."""

from __future__ import annotations

import dataclasses

import pytest

from sesame.backoffice.access import CaseNotAvailable
from sesame.backoffice.cases import CaseView
from sesame.bootstrap import Container
from sesame.domain.agents import InPersonCheck
from sesame.domain.identity import Decision, MrzOutcome, VerificationMethod
from sesame.domain.tenants import Tenant
from tests.backoffice.support import (
    AT_COUNTER,
    MISMATCH_DETAIL,
    WEBM,
    audit,
    make_agent,
    specimen_images,
    store_case,
)


def test_the_view_has_the_form_the_mrz_result_the_images_and_the_history(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"], name="Claire Guichet")
    stored = store_case(container, laposte, mrz=MrzOutcome.MISMATCH, mrz_detail=MISMATCH_DETAIL)

    view = container.backoffice.cases.view(clerk, stored.case.id, AT_COUNTER)

    assert view.identity is not None and view.identity.birth_name == "Dupont"
    assert view.mrz_outcome is MrzOutcome.MISMATCH
    assert [(m.field, m.typed, m.document) for m in view.mrz_mismatches] == [("birth_date", "1985-06-14", "850616")]
    assert [(d.index, d.label, d.media_type) for d in view.documents] == [
        (0, "recto", "image/png"),
        (1, "verso", "image/png"),
    ]
    assert [line.action for line in view.history][-1] == "method_chosen"
    assert view.may_decide_in_person and not view.may_review and not view.may_confirm
    assert [o.value for o in view.overrides] == ["mrz_mismatch"]
    assert view.day_code is not None and view.day_code.sent and view.day_code.tries_left == 5
    assert view.address is None  # a clerk does not visit the person


def test_a_postman_gets_the_address_and_nothing_of_the_account(container: Container, laposte: Tenant) -> None:
    postman = make_agent(container, ["postman"])
    stored = store_case(container, laposte, VerificationMethod.POSTMAN)
    view = container.backoffice.cases.view(postman, stored.case.id, AT_COUNTER)
    assert view.address is not None and view.address.postcode == "75015"
    names = {field.name for field in dataclasses.fields(CaseView)}
    assert not names & {"mobile", "email", "account", "account_id", "codes", "other_cases"}
    assert stored.account.email not in repr(view) and "+33612345678" not in repr(view)


def test_every_view_is_audited_with_the_agent(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    container.backoffice.cases.view(clerk, stored.case.id, AT_COUNTER)
    container.backoffice.cases.document(clerk, stored.case.id, 1, AT_COUNTER)
    events = [record.event for record in audit(container, laposte.id)]
    assert [(e.type, e.actor, e.subject) for e in events] == [
        ("backoffice.case_viewed", clerk.actor, f"proofing_case:{stored.case.id}"),
        ("backoffice.document_viewed", clerk.actor, f"proofing_case:{stored.case.id}"),
    ]
    assert events[0].ip == AT_COUNTER.ip and events[1].details["index"] == 1


def test_images_come_decrypted(container: Container, laposte: Tenant) -> None:
    reviewer = make_agent(container, ["reviewer"])
    stored = store_case(container, laposte, VerificationMethod.ONLINE)
    cases = container.backoffice.cases
    view = cases.view(reviewer, stored.case.id, AT_COUNTER)
    assert [d.label for d in view.documents] == ["recto", "verso", "photo", "video"] and view.documents[3].is_video
    recto = cases.document(reviewer, stored.case.id, 0, AT_COUNTER)
    assert (recto.content, recto.media_type) == (specimen_images()[0], "image/png")
    assert cases.document(reviewer, stored.case.id, 3, AT_COUNTER).content == WEBM
    with pytest.raises(CaseNotAvailable):
        cases.document(reviewer, stored.case.id, 4, AT_COUNTER)
    with pytest.raises(CaseNotAvailable):
        cases.document(reviewer, stored.case.id, -1, AT_COUNTER)


def test_nothing_is_shown_once_the_case_is_decided(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    container.backoffice.decisions.decide_in_person(
        clerk, stored.case.id, Decision.REJECTED, AT_COUNTER, reason="Not the person"
    )
    with pytest.raises(CaseNotAvailable):
        container.backoffice.cases.view(clerk, stored.case.id, AT_COUNTER)
    with pytest.raises(CaseNotAvailable):
        container.backoffice.cases.document(clerk, stored.case.id, 0, AT_COUNTER)


def test_a_postman_cannot_see_online_cases(container: Container, laposte: Tenant) -> None:
    postman = make_agent(container, ["postman"])
    online = store_case(container, laposte, VerificationMethod.ONLINE)
    counter = store_case(container, laposte, VerificationMethod.POST_OFFICE)
    for case_id in (online.case.id, counter.case.id, 999_999):
        with pytest.raises(CaseNotAvailable):
            container.backoffice.cases.view(postman, case_id, AT_COUNTER)
        with pytest.raises(CaseNotAvailable):
            container.backoffice.cases.document(postman, case_id, 0, AT_COUNTER)
    assert audit(container, laposte.id) == []  # nothing seen, nothing recorded


def test_an_agent_of_tenant_b_cannot_see_a_case_of_tenant_a(
    container: Container, laposte: Tenant, poste_ch: Tenant
) -> None:
    swiss = make_agent(container, ["postman", "clerk", "reviewer", "supervisor"], tenants=["poste-ch"])
    stored = store_case(container, laposte)
    with pytest.raises(CaseNotAvailable):
        container.backoffice.cases.view(swiss, stored.case.id, AT_COUNTER)
    with pytest.raises(CaseNotAvailable):
        container.backoffice.cases.document(swiss, stored.case.id, 0, AT_COUNTER)


def test_a_pending_override_is_shown_to_the_supervisor_who_may_confirm(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"], name="Claire Guichet")
    supervisor = make_agent(container, ["supervisor"])
    stored = store_case(container, laposte, mrz=MrzOutcome.UNREADABLE)
    container.backoffice.decisions.decide_in_person(
        clerk,
        stored.case.id,
        Decision.APPROVED,
        AT_COUNTER,
        checks=[check.value for check in InPersonCheck],
        day_code=stored.day_code or "",
    )
    mine = container.backoffice.cases.view(clerk, stored.case.id, AT_COUNTER)
    assert mine.pending is not None and not (mine.may_decide_in_person or mine.may_confirm)
    theirs = container.backoffice.cases.view(supervisor, stored.case.id, AT_COUNTER)
    assert theirs.may_confirm and not theirs.may_decide_in_person and theirs.pending_by == "Claire Guichet"
    assert theirs.history[-1].actor == "Claire Guichet"  # agents named, not numbered
    assert len(theirs.documents) == 2  # still undecided: the supervisor sees the images

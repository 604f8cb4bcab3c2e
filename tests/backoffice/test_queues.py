"""The agents' queues: per role, per tenant scope, oldest first, with the review's service level."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.agents import InPersonCheck
from sesame.domain.errors import NotFound
from sesame.domain.identity import CaseStatus, Decision, MrzOutcome, VerificationMethod
from sesame.domain.tenants import Tenant
from tests.backoffice.support import AT_COUNTER, make_agent, store_case


@pytest.fixture
def cases(container: Container, laposte: Tenant) -> dict[str, int]:
    """One case of each kind at laposte, and one still in the wizard."""
    return {
        "postman": store_case(container, laposte, VerificationMethod.POSTMAN).case.id,
        "post_office": store_case(container, laposte, VerificationMethod.POST_OFFICE).case.id,
        "online": store_case(container, laposte, VerificationMethod.ONLINE).case.id,
        "letter": store_case(container, laposte, VerificationMethod.ONLINE, until=CaseStatus.ONLINE_LETTER).case.id,
        "wizard": store_case(container, laposte, until=CaseStatus.ADDRESS).case.id,
    }


def ids(container: Container, roles: list[str], tenants: tuple[str, ...] = ("laposte",)) -> list[int]:
    agent = make_agent(container, roles, tenants)
    return [item.case_id for item in container.backoffice.queues.queue(agent).items]


def test_each_role_sees_its_own_queue(container: Container, cases: dict[str, int]) -> None:
    assert ids(container, ["postman"]) == [cases["postman"]]
    assert ids(container, ["clerk"]) == [cases["post_office"]]
    assert ids(container, ["reviewer"]) == [cases["online"]]
    assert sorted(ids(container, ["postman", "clerk"])) == sorted([cases["postman"], cases["post_office"]])
    everything = ids(container, ["supervisor"])
    assert sorted(everything) == sorted([cases["postman"], cases["post_office"], cases["online"]])
    # Cases still with the person (the wizard, the video to record) are in no queue.
    assert cases["letter"] not in everything and cases["wizard"] not in everything


def test_agents_see_only_their_tenants(container: Container, cases: dict[str, int], poste_ch: Tenant) -> None:
    swiss_case = store_case(container, poste_ch, VerificationMethod.POST_OFFICE).case.id
    assert ids(container, ["clerk"], ("poste-ch",)) == [swiss_case]
    both = make_agent(container, ["clerk"], ("laposte", "poste-ch"))
    queues = container.backoffice.queues
    assert sorted(item.case_id for item in queues.queue(both).items) == sorted([cases["post_office"], swiss_case])
    assert [item.case_id for item in queues.queue(both, "poste-ch").items] == [swiss_case]
    assert [slug for slug, _ in queues.queue(both).tenants] == ["laposte", "poste-ch"]
    only_laposte = make_agent(container, ["clerk"])
    with pytest.raises(NotFound):
        queues.queue(only_laposte, "poste-ch")


def test_the_review_queue_is_oldest_first_with_age_and_overdue(
    container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    reviewer = make_agent(container, ["reviewer"])
    older = store_case(container, laposte, VerificationMethod.ONLINE).case.id
    newer = store_case(container, laposte, VerificationMethod.ONLINE).case
    with container.uow() as uow:  # submitted a day later
        found = uow.proofing.get(newer.id)
        assert found is not None and found.submitted_at is not None
        found.submitted_at += timedelta(days=1)
        uow.proofing.save(found)
        uow.commit()
    clock.advance(hours=45)  # 46 h 55 min after the first submission
    queue = container.backoffice.queues.queue(reviewer)
    assert [item.case_id for item in queue.items] == [older, newer.id]
    first = queue.items[0]
    sla = timedelta(hours=laposte.policy.identity.review_sla_hours)
    assert first.due_at == first.waiting_since + sla and not first.overdue and queue.overdue == 0
    assert first.age == timedelta(hours=46, minutes=55)

    clock.advance(hours=2)
    queue = container.backoffice.queues.queue(reviewer)
    assert [item.overdue for item in queue.items] == [True, False] and queue.overdue == 1


def test_a_line_says_what_finding_the_case_needs(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    store_case(container, laposte, mrz=MrzOutcome.MISMATCH)
    (item,) = container.backoffice.queues.queue(clerk).items
    assert item.name == "Marie Louise Dupont (Martin)" and item.tenant_slug == "laposte"
    assert item.mrz_outcome is MrzOutcome.MISMATCH and [o.value for o in item.overrides] == ["mrz_mismatch"]
    assert item.due_at is None and not item.overdue  # no service level in person


def test_pending_second_approvals_wait_for_other_supervisors(container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    supervisor = make_agent(container, ["supervisor"], name="Sophie")
    stored = store_case(container, laposte, mrz=MrzOutcome.UNREADABLE)
    container.backoffice.decisions.decide_in_person(
        clerk,
        stored.case.id,
        Decision.APPROVED,
        AT_COUNTER,
        checks=[check.value for check in InPersonCheck],
        day_code=stored.day_code or "",
    )
    queue = container.backoffice.queues.queue(supervisor)
    assert queue.items == []  # not waiting for a first agent any more
    (pending,) = queue.second_approvals
    assert pending.case_id == stored.case.id and pending.awaiting_second_approval
    assert pending.requested_by == "Paul Tournée"
    assert container.backoffice.queues.queue(clerk).items == []


def test_a_disabled_agent_has_no_queue(container: Container, cases: dict[str, int]) -> None:
    agent = make_agent(container, ["supervisor"])
    container.backoffice.directory.disable(agent.email, AT_COUNTER)
    agent.active = False
    assert container.backoffice.queues.queue(agent).items == []

"""Agents' rules: roles and their queues, tenant scope, checks, overrides, the four-eyes rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sesame.domain.agents import (
    Agent,
    AgentRole,
    AgentSession,
    InPersonCheck,
    Override,
    SecondApproval,
    check_agent_email,
    check_display_name,
    missing_checks,
    overrides_of,
    parse_roles,
)
from sesame.domain.errors import InvalidInput
from sesame.domain.identity import CaseStatus, MrzOutcome, VerificationMethod
from tests.identity_support import NOW, TODAY, new_case, person, walk


def agent(*roles: AgentRole, tenants: tuple[int, ...] = (1,), agent_id: int = 3, active: bool = True) -> Agent:
    return Agent(
        id=agent_id,
        email="paul@laposte.example",
        display_name="Paul",
        roles=frozenset(roles),
        tenant_ids=tenants,
        active=active,
        created_at=NOW,
        updated_at=NOW,
    )


def case_at(status: CaseStatus, method: VerificationMethod, **data: object):  # type: ignore[no-untyped-def]
    return walk(new_case(), status, method=method, data=person(**data) if data else None)


def test_roles_are_parsed_strictly() -> None:
    assert parse_roles(["Postman", " clerk "]) == {AgentRole.POSTMAN, AgentRole.CLERK}
    with pytest.raises(InvalidInput):
        parse_roles(["admin"])
    with pytest.raises(InvalidInput):
        parse_roles([])


def test_emails_and_names_are_checked() -> None:
    assert check_agent_email("  Paul.Tournee@LaPoste.Example ") == "paul.tournee@laposte.example"
    for bad in ("", "paul", "paul@", "a b@c.fr", "x" * 320 + "@a.fr"):
        with pytest.raises(InvalidInput):
            check_agent_email(bad)
    assert check_display_name("  Paul   Tournée ") == "Paul Tournée"
    for bad in ("", "   ", "x" * 101, "bell\x07name"):
        with pytest.raises(InvalidInput):
            check_display_name(bad)


@pytest.mark.parametrize(
    ("role", "postman", "post_office", "online"),
    [
        (AgentRole.POSTMAN, True, False, False),
        (AgentRole.CLERK, False, True, False),
        (AgentRole.REVIEWER, False, False, True),
        (AgentRole.SUPERVISOR, True, True, True),
    ],
)
def test_each_role_handles_its_cases(role: AgentRole, postman: bool, post_office: bool, online: bool) -> None:
    someone = agent(role)
    assert someone.handles(case_at(CaseStatus.IN_PERSON, VerificationMethod.POSTMAN)) is postman
    assert someone.handles(case_at(CaseStatus.IN_PERSON, VerificationMethod.POST_OFFICE)) is post_office
    assert someone.handles(case_at(CaseStatus.ONLINE_REVIEW, VerificationMethod.ONLINE)) is online
    # Nobody handles a case still with the person, nor a decided one.
    assert not someone.handles(case_at(CaseStatus.ONLINE_LETTER, VerificationMethod.ONLINE))
    assert not someone.handles(case_at(CaseStatus.ADDRESS, VerificationMethod.POSTMAN))
    assert not someone.handles(case_at(CaseStatus.ACTIVATION, VerificationMethod.POST_OFFICE))


def test_a_reviewer_does_not_decide_in_person() -> None:
    reviewer = agent(AgentRole.REVIEWER)
    in_person = case_at(CaseStatus.IN_PERSON, VerificationMethod.POST_OFFICE)
    online = case_at(CaseStatus.ONLINE_REVIEW, VerificationMethod.ONLINE)
    assert not reviewer.may_decide_in_person(in_person) and reviewer.may_review(online)
    assert not agent(AgentRole.CLERK).may_review(online)


def test_scope_and_activity_limit_everything() -> None:
    in_person = case_at(CaseStatus.IN_PERSON, VerificationMethod.POST_OFFICE)
    assert agent(AgentRole.SUPERVISOR, tenants=(1, 2)).handles(in_person)
    assert not agent(AgentRole.SUPERVISOR, tenants=(2,)).handles(in_person)
    assert not agent(AgentRole.SUPERVISOR, active=False).handles(in_person)


def test_queues_are_listed_once_each() -> None:
    assert len(agent(AgentRole.SUPERVISOR, AgentRole.CLERK, AgentRole.POSTMAN).queues()) == 3
    assert agent(AgentRole.CLERK).queues()[0].methods == (VerificationMethod.POST_OFFICE,)


def test_every_check_is_needed() -> None:
    assert missing_checks([check.value for check in InPersonCheck]) == []
    assert missing_checks(["original_seen", "photo_matches"]) == [
        InPersonCheck.DATA_MATCHES,
        InPersonCheck.DOCUMENT_VALID,
    ]
    assert missing_checks(["bogus"]) == list(InPersonCheck)


def test_overrides() -> None:
    case = case_at(CaseStatus.IN_PERSON, VerificationMethod.POST_OFFICE)
    assert overrides_of(case, TODAY) == []
    case.record_mrz(MrzOutcome.NOT_CHECKED, {})
    assert overrides_of(case, TODAY) == []  # no OCR engine is not a disagreement
    case.record_mrz(MrzOutcome.MISMATCH, {"mismatches": ["birth_date"]})
    assert overrides_of(case, TODAY) == [Override.MRZ_MISMATCH]
    case.record_mrz(MrzOutcome.UNREADABLE, {})
    assert overrides_of(case, TODAY) == [Override.MRZ_UNREADABLE]
    expired = case_at(CaseStatus.IN_PERSON, VerificationMethod.POST_OFFICE, document_expiry=date(2026, 1, 31))
    assert expired.document_expired and overrides_of(expired, TODAY) == [Override.DOCUMENT_EXPIRED]
    # A document that expires between the form and the visit is expired all the same.
    later = case_at(CaseStatus.IN_PERSON, VerificationMethod.POST_OFFICE, document_expiry=TODAY + timedelta(days=3))
    assert overrides_of(later, TODAY) == [] and overrides_of(later, TODAY + timedelta(days=4)) == [
        Override.DOCUMENT_EXPIRED
    ]


def test_the_second_approval_is_another_supervisor_in_scope() -> None:
    approval = SecondApproval(
        case_id=1,
        tenant_id=1,
        requested_by=3,
        requested_at=NOW,
        reason="",
        overrides=(Override.MRZ_MISMATCH,),
        case_version=4,
    )
    assert approval.may_confirm(agent(AgentRole.SUPERVISOR, agent_id=4))
    assert not approval.may_confirm(agent(AgentRole.SUPERVISOR, agent_id=3))  # the first agent
    assert not approval.may_confirm(agent(AgentRole.CLERK, agent_id=4))
    assert not approval.may_confirm(agent(AgentRole.SUPERVISOR, agent_id=4, tenants=(2,)))
    assert not approval.may_confirm(agent(AgentRole.SUPERVISOR, agent_id=4, active=False))


def test_a_session_ends_when_idle_or_at_its_limit() -> None:
    session = AgentSession(
        id="x" * 64,
        agent_id=3,
        created_at=NOW,
        last_seen_at=NOW,
        idle_expires_at=NOW + timedelta(minutes=15),
        expires_at=NOW + timedelta(hours=10),
    )
    assert session.is_active(NOW + timedelta(minutes=14))
    assert not session.is_active(NOW + timedelta(minutes=15))
    session.idle_expires_at = NOW + timedelta(hours=11)
    assert not session.is_active(NOW + timedelta(hours=10))
    session.ended_at = NOW
    assert not session.is_active(NOW)

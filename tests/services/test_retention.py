"""Retention (``sesame maintenance purge``): each tenant's policy applied, with the clock moved forward."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import AccountStatus
from sesame.domain.agents import InPersonCheck
from sesame.domain.devices import ApprovalKind
from sesame.domain.identity import CaseStatus, Decision, MrzOutcome, VerificationMethod
from sesame.domain.tenants import Tenant
from sesame.flows.base import FlowRunner
from sesame.flows.hello.flow import HELLO
from sesame.services.approvals import NewApproval
from sesame.services.retention import PurgeReport
from tests.app_support import CTX, MOBILE, PASSWORD, activate, verified_account
from tests.backoffice.support import AT_COUNTER, DECIDE_AT, documents_of, make_agent, reload, store_case
from tests.identity_support import POLICY
from tests.services.accounts_support import demo_tenant

DAY = timedelta(days=1)


@pytest.fixture
def laposte(container: Container, clock: FrozenClock) -> Tenant:
    clock.set(DECIDE_AT)
    return demo_tenant(container, "laposte")


def counts(report: PurgeReport, slug: str = "laposte") -> dict[str, int]:
    return next(tenant.counts() for tenant in report.tenants if tenant.tenant == slug)


def nothing(report: PurgeReport) -> bool:
    return not any(report.totals().values())


def close_account(container: Container, account_id: int, at: datetime) -> None:
    with container.uow() as uow:
        account = uow.accounts.get(account_id)
        assert account is not None
        account.status, account.closed_at, account.updated_at = AccountStatus.CLOSED, at, at
        uow.accounts.save(account)
        uow.commit()


def completed_with_identity(container: Container, tenant: Tenant) -> tuple[int, int, int]:
    """A completed enrolment: (account id, case id, identity id)."""
    stored = store_case(container, tenant, until=CaseStatus.ACTIVATION)
    with container.uow() as uow:
        case = uow.proofing.get(stored.case.id)
        assert case is not None
        identity = uow.identities.add(case.activate(DECIDE_AT))
        uow.proofing.save(case)
        uow.commit()
    return stored.account.id, case.id, identity.id


def test_unfinished_enrolments_are_abandoned_after_the_policy_days(
    container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    wizard = store_case(container, laposte, until=CaseStatus.ADDRESS)
    in_person = store_case(container, laposte)
    review = store_case(container, laposte, VerificationMethod.ONLINE)
    pending = store_case(container, laposte, mrz=MrzOutcome.MISMATCH)
    clerk = make_agent(container, ["clerk"])
    container.backoffice.decisions.decide_in_person(
        clerk,
        pending.case.id,
        Decision.APPROVED,
        AT_COUNTER,
        checks=[c.value for c in InPersonCheck],
        day_code=pending.day_code or "",
    )
    assert nothing(container.retention.purge())

    clock.advance(days=laposte.policy.identity.enrolment_ttl_days + 1)
    report = container.retention.purge()

    assert counts(report)["abandoned_cases"] == 2 and counts(report)["documents"] == 4
    for stored in (wizard, in_person):
        case = reload(container, stored.case.id)
        assert case.status is CaseStatus.ABANDONED and case.closed_reason == "expired"
        assert documents_of(container, case.id) == 0
    # A review and an override wait for us, not for the person: kept as they are.
    assert reload(container, review.case.id).status is CaseStatus.ONLINE_REVIEW
    assert reload(container, pending.case.id).status is CaseStatus.IN_PERSON
    assert documents_of(container, review.case.id) == 4


def test_leftover_images_of_decided_cases_are_swept(container: Container, laposte: Tenant) -> None:
    stored = store_case(container, laposte)
    with container.uow() as uow:  # decided, but (a bug, a crash) its images were not deleted
        case = uow.proofing.get(stored.case.id)
        assert case is not None
        kept = list(case.document_ids)
        case.decide(Decision.REJECTED, "agent:1", "not the person", POLICY, DECIDE_AT)
        case.document_ids = kept
        uow.proofing.save(case)
        uow.commit()

    report = container.retention.purge()

    assert counts(report)["documents"] == 2 and counts(report)["abandoned_cases"] == 0
    assert reload(container, stored.case.id).document_ids == [] and documents_of(container, stored.case.id) == 0


def test_evidence_is_kept_for_the_policy_years(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    rejected = store_case(container, laposte)
    clerk = make_agent(container, ["clerk"])
    container.backoffice.decisions.decide_in_person(clerk, rejected.case.id, Decision.REJECTED, AT_COUNTER, reason="no")
    account_id, completed_case, identity_id = completed_with_identity(container, laposte)
    ended_account, ended_case, ended_identity = completed_with_identity(container, laposte)
    with container.uow() as uow:  # this identity was revoked (support): its evidence ends with it
        identity = uow.identities.of_account(ended_account)
        assert identity is not None
        identity.revoked_at, identity.revoked_reason = DECIDE_AT, "support"
        uow.identities.save(identity)
        uow.commit()

    clock.advance(days=laposte.policy.identity.evidence_retention_days - 1)
    assert nothing(container.retention.purge())
    clock.advance(days=2)
    report = container.retention.purge()

    assert counts(report)["deleted_cases"] == 2  # the rejected case and the revoked identity's
    assert counts(report)["deleted_identities"] == 1
    with container.uow(readonly=True) as uow:
        assert uow.proofing.get(rejected.case.id) is None and uow.proofing.get(ended_case) is None
        assert uow.proofing.get(completed_case) is not None  # the evidence of an identity in use
        assert uow.identities.of_account(account_id) is not None
        assert uow.identities.of_account(ended_account) is None
    assert identity_id != ended_identity


def test_closed_accounts_are_deleted_after_the_policy_years(
    container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    account_id, case_id, _ = completed_with_identity(container, laposte)
    recent = store_case(container, laposte, until=CaseStatus.ADDRESS).account.id
    close_account(container, account_id, DECIDE_AT)
    clock.advance(days=365)
    close_account(container, recent, clock.now())
    clock.advance(days=laposte.policy.identity.closed_account_retention_days - 365 + 1)

    report = container.retention.purge()

    assert counts(report)["deleted_accounts"] == 1
    with container.uow(readonly=True) as uow:
        assert uow.accounts.get(account_id) is None and uow.proofing.get(case_id) is None
        assert uow.accounts.get(recent) is not None
        # The identity's evidence outlives the account, ended at the account's closure.
        identities = uow.identities.ended_before(DECIDE_AT + timedelta(seconds=1), laposte.id)
    assert len(identities) == 1
    clock.set(DECIDE_AT + timedelta(days=laposte.policy.identity.evidence_retention_days + 1))
    assert counts(container.retention.purge())["deleted_identities"] == 1


def test_dry_run_counts_without_removing_and_purge_is_idempotent(
    container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    poste_ch = demo_tenant(container, "poste-ch")
    store_case(container, laposte, until=CaseStatus.ADDRESS)
    store_case(container, poste_ch, until=CaseStatus.DOCUMENT)  # no image yet at that step
    runner = FlowRunner(container.uow, container.clock)
    runner.start(HELLO, laposte, "browser-token")
    clock.advance(days=laposte.policy.identity.enrolment_ttl_days + 1)

    dry = container.retention.purge(dry_run=True)
    assert dry.dry_run and counts(dry)["abandoned_cases"] == 1 and counts(dry, "poste-ch")["abandoned_cases"] == 1
    assert dry.expired_flows == 1 and counts(dry)["documents"] == 2
    again = container.retention.purge(dry_run=True)
    assert again.to_json()["totals"] == dry.to_json()["totals"]  # nothing was removed

    real = container.retention.purge()
    assert real.to_json()["totals"] == dry.to_json()["totals"] and real.to_json()["tenants"] == dry.to_json()["tenants"]
    assert nothing(container.retention.purge())  # idempotent
    purged = [r.event for r in _audit(container, laposte.id) if r.event.type == "retention.purged"]
    assert len(purged) == 1 and purged[0].details["abandoned_cases"] == 1


def _audit(container: Container, tenant_id: int) -> list:  # type: ignore[type-arg]
    with container.uow(readonly=True) as uow:
        return list(uow.audit.chain(tenant_id))


def test_expired_approval_requests_and_activations_are_purged_a_day_later(
    container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    """The phone app's requests (a website login, a CIBA request) and unfinished activations are of
    no use once expired: kept a day (a late poll reads "expired"), then removed and counted."""
    verified_account(container, laposte, "app.retention@example.fr")
    activate(container, laposte, "app.retention@example.fr")  # its activation is used, not yet expired
    container.devices.start_activation(laposte, "app.retention@example.fr", PASSWORD, CTX)  # left unfinished
    new = NewApproval(kind=ApprovalKind.WEB_LOGIN, service_name="La Poste", handle="browser-handle")
    request = container.approvals.create_request(laposte, new, CTX, mobile=MOBILE).request
    assert nothing(container.retention.purge())

    clock.set(request.expires_at + DAY - timedelta(seconds=1))
    within_grace = container.retention.purge()
    assert within_grace.expired_approvals == 0
    assert container.approvals.poll(laposte, request.id, "browser-handle") is not None

    clock.advance(days=1)
    dry = container.retention.purge(dry_run=True)
    assert (dry.expired_approvals, dry.expired_activations) == (1, 2)
    assert container.approvals.poll(laposte, request.id, "browser-handle") is not None, "a dry run removes nothing"
    report = container.retention.purge()
    assert (report.expired_approvals, report.expired_activations) == (1, 2)
    assert report.totals()["expired_approvals"] == 1 and report.to_json()["totals"]["expired_activations"] == 2  # type: ignore[index]
    assert container.approvals.poll(laposte, request.id, "browser-handle") is None
    assert nothing(container.retention.purge())  # idempotent

"""Proofing cases and verified identities round-trip through SQL, with optimistic locking."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.errors import FlowStateError
from sesame.domain.identity import (
    CaseCode,
    CaseStatus,
    CodePurpose,
    ProofingCase,
    VerificationMethod,
    VerifiedIdentity,
)
from sesame.domain.tenants import TenantPolicy
from tests.identity_support import NOW, new_case, walk


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


@pytest.fixture
def account_ids(uow: SqlUnitOfWorkFactory) -> tuple[int, int]:
    with uow() as tx:
        tenant = tx.tenants.add("laposte", "La Poste", TenantPolicy(), NOW)
        ids = []
        for email in ("a@example.fr", "b@example.fr"):
            account = Account(
                id=0,
                tenant_id=tenant.id,
                email=email,
                email_verified_at=NOW,
                given_name="A",
                family_name="B",
                status=AccountStatus.ACTIVE,
                locale="fr",
                created_at=NOW,
                updated_at=NOW,
            )
            ids.append(tx.accounts.add(account).id)
        tx.commit()
    return ids[0], ids[1]


def stored(uow: SqlUnitOfWorkFactory, case: ProofingCase) -> ProofingCase:
    with uow() as tx:
        case = tx.proofing.add(case)
        tx.commit()
    return case


def test_a_case_round_trips_at_every_step(uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]) -> None:
    with uow() as tx:
        tenant_id = tx.tenants.get_by_slug("laposte").id  # type: ignore[union-attr]
    case = new_case(account_id=account_ids[0])
    case.tenant_id = tenant_id
    case = stored(uow, case)
    for status in (CaseStatus.IDENTITY, CaseStatus.MOBILE_CODE, CaseStatus.ONLINE_REVIEW):
        walk(case, status, method=VerificationMethod.ONLINE)
        with uow() as tx:
            tx.proofing.save(case)
            tx.commit()
        with uow(readonly=True) as tx:
            loaded = tx.proofing.get(case.id)
        assert loaded == case
    with uow(readonly=True) as tx:
        assert tx.proofing.open_case_of(account_ids[0]) == case
        assert tx.proofing.open_case_of(account_ids[1]) is None
        queue = tx.proofing.queue(tenant_id, [CaseStatus.ONLINE_REVIEW], methods=[VerificationMethod.ONLINE])
        assert [item.id for item in queue] == [case.id]


def test_a_stale_copy_cannot_overwrite(uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]) -> None:
    with uow() as tx:
        tenant_id = tx.tenants.get_by_slug("laposte").id  # type: ignore[union-attr]
    case = new_case(account_id=account_ids[0])
    case.tenant_id = tenant_id
    case = stored(uow, case)
    with uow(readonly=True) as tx:
        first, second = tx.proofing.get(case.id), tx.proofing.get(case.id)
    assert first is not None and second is not None
    first.accept_terms("1", NOW)
    second.accept_terms("2", NOW)
    with uow() as tx:
        tx.proofing.save(first)
        tx.commit()
    with uow() as tx, pytest.raises(FlowStateError):
        tx.proofing.save(second)


def test_a_verified_identity_round_trips_and_outlives_the_case(
    uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]
) -> None:
    with uow() as tx:
        tenant_id = tx.tenants.get_by_slug("laposte").id  # type: ignore[union-attr]
    case = new_case(account_id=account_ids[0])
    case.tenant_id = tenant_id
    walk(case, CaseStatus.ACTIVATION)
    case.codes[CodePurpose.ACTIVATION.value] = case.codes.get(CodePurpose.ACTIVATION.value) or _code()
    case = stored(uow, case)
    identity = case.activate(NOW + timedelta(hours=2))
    with uow() as tx:
        tx.proofing.save(case)
        tx.identities.add(identity)
        tx.commit()
    with uow(readonly=True) as tx:
        loaded = tx.identities.of_account(account_ids[0])
        assert loaded == identity
        assert [item.id for item in tx.identities.by_mobile(tenant_id, "+33612345678")] == [identity.id]
        assert tx.proofing.open_case_of(account_ids[0]) is None
    identity.revoked_at, identity.revoked_reason = NOW + timedelta(days=1), "account closed"
    with uow() as tx:
        tx.identities.save(identity)
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.identities.of_account(account_ids[0]) is None
        assert tx.identities.ended_before(NOW + timedelta(days=2), tenant_id) == [identity.id]
        assert tx.identities.ended_before(NOW, tenant_id) == []


def test_the_review_queue_orders_ties_by_creation(uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]) -> None:
    """Oldest submission first, then oldest change, then creation: cases submitted and changed at
    the same instant keep one order. The first case is rewritten with an indexed column changed
    and changed back (on PostgreSQL its row, and its index entries, move to the end), so that the
    order the database reads them in is not the expected one."""
    with uow() as tx:
        tenant_id = tx.tenants.get_by_slug("laposte").id  # type: ignore[union-attr]

    def waiting(submitted_at: datetime | None, updated_at: datetime = NOW) -> ProofingCase:
        case = new_case(account_id=account_ids[0])
        case.tenant_id, case.status, case.method = tenant_id, CaseStatus.ONLINE_REVIEW, VerificationMethod.ONLINE
        case.submitted_at, case.updated_at = submitted_at, updated_at
        return stored(uow, case)

    first, second = waiting(NOW), waiting(NOW)
    unsubmitted = waiting(None, NOW - timedelta(days=1))
    changed_earlier = waiting(NOW, NOW - timedelta(minutes=1))
    third = waiting(NOW)
    submitted_earlier = waiting(NOW - timedelta(hours=1))
    for updated_at in (NOW - timedelta(days=2), NOW):
        first.updated_at = updated_at
        with uow() as tx:
            tx.proofing.save(first)
            tx.commit()
    with uow(readonly=True) as tx:
        queue = tx.proofing.queue(tenant_id, [CaseStatus.ONLINE_REVIEW], methods=[VerificationMethod.ONLINE])
        assert [case.id for case in queue] == [
            submitted_earlier.id,
            changed_earlier.id,
            first.id,
            second.id,
            third.id,
            unsubmitted.id,
        ]
        page = tx.proofing.queue(tenant_id, [CaseStatus.ONLINE_REVIEW], limit=2, offset=2)
        assert [case.id for case in page] == [first.id, second.id]


def _verified(uow: SqlUnitOfWorkFactory, account_id: int) -> VerifiedIdentity:
    """A verified identity (mobile +33612345678), from a case taken to activation."""
    with uow() as tx:
        tenant_id = tx.tenants.get_by_slug("laposte").id  # type: ignore[union-attr]
    case = new_case(account_id=account_id)
    case.tenant_id = tenant_id
    walk(case, CaseStatus.ACTIVATION)
    case.codes[CodePurpose.ACTIVATION.value] = case.codes.get(CodePurpose.ACTIVATION.value) or _code()
    case = stored(uow, case)
    return case.activate(NOW + timedelta(hours=2))


def _shuffled_identities(uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]) -> list[VerifiedIdentity]:
    """Four identities of one mobile, alike but for their ids; the first one's mobile is changed
    and changed back once they are all in (on PostgreSQL its row, and its index entries, move to
    the end), so that the order the database reads them in is not id order."""
    template = _verified(uow, account_ids[0])
    with uow() as tx:
        added = [tx.identities.add(replace(template, id=0, account_id=account_ids[i % 2])) for i in range(4)]
        tx.commit()
    assert [identity.id for identity in added] == sorted(identity.id for identity in added)
    for mobile in ("+33700000000", "+33612345678"):
        added[0].mobile = mobile
        with uow() as tx:
            tx.identities.save(added[0])
            tx.commit()
    return added


def test_identities_sharing_a_mobile_come_oldest_first(uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]) -> None:
    added = _shuffled_identities(uow, account_ids)
    with uow(readonly=True) as tx:
        found = tx.identities.by_mobile(added[0].tenant_id, "+33612345678")
    assert [identity.id for identity in found] == [identity.id for identity in added]


def test_ended_identities_come_in_fixed_batches(uow: SqlUnitOfWorkFactory, account_ids: tuple[int, int]) -> None:
    """Identities that ended at the same instant come by id: each batch of ``limit`` is a fixed one."""
    added = _shuffled_identities(uow, account_ids)
    with uow() as tx:
        for identity in reversed(added):
            identity.revoked_at, identity.revoked_reason = NOW + timedelta(days=1), "account closed"
            tx.identities.save(identity)
        tx.commit()
    ids, tenant_id = [identity.id for identity in added], added[0].tenant_id
    with uow(readonly=True) as tx:
        assert tx.identities.by_mobile(tenant_id, "+33612345678") == []
        assert tx.identities.ended_before(NOW + timedelta(days=2), tenant_id, limit=3) == ids[:3]
        assert tx.identities.ended_before(NOW + timedelta(days=2), tenant_id) == ids


def _code() -> CaseCode:
    return CaseCode(digest="d" * 64, expires_at=NOW + timedelta(days=1), sent_at=NOW)

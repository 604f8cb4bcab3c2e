"""Proofing cases and verified identities round-trip through SQL, with optimistic locking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.errors import FlowStateError
from sesame.domain.identity import CaseStatus, CodePurpose, ProofingCase, VerificationMethod
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


def _code():  # type: ignore[no-untyped-def]
    from sesame.domain.identity import CaseCode

    return CaseCode(digest="d" * 64, expires_at=NOW + timedelta(days=1), sent_at=NOW)

"""Agents, their scope, sessions and pending second approvals, and the retention queries, in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sesame.adapters.encrypted_storage import DocumentCipher
from sesame.adapters.sql.db import Database
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.agents import Agent, AgentRole, AgentSession, Override, SecondApproval
from sesame.domain.errors import AlreadyExists
from sesame.domain.identity import CaseStatus, Decision
from sesame.domain.tenants import TenantPolicy
from tests.conftest import TEST_SECRET
from tests.identity_support import NOW, POLICY, new_case, walk


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database, documents=DocumentCipher(TEST_SECRET))
    database.dispose()


@pytest.fixture
def tenants(uow: SqlUnitOfWorkFactory) -> tuple[int, int]:
    with uow() as tx:
        first = tx.tenants.add("laposte", "La Poste", TenantPolicy(), NOW)
        second = tx.tenants.add("poste-ch", "Poste CH", TenantPolicy(), NOW)
        tx.commit()
    return first.id, second.id


def new_agent(tenant_ids: tuple[int, ...], email: str = "paul@laposte.example") -> Agent:
    return Agent(
        id=0,
        email=email,
        display_name="Paul",
        roles=frozenset({AgentRole.CLERK}),
        tenant_ids=tenant_ids,
        active=True,
        created_at=NOW,
        updated_at=NOW,
        password_hash="$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA",
    )


def test_an_agent_round_trips_with_its_scope(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    with uow() as tx:
        agent = tx.agents.add(new_agent((tenants[0],)))
        tx.commit()
    with uow() as tx:
        found = tx.agents.by_email("paul@laposte.example")
        assert found is not None and found.id == agent.id and found.tenant_ids == (tenants[0],)
        found.tenant_ids = (tenants[1],)
        found.roles = frozenset({AgentRole.SUPERVISOR, AgentRole.REVIEWER})
        tx.agents.save(found)
        tx.commit()
    with uow(readonly=True) as tx:
        again = tx.agents.get(agent.id)
        assert again is not None and again.tenant_ids == (tenants[1],)
        assert again.roles == {AgentRole.SUPERVISOR, AgentRole.REVIEWER}
        assert [a.id for a in tx.agents.list(tenants[1])] == [agent.id] and tx.agents.list(tenants[0]) == []
    with uow() as tx, pytest.raises(AlreadyExists):
        tx.agents.add(new_agent((tenants[0],)))


def test_sessions(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    with uow() as tx:
        agent = tx.agents.add(new_agent((tenants[0],)))
        for name in ("a", "b", "c"):
            tx.agents.add_session(
                AgentSession(
                    id=name * 64,
                    agent_id=agent.id,
                    created_at=NOW,
                    last_seen_at=NOW,
                    idle_expires_at=NOW + timedelta(minutes=15),
                    expires_at=NOW + timedelta(hours=10),
                )
            )
        assert tx.agents.end_sessions(agent.id, NOW, "password_changed", keep="a" * 64) == 2
        assert tx.agents.end_sessions(agent.id, NOW, "logout", only="a" * 64) == 1
        tx.commit()
    with uow() as tx:
        assert tx.agents.delete_sessions_before(NOW) == 0
        assert tx.agents.delete_sessions_before(NOW + timedelta(seconds=1)) == 3
        tx.commit()


def test_one_pending_second_approval_per_case(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    with uow() as tx:
        agent = tx.agents.add(new_agent((tenants[0],)))
        account = tx.accounts.add(
            Account(0, tenants[0], "a@example.fr", NOW, "A", "B", AccountStatus.ACTIVE, "fr", NOW, NOW)
        )
        case = new_case(account_id=account.id)
        case.tenant_id = tenants[0]
        case = tx.proofing.add(walk(case, CaseStatus.IN_PERSON))
        approval = SecondApproval(case.id, tenants[0], agent.id, NOW, "typo", (Override.MRZ_MISMATCH,), 3)
        tx.agents.add_approval(approval)
        with pytest.raises(AlreadyExists):
            tx.agents.add_approval(approval)
        tx.commit()
    with uow() as tx:
        assert tx.agents.approval(case.id) == approval
        assert tx.agents.approvals(tenants[0]) == [approval] and tx.agents.approvals(tenants[1]) == []
        assert tx.agents.pending_case_ids([case.id, 999]) == {case.id}
        assert tx.agents.remove_approval(case.id) and not tx.agents.remove_approval(case.id)
        tx.commit()


def test_retention_queries(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    with uow() as tx:
        account = tx.accounts.add(
            Account(0, tenants[0], "a@example.fr", NOW, "A", "B", AccountStatus.ACTIVE, "fr", NOW, NOW)
        )
        closed = tx.accounts.add(
            Account(0, tenants[0], "c@example.fr", NOW, "C", "D", AccountStatus.CLOSED, "fr", NOW, NOW, closed_at=NOW)
        )
        holding = new_case(account_id=account.id)
        holding.tenant_id = tenants[0]
        holding = tx.proofing.add(walk(holding, CaseStatus.IN_PERSON))
        holding.decide(Decision.REJECTED, "agent:1", "no", POLICY, NOW)
        holding.document_ids = ["left-over"]
        tx.proofing.save(holding)
        empty = new_case(account_id=closed.id)
        empty.tenant_id = tenants[0]
        empty = tx.proofing.add(walk(empty, CaseStatus.ADDRESS))
        tx.commit()
    later = NOW + timedelta(days=1)
    with uow() as tx:
        retention = tx.retention
        assert retention.cases_holding_documents(tenants[0], [CaseStatus.REJECTED]) == [holding.id]
        assert retention.cases_holding_documents(tenants[0], [CaseStatus.ADDRESS]) == [empty.id]  # walk's placeholders
        assert retention.cases_holding_documents(tenants[1], [CaseStatus.REJECTED]) == []
        assert retention.idle_cases(tenants[0], [CaseStatus.ADDRESS], later) == [empty.id]
        assert retention.idle_cases(tenants[0], [CaseStatus.ADDRESS], NOW) == []
        assert retention.idle_cases(tenants[0], [CaseStatus.ADDRESS], later, after_id=empty.id) == []
        assert retention.closed_accounts(tenants[0], later) == [closed.id]
        assert retention.closed_accounts(tenants[0], NOW) == []
        retention.delete_account(closed.id)
        assert tx.accounts.get(closed.id) is None and tx.proofing.get(empty.id) is None  # cascaded
        tx.commit()

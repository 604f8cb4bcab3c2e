"""Back-office agents, their sessions and the overrides awaiting a second approval, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.agents import AgentRow, AgentSessionRow, AgentTenantRow, SecondApprovalRow
from sesame.domain.agents import Agent, AgentRole, AgentSession, Override, SecondApproval
from sesame.domain.errors import AlreadyExists, NotFound

#: The ``agent_sessions.end_reason`` column's length.
END_REASON_MAX = 30


def _changed(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _agent(row: AgentRow, tenant_ids: Sequence[int]) -> Agent:
    return Agent(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        roles=frozenset(AgentRole(role) for role in row.roles),
        tenant_ids=tuple(sorted(tenant_ids)),
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        password_hash=row.password_hash,
        password_change_required=row.password_change_required,
        last_login_at=row.last_login_at,
        disabled_at=row.disabled_at,
    )


def _session(row: AgentSessionRow) -> AgentSession:
    return AgentSession(
        id=row.id,
        agent_id=row.agent_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        idle_expires_at=row.idle_expires_at,
        expires_at=row.expires_at,
        ip=row.ip,
        user_agent=row.user_agent,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )


def _approval(row: SecondApprovalRow) -> SecondApproval:
    return SecondApproval(
        case_id=row.case_id,
        tenant_id=row.tenant_id,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        reason=row.reason,
        overrides=tuple(Override(value) for value in row.overrides),
        case_version=row.case_version,
    )


def _roles(agent: Agent) -> list[str]:
    return sorted(role.value for role in agent.roles)


class SqlAgentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- agents ------------------------------------------------------------------------------------

    def _scopes(self, agent_ids: Sequence[int]) -> dict[int, list[int]]:
        scopes: dict[int, list[int]] = {agent_id: [] for agent_id in agent_ids}
        if agent_ids:
            rows = self._session.execute(
                select(AgentTenantRow.agent_id, AgentTenantRow.tenant_id).where(AgentTenantRow.agent_id.in_(agent_ids))
            )
            for agent_id, tenant_id in rows:
                scopes[agent_id].append(tenant_id)
        return scopes

    def add(self, agent: Agent) -> Agent:
        """Store a new agent (its ``id`` is set); ``AlreadyExists`` if the address is taken."""
        row = AgentRow(
            email=agent.email,
            display_name=agent.display_name,
            roles=_roles(agent),
            active=agent.active,
            password_hash=agent.password_hash,
            password_change_required=agent.password_change_required,
            created_at=agent.created_at,
            updated_at=agent.updated_at,
            last_login_at=agent.last_login_at,
            disabled_at=agent.disabled_at,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
                for tenant_id in agent.tenant_ids:
                    self._session.add(AgentTenantRow(agent_id=row.id, tenant_id=tenant_id))
                self._session.flush()
        except IntegrityError:
            raise AlreadyExists("an agent with this email address exists") from None
        agent.id = row.id
        return agent

    def get(self, agent_id: int) -> Agent | None:
        row = self._session.get(AgentRow, agent_id, populate_existing=True)
        return _agent(row, self._scopes([row.id])[row.id]) if row else None

    def by_email(self, email: str) -> Agent | None:
        row = self._session.scalars(
            select(AgentRow).where(AgentRow.email == email).execution_options(populate_existing=True)
        ).first()
        return _agent(row, self._scopes([row.id])[row.id]) if row else None

    def list(self, tenant_id: int | None = None) -> Sequence[Agent]:
        """Every agent (of one tenant's scope when given), by email."""
        query = select(AgentRow).order_by(AgentRow.email)
        if tenant_id is not None:
            query = query.where(
                AgentRow.id.in_(select(AgentTenantRow.agent_id).where(AgentTenantRow.tenant_id == tenant_id))
            )
        rows = list(self._session.scalars(query.execution_options(populate_existing=True)))
        scopes = self._scopes([row.id for row in rows])
        return [_agent(row, scopes[row.id]) for row in rows]

    def save(self, agent: Agent) -> None:
        result = self._session.execute(
            update(AgentRow)
            .where(AgentRow.id == agent.id)
            .values(
                display_name=agent.display_name,
                roles=_roles(agent),
                active=agent.active,
                password_hash=agent.password_hash,
                password_change_required=agent.password_change_required,
                updated_at=agent.updated_at,
                last_login_at=agent.last_login_at,
                disabled_at=agent.disabled_at,
            )
            .execution_options(synchronize_session=False)
        )
        if _changed(result) != 1:
            raise NotFound(f"no agent {agent.id}")
        current = set(self._scopes([agent.id])[agent.id])
        wanted = set(agent.tenant_ids)
        if current - wanted:
            self._session.execute(
                delete(AgentTenantRow).where(
                    AgentTenantRow.agent_id == agent.id, AgentTenantRow.tenant_id.in_(current - wanted)
                )
            )
        for tenant_id in sorted(wanted - current):
            self._session.add(AgentTenantRow(agent_id=agent.id, tenant_id=tenant_id))
        self._session.flush()

    # -- sessions ----------------------------------------------------------------------------------

    def add_session(self, agent_session: AgentSession) -> None:
        self._session.add(
            AgentSessionRow(
                id=agent_session.id,
                agent_id=agent_session.agent_id,
                created_at=agent_session.created_at,
                last_seen_at=agent_session.last_seen_at,
                idle_expires_at=agent_session.idle_expires_at,
                expires_at=agent_session.expires_at,
                ip=agent_session.ip,
                user_agent=agent_session.user_agent,
            )
        )
        self._session.flush()

    def get_session(self, session_id: str) -> AgentSession | None:
        row = self._session.get(AgentSessionRow, session_id, populate_existing=True)
        return _session(row) if row else None

    def touch_session(self, session_id: str, now: datetime, idle_expires_at: datetime) -> None:
        self._session.execute(
            update(AgentSessionRow)
            .where(AgentSessionRow.id == session_id, AgentSessionRow.ended_at.is_(None))
            .values(last_seen_at=now, idle_expires_at=idle_expires_at)
            .execution_options(synchronize_session=False)
        )

    def end_sessions(
        self, agent_id: int, now: datetime, reason: str, *, only: str | None = None, keep: str | None = None
    ) -> int:
        """End the agent's live sessions: all, ``only`` one, or all but ``keep``; returns how many."""
        query = update(AgentSessionRow).where(AgentSessionRow.agent_id == agent_id, AgentSessionRow.ended_at.is_(None))
        if only is not None:
            query = query.where(AgentSessionRow.id == only)
        if keep is not None:
            query = query.where(AgentSessionRow.id != keep)
        result = self._session.execute(
            query.values(ended_at=now, end_reason=reason[:END_REASON_MAX]).execution_options(synchronize_session=False)
        )
        return _changed(result)

    def delete_sessions_before(self, before: datetime) -> int:
        """Forget sessions that ended, or expired, before ``before``."""
        result = self._session.execute(
            delete(AgentSessionRow).where(
                or_(
                    AgentSessionRow.ended_at < before,
                    AgentSessionRow.expires_at < before,
                    AgentSessionRow.idle_expires_at < before,
                )
            )
        )
        return _changed(result)

    # -- second approvals (four-eyes) --------------------------------------------------------------

    def add_approval(self, approval: SecondApproval) -> None:
        """Record a pending second approval; ``AlreadyExists`` if the case has one."""
        row = SecondApprovalRow(
            case_id=approval.case_id,
            tenant_id=approval.tenant_id,
            requested_by=approval.requested_by,
            requested_at=approval.requested_at,
            reason=approval.reason,
            overrides=[override.value for override in approval.overrides],
            case_version=approval.case_version,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError:
            raise AlreadyExists(f"case {approval.case_id} already awaits a second approval") from None

    def approval(self, case_id: int) -> SecondApproval | None:
        row = self._session.get(SecondApprovalRow, case_id, populate_existing=True)
        return _approval(row) if row else None

    def approvals(self, tenant_id: int, *, limit: int = 100, offset: int = 0) -> Sequence[SecondApproval]:
        """A tenant's pending second approvals, oldest first."""
        rows = self._session.scalars(
            select(SecondApprovalRow)
            .where(SecondApprovalRow.tenant_id == tenant_id)
            .order_by(SecondApprovalRow.requested_at, SecondApprovalRow.case_id)
            .limit(limit)
            .offset(offset)
            .execution_options(populate_existing=True)
        )
        return [_approval(row) for row in rows]

    def pending_case_ids(self, case_ids: Sequence[int]) -> set[int]:
        """Which of these cases await a second approval."""
        if not case_ids:
            return set()
        return set(
            self._session.scalars(select(SecondApprovalRow.case_id).where(SecondApprovalRow.case_id.in_(case_ids)))
        )

    def remove_approval(self, case_id: int) -> bool:
        result = self._session.execute(delete(SecondApprovalRow).where(SecondApprovalRow.case_id == case_id))
        return _changed(result) == 1

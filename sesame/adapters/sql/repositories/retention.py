"""What the retention purge looks for, per tenant: ids only, by ascending id (the callers load and act).

Each query takes ``after_id`` so a caller can page through without changing anything (a dry run).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.accounts import AccountRow
from sesame.adapters.sql.models.identity import ProofingCaseRow
from sesame.domain.accounts import AccountStatus
from sesame.domain.identity import CaseStatus


class SqlRetentionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def idle_cases(
        self,
        tenant_id: int,
        statuses: Sequence[CaseStatus],
        updated_before: datetime,
        *,
        after_id: int = 0,
        limit: int = 200,
    ) -> Sequence[int]:
        """Cases of the tenant in these states, untouched since ``updated_before``."""
        return list(
            self._session.scalars(
                select(ProofingCaseRow.id)
                .where(
                    ProofingCaseRow.tenant_id == tenant_id,
                    ProofingCaseRow.status.in_([status.value for status in statuses]),
                    ProofingCaseRow.updated_at < updated_before,
                    ProofingCaseRow.id > after_id,
                )
                .order_by(ProofingCaseRow.id)
                .limit(limit)
            )
        )

    def cases_holding_documents(
        self, tenant_id: int, statuses: Sequence[CaseStatus], *, after_id: int = 0, limit: int = 200
    ) -> Sequence[int]:
        """Cases of the tenant in these states that still list document ids."""
        dialect = self._session.get_bind().dialect.name
        if dialect == "postgresql":
            holds = (
                func.jsonb_array_length(func.coalesce(ProofingCaseRow.data["document_ids"], text("'[]'::jsonb"))) > 0
            )
        else:
            holds = func.coalesce(func.json_array_length(ProofingCaseRow.data, "$.document_ids"), 0) > 0
        return list(
            self._session.scalars(
                select(ProofingCaseRow.id)
                .where(
                    ProofingCaseRow.tenant_id == tenant_id,
                    ProofingCaseRow.status.in_([status.value for status in statuses]),
                    ProofingCaseRow.id > after_id,
                    holds,
                )
                .order_by(ProofingCaseRow.id)
                .limit(limit)
            )
        )

    def closed_accounts(
        self, tenant_id: int, closed_before: datetime, *, after_id: int = 0, limit: int = 200
    ) -> Sequence[int]:
        """Accounts of the tenant closed before ``closed_before``."""
        return list(
            self._session.scalars(
                select(AccountRow.id)
                .where(
                    AccountRow.tenant_id == tenant_id,
                    AccountRow.status == AccountStatus.CLOSED.value,
                    AccountRow.closed_at.is_not(None),
                    AccountRow.closed_at < closed_before,
                    AccountRow.id > after_id,
                )
                .order_by(AccountRow.id)
                .limit(limit)
            )
        )

    def delete_account(self, account_id: int) -> None:
        """Delete the account; its credentials, sessions, tokens, consents, grants, factors and
        proofing cases go with it (foreign keys cascade). Verified identities stay (evidence)."""
        self._session.execute(delete(AccountRow).where(AccountRow.id == account_id))

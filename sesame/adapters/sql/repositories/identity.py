"""Proofing cases and verified identities in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.identity import ProofingCaseRow, VerifiedIdentityRow
from sesame.domain.errors import FlowStateError, NotFound
from sesame.domain.identity import (
    CLOSED_STATES,
    CaseCode,
    CaseEvent,
    CaseStatus,
    Decision,
    Evidence,
    IdentityData,
    MrzOutcome,
    PostalAddress,
    ProofingCase,
    VerificationMethod,
    VerifiedIdentity,
)
from sesame.domain.tenants import IdentityDocumentKind


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _dt(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _case_data(case: ProofingCase) -> dict[str, Any]:
    return {
        "terms_version": case.terms_version,
        "terms_accepted_at": _iso(case.terms_accepted_at),
        "document_kind": case.document_kind.value if case.document_kind else None,
        "document_ids": list(case.document_ids),
        "identity": case.identity.to_json() if case.identity else None,
        "identity_confirmed_at": _iso(case.identity_confirmed_at),
        "document_expired": case.document_expired,
        "mrz_outcome": case.mrz_outcome.value if case.mrz_outcome else None,
        "mrz_detail": case.mrz_detail,
        "mobile": case.mobile,
        "mobile_verified_at": _iso(case.mobile_verified_at),
        "address": case.address.to_json() if case.address else None,
        "method_chosen_at": _iso(case.method_chosen_at),
        "letter_ref": case.letter_ref,
        "video_failures": case.video_failures,
        "video_blocked_until": _iso(case.video_blocked_until),
        "video_challenge": case.video_challenge,
        "decision": case.decision.value if case.decision else None,
        "decision_reason": case.decision_reason,
        "decided_by": case.decided_by,
        "activation_expires_at": _iso(case.activation_expires_at),
        "activation_tries": case.activation_tries,
        "closed_reason": case.closed_reason,
        "codes": {purpose: code.to_json() for purpose, code in case.codes.items()},
        "history": [event.to_json() for event in case.history],
    }


def _case(row: ProofingCaseRow) -> ProofingCase:
    data = row.data
    return ProofingCase(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        status=CaseStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        terms_version=data.get("terms_version"),
        terms_accepted_at=_dt(data.get("terms_accepted_at")),
        document_kind=IdentityDocumentKind(data["document_kind"]) if data.get("document_kind") else None,
        document_ids=list(data.get("document_ids") or []),
        identity=IdentityData.from_json(data["identity"]) if data.get("identity") else None,
        identity_confirmed_at=_dt(data.get("identity_confirmed_at")),
        document_expired=bool(data.get("document_expired")),
        mrz_outcome=MrzOutcome(data["mrz_outcome"]) if data.get("mrz_outcome") else None,
        mrz_detail=dict(data.get("mrz_detail") or {}),
        mobile=data.get("mobile"),
        mobile_verified_at=_dt(data.get("mobile_verified_at")),
        address=PostalAddress.from_json(data["address"]) if data.get("address") else None,
        method=VerificationMethod(row.method) if row.method else None,
        method_chosen_at=_dt(data.get("method_chosen_at")),
        letter_ref=data.get("letter_ref"),
        video_failures=int(data.get("video_failures") or 0),
        video_blocked_until=_dt(data.get("video_blocked_until")),
        video_challenge=data.get("video_challenge"),
        submitted_at=row.submitted_at,
        decision=Decision(data["decision"]) if data.get("decision") else None,
        decision_reason=data.get("decision_reason") or "",
        decided_by=data.get("decided_by"),
        decided_at=row.decided_at,
        activation_expires_at=_dt(data.get("activation_expires_at")),
        activation_tries=int(data.get("activation_tries") or 0),
        completed_at=row.completed_at,
        closed_reason=data.get("closed_reason") or "",
        codes={purpose: CaseCode.from_json(code) for purpose, code in (data.get("codes") or {}).items()},
        history=[CaseEvent.from_json(event) for event in data.get("history") or []],
        version=row.version,
    )


def _identity(row: VerifiedIdentityRow) -> VerifiedIdentity:
    data = row.data
    return VerifiedIdentity(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        level=row.level,
        data=IdentityData.from_json(data["identity"]),
        mobile=row.mobile,
        address=PostalAddress.from_json(data["address"]) if data.get("address") else None,
        evidence=Evidence.from_json(row.evidence),
        verified_at=row.verified_at,
        app_activated_at=row.app_activated_at,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
    )


class SqlProofingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, case: ProofingCase) -> ProofingCase:
        row = ProofingCaseRow(
            tenant_id=case.tenant_id,
            account_id=case.account_id,
            status=case.status.value,
            method=case.method.value if case.method else None,
            created_at=case.created_at,
            updated_at=case.updated_at,
            submitted_at=case.submitted_at,
            decided_at=case.decided_at,
            completed_at=case.completed_at,
            version=1,
            data=_case_data(case),
        )
        self._session.add(row)
        self._session.flush()
        case.id, case.version = row.id, 1
        return case

    def get(self, case_id: int) -> ProofingCase | None:
        row = self._session.get(ProofingCaseRow, case_id, populate_existing=True)
        return _case(row) if row else None

    def open_case_of(self, account_id: int) -> ProofingCase | None:
        closed = [status.value for status in CLOSED_STATES]
        row = self._session.scalars(
            select(ProofingCaseRow)
            .where(ProofingCaseRow.account_id == account_id, ProofingCaseRow.status.not_in(closed))
            .order_by(ProofingCaseRow.id.desc())
            .limit(1)
        ).first()
        return _case(row) if row else None

    def cases_of(self, account_id: int) -> Sequence[ProofingCase]:
        rows = self._session.scalars(
            select(ProofingCaseRow).where(ProofingCaseRow.account_id == account_id).order_by(ProofingCaseRow.id.desc())
        )
        return [_case(row) for row in rows]

    def save(self, case: ProofingCase) -> None:
        """Store a changed case; ``FlowStateError`` if someone changed it since it was read."""
        result = self._session.execute(
            update(ProofingCaseRow)
            .where(ProofingCaseRow.id == case.id, ProofingCaseRow.version == case.version)
            .values(
                status=case.status.value,
                method=case.method.value if case.method else None,
                updated_at=case.updated_at,
                submitted_at=case.submitted_at,
                decided_at=case.decided_at,
                completed_at=case.completed_at,
                version=case.version + 1,
                data=_case_data(case),
            )
            .execution_options(synchronize_session=False)
        )
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise FlowStateError(f"proofing case {case.id} was changed by someone else")
        case.version += 1

    def queue(
        self,
        tenant_id: int,
        statuses: Sequence[CaseStatus],
        *,
        methods: Sequence[VerificationMethod] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[ProofingCase]:
        """Cases waiting in these states, oldest first (by submission, then by last change, then by
        creation)."""
        query = select(ProofingCaseRow).where(
            ProofingCaseRow.tenant_id == tenant_id, ProofingCaseRow.status.in_([status.value for status in statuses])
        )
        if methods is not None:
            query = query.where(ProofingCaseRow.method.in_([method.value for method in methods]))
        query = query.order_by(
            ProofingCaseRow.submitted_at.asc().nulls_last(), ProofingCaseRow.updated_at.asc(), ProofingCaseRow.id.asc()
        )
        return [_case(row) for row in self._session.scalars(query.limit(limit).offset(offset))]

    def stale(
        self, statuses: Sequence[CaseStatus], updated_before: datetime, limit: int = 500
    ) -> Sequence[ProofingCase]:
        """Cases in these states untouched since ``updated_before`` (retention and abandonment)."""
        rows = self._session.scalars(
            select(ProofingCaseRow)
            .where(
                ProofingCaseRow.status.in_([status.value for status in statuses]),
                ProofingCaseRow.updated_at < updated_before,
            )
            .order_by(ProofingCaseRow.id)
            .limit(limit)
        )
        return [_case(row) for row in rows]

    def delete(self, case_id: int) -> None:
        self._session.execute(delete(ProofingCaseRow).where(ProofingCaseRow.id == case_id))


class SqlIdentityRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, identity: VerifiedIdentity) -> VerifiedIdentity:
        row = VerifiedIdentityRow(
            tenant_id=identity.tenant_id,
            account_id=identity.account_id,
            level=identity.level,
            mobile=identity.mobile,
            data={
                "identity": identity.data.to_json(),
                "address": identity.address.to_json() if identity.address else None,
            },
            evidence=identity.evidence.to_json(),
            verified_at=identity.verified_at,
            app_activated_at=identity.app_activated_at,
            revoked_at=identity.revoked_at,
            revoked_reason=identity.revoked_reason,
        )
        self._session.add(row)
        self._session.flush()
        identity.id = row.id
        return identity

    def of_account(self, account_id: int) -> VerifiedIdentity | None:
        """The account's active identity, if it has one."""
        row = self._session.scalars(
            select(VerifiedIdentityRow)
            .where(VerifiedIdentityRow.account_id == account_id, VerifiedIdentityRow.revoked_at.is_(None))
            .order_by(VerifiedIdentityRow.id.desc())
            .limit(1)
        ).first()
        return _identity(row) if row else None

    def by_mobile(self, tenant_id: int, e164: str) -> Sequence[VerifiedIdentity]:
        """The tenant's active identities with this mobile, oldest first."""
        rows = self._session.scalars(
            select(VerifiedIdentityRow)
            .where(
                VerifiedIdentityRow.tenant_id == tenant_id,
                VerifiedIdentityRow.mobile == e164,
                VerifiedIdentityRow.revoked_at.is_(None),
            )
            .order_by(VerifiedIdentityRow.id)
        )
        return [_identity(row) for row in rows]

    def save(self, identity: VerifiedIdentity) -> None:
        result = self._session.execute(
            update(VerifiedIdentityRow)
            .where(VerifiedIdentityRow.id == identity.id)
            .values(
                mobile=identity.mobile,
                data={
                    "identity": identity.data.to_json(),
                    "address": identity.address.to_json() if identity.address else None,
                },
                app_activated_at=identity.app_activated_at,
                revoked_at=identity.revoked_at,
                revoked_reason=identity.revoked_reason,
            )
            .execution_options(synchronize_session=False)
        )
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise NotFound(f"no verified identity {identity.id}")

    def ended_before(self, before: datetime, tenant_id: int, limit: int = 500) -> Sequence[int]:
        """Ids of identities that ended (revoked, or their account closed) before ``before``: their
        evidence is past retention. An identity in use keeps its evidence. By ascending id, so
        that each batch of ``limit`` is a fixed one."""
        return list(
            self._session.scalars(
                select(VerifiedIdentityRow.id)
                .where(
                    VerifiedIdentityRow.tenant_id == tenant_id,
                    VerifiedIdentityRow.revoked_at.is_not(None),
                    VerifiedIdentityRow.revoked_at < before,
                )
                .order_by(VerifiedIdentityRow.id)
                .limit(limit)
            )
        )

    def delete(self, identity_id: int) -> None:
        self._session.execute(delete(VerifiedIdentityRow).where(VerifiedIdentityRow.id == identity_id))

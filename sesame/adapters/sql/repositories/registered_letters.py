"""Registered electronic letters in SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.registered_letters import RegisteredLetterRow
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.domain.registered_letters import LetterStatus, RegisteredLetter


def _letter(row: RegisteredLetterRow) -> RegisteredLetter:
    return RegisteredLetter(
        id=row.id,
        reference=row.reference,
        tenant_id=row.tenant_id,
        sender_name=row.sender_name,
        recipient_account_id=row.recipient_account_id,
        recipient_email=row.recipient_email,
        recipient_name=row.recipient_name,
        subject=row.subject,
        content_sha256=row.content_sha256,
        sealed_content=row.sealed_content,
        purpose=row.purpose,
        status=LetterStatus(row.status),
        sent_at=row.sent_at,
        notified_at=row.notified_at,
        opened_at=row.opened_at,
        refused_at=row.refused_at,
        notification_message_id=row.notification_message_id,
    )


class SqlRegisteredLetterRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, letter: RegisteredLetter) -> RegisteredLetter:
        row = RegisteredLetterRow(
            reference=letter.reference,
            tenant_id=letter.tenant_id,
            sender_name=letter.sender_name,
            recipient_account_id=letter.recipient_account_id,
            recipient_email=letter.recipient_email,
            recipient_name=letter.recipient_name,
            subject=letter.subject,
            content_sha256=letter.content_sha256,
            sealed_content=letter.sealed_content,
            purpose=letter.purpose,
            status=letter.status.value,
            sent_at=letter.sent_at,
            notified_at=letter.notified_at,
            opened_at=letter.opened_at,
            refused_at=letter.refused_at,
            notification_message_id=letter.notification_message_id,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists(f"a letter {letter.reference} exists") from error
        letter.id = row.id
        return letter

    def get(self, tenant_id: int, reference: str, *, for_update: bool = False) -> RegisteredLetter | None:
        query = select(RegisteredLetterRow).where(
            RegisteredLetterRow.tenant_id == tenant_id, RegisteredLetterRow.reference == reference
        )
        if for_update:
            query = query.with_for_update()
        row = self._session.scalars(query.execution_options(populate_existing=True)).one_or_none()
        return _letter(row) if row else None

    def save(self, letter: RegisteredLetter) -> None:
        """Store what changes after sending: the status and its times."""
        result = self._session.execute(
            update(RegisteredLetterRow)
            .where(RegisteredLetterRow.id == letter.id)
            .values(
                status=letter.status.value,
                notified_at=letter.notified_at,
                opened_at=letter.opened_at,
                refused_at=letter.refused_at,
            )
            .execution_options(synchronize_session=False)
        )
        if not isinstance(result, CursorResult) or result.rowcount != 1:
            raise NotFound(f"no letter {letter.reference}")

    def list(
        self,
        tenant_id: int,
        *,
        account_id: int | None = None,
        purpose: str | None = None,
        status: LetterStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[RegisteredLetter]:
        query = select(RegisteredLetterRow).where(RegisteredLetterRow.tenant_id == tenant_id)
        if account_id is not None:
            query = query.where(RegisteredLetterRow.recipient_account_id == account_id)
        if purpose is not None:
            query = query.where(RegisteredLetterRow.purpose == purpose)
        if status is not None:
            query = query.where(RegisteredLetterRow.status == status.value)
        query = query.order_by(RegisteredLetterRow.sent_at.desc(), RegisteredLetterRow.id.desc())
        rows = self._session.scalars(query.limit(limit).offset(offset))
        return [_letter(row) for row in rows]

"""Second factors and recovery codes in SQL.

Every "use" is one conditional UPDATE, so that of two parallel logins with the same TOTP code,
the same recovery code or a cloned passkey's counter, exactly one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.factors import RecoveryCodeRow, SecondFactorRow
from sesame.domain.errors import AlreadyExists
from sesame.domain.factors import FactorKind, PasskeyDeviceType, SecondFactor


def _factor(row: SecondFactorRow, codes_left: int = 0) -> SecondFactor:
    return SecondFactor(
        id=row.id,
        account_id=row.account_id,
        tenant_id=row.tenant_id,
        kind=FactorKind(row.kind),
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        secret_encrypted=row.secret_encrypted,
        last_step=row.last_step,
        credential_id=row.credential_id,
        public_key=row.public_key,
        sign_count=row.sign_count or 0,
        device_type=PasskeyDeviceType(row.device_type) if row.device_type else None,
        backed_up=bool(row.backed_up),
        transports=list(row.transports or []),
        aaguid=row.aaguid or "",
        codes_left=codes_left,
    )


def _changed(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


class SqlFactorRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _codes_left(self, factor_ids: Sequence[int]) -> dict[int, int]:
        if not factor_ids:
            return {}
        rows = self._session.execute(
            select(RecoveryCodeRow.factor_id, func.count())
            .where(RecoveryCodeRow.factor_id.in_(factor_ids), RecoveryCodeRow.used_at.is_(None))
            .group_by(RecoveryCodeRow.factor_id)
        )
        return {int(row[0]): int(row[1]) for row in rows}

    def of_account(self, account_id: int) -> Sequence[SecondFactor]:
        rows = self._session.scalars(
            select(SecondFactorRow)
            .where(SecondFactorRow.account_id == account_id)
            .order_by(SecondFactorRow.created_at, SecondFactorRow.id)
            .execution_options(populate_existing=True)
        ).all()
        sets = [row.id for row in rows if row.kind == FactorKind.RECOVERY_CODES.value]
        left = self._codes_left(sets)
        return [_factor(row, left.get(row.id, 0)) for row in rows]

    def get(self, factor_id: int) -> SecondFactor | None:
        row = self._session.get(SecondFactorRow, factor_id, populate_existing=True)
        if row is None:
            return None
        return _factor(row, self._codes_left([row.id]).get(row.id, 0))

    def by_credential_id(self, credential_id: str) -> SecondFactor | None:
        row = self._session.scalars(
            select(SecondFactorRow)
            .where(SecondFactorRow.credential_id == credential_id)
            .execution_options(populate_existing=True)
        ).first()
        return _factor(row) if row else None

    def add(self, factor: SecondFactor) -> SecondFactor:
        row = SecondFactorRow(
            account_id=factor.account_id,
            tenant_id=factor.tenant_id,
            kind=factor.kind.value,
            label=factor.label,
            created_at=factor.created_at,
            last_used_at=factor.last_used_at,
            secret_encrypted=factor.secret_encrypted,
            last_step=factor.last_step,
            credential_id=factor.credential_id,
            public_key=factor.public_key,
            sign_count=factor.sign_count,
            device_type=factor.device_type.value if factor.device_type else None,
            backed_up=factor.backed_up,
            transports=list(factor.transports),
            aaguid=factor.aaguid,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists("this passkey is registered already") from error
        factor.id = row.id
        return factor

    def remove(self, factor_id: int) -> bool:
        # Codes first: SQLite enforces ON DELETE CASCADE only with its foreign keys pragma on.
        self._session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.factor_id == factor_id))
        result = self._session.execute(
            delete(SecondFactorRow).where(SecondFactorRow.id == factor_id).execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def use_totp_step(self, factor_id: int, step: int, now: datetime) -> bool:
        result = self._session.execute(
            update(SecondFactorRow)
            .where(
                SecondFactorRow.id == factor_id,
                or_(SecondFactorRow.last_step.is_(None), SecondFactorRow.last_step < step),
            )
            .values(last_step=step, last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def use_passkey(self, factor_id: int, sign_count: int, now: datetime) -> bool:
        # WebAuthn §6.1.1: authenticators without a counter always say 0; any other must grow.
        grows = SecondFactorRow.sign_count < sign_count
        unused = (SecondFactorRow.sign_count == 0) if sign_count == 0 else grows
        result = self._session.execute(
            update(SecondFactorRow)
            .where(SecondFactorRow.id == factor_id, unused)
            .values(sign_count=sign_count, last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def add_recovery_codes(self, factor_id: int, code_hashes: Sequence[str]) -> None:
        self._session.add_all(
            RecoveryCodeRow(factor_id=factor_id, code_hash=code_hash, position=position)
            for position, code_hash in enumerate(code_hashes, start=1)
        )
        self._session.flush()

    def use_recovery_code(self, factor_id: int, code_hash: str, now: datetime) -> bool:
        result = self._session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.factor_id == factor_id,
                RecoveryCodeRow.code_hash == code_hash,
                RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if _changed(result) != 1:
            return False
        self._session.execute(
            update(SecondFactorRow)
            .where(SecondFactorRow.id == factor_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return True

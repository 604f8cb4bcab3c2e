"""Devices, their activations and approval requests in SQL.

Every change that must have one winner is one conditional UPDATE: deciding a request (only a
pending, unexpired one: of two approvals, or an approval and a denial, exactly one wins, and a
replayed approval changes nothing), consuming an approval, counting a wrong code, using an
activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.devices import ApprovalRequestRow, DeviceActivationRow, DeviceRow
from sesame.domain.devices import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    BindingMode,
    Device,
    DeviceActivation,
    DeviceStatus,
)


def _changed(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def _device(row: DeviceRow) -> Device:
    return Device(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        label=row.label,
        public_key=dict(row.public_key),
        pin_digest=row.pin_digest,
        created_at=row.created_at,
        status=DeviceStatus(row.status),
        failed_pins=row.failed_pins or 0,
        last_used_at=row.last_used_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason or "",
    )


def _activation(row: DeviceActivationRow) -> DeviceActivation:
    return DeviceActivation(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        token_hash=row.token_hash,
        code_digest=row.code_digest,
        code_sent_at=row.code_sent_at,
        code_expires_at=row.code_expires_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
        code_tries=row.code_tries or 0,
        code_verified_at=row.code_verified_at,
        used_at=row.used_at,
    )


def _request(row: ApprovalRequestRow) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        kind=ApprovalKind(row.kind),
        service_name=row.service_name,
        binding_code=row.binding_code,
        binding_mode=BindingMode(row.binding_mode),
        nonce=row.nonce,
        poll_handle_hash=row.poll_handle_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        status=ApprovalStatus(row.status),
        acr_requested=row.acr_requested,
        scope=row.scope or "",
        client_id=row.client_id,
        decided_at=row.decided_at,
        device_id=row.device_id,
        reason=row.reason or "",
        consumed_at=row.consumed_at,
    )


class SqlDeviceRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- devices ------------------------------------------------------------------------------------

    def add(self, device: Device) -> Device:
        self._session.add(
            DeviceRow(
                id=device.id,
                tenant_id=device.tenant_id,
                account_id=device.account_id,
                label=device.label,
                public_key=dict(device.public_key),
                pin_digest=device.pin_digest,
                failed_pins=device.failed_pins,
                status=device.status.value,
                created_at=device.created_at,
                last_used_at=device.last_used_at,
                disabled_at=device.disabled_at,
                disabled_reason=device.disabled_reason,
            )
        )
        self._session.flush()
        return device

    def get(self, device_id: str) -> Device | None:
        row = self._session.get(DeviceRow, device_id, populate_existing=True)
        return _device(row) if row else None

    def of_account(self, account_id: int) -> Sequence[Device]:
        rows = self._session.scalars(
            select(DeviceRow)
            .where(DeviceRow.account_id == account_id)
            .order_by(DeviceRow.created_at, DeviceRow.id)
            .execution_options(populate_existing=True)
        )
        return [_device(row) for row in rows]

    def count_active(self, account_id: int) -> int:
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(DeviceRow)
                .where(DeviceRow.account_id == account_id, DeviceRow.status == DeviceStatus.ACTIVE.value)
            )
            or 0
        )

    def count_pin_failure(self, device_id: str, max_failures: int, now: datetime, reason: str) -> tuple[int, bool]:
        failed = self._session.execute(
            update(DeviceRow)
            .where(DeviceRow.id == device_id, DeviceRow.status == DeviceStatus.ACTIVE.value)
            .values(failed_pins=DeviceRow.failed_pins + 1)
            .execution_options(synchronize_session=False)
        )
        if _changed(failed) != 1:
            return 0, False
        disabled = self._session.execute(
            update(DeviceRow)
            .where(
                DeviceRow.id == device_id,
                DeviceRow.status == DeviceStatus.ACTIVE.value,
                DeviceRow.failed_pins >= max_failures,
            )
            .values(status=DeviceStatus.DISABLED.value, disabled_at=now, disabled_reason=reason)
            .execution_options(synchronize_session=False)
        )
        count = self._session.scalar(select(DeviceRow.failed_pins).where(DeviceRow.id == device_id))
        return int(count or 0), _changed(disabled) == 1

    def pin_succeeded(self, device_id: str, now: datetime) -> None:
        self._session.execute(
            update(DeviceRow)
            .where(DeviceRow.id == device_id)
            .values(failed_pins=0, last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    def touch(self, device_id: str, now: datetime) -> None:
        self._session.execute(
            update(DeviceRow)
            .where(DeviceRow.id == device_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    def disable(self, device_id: str, now: datetime, reason: str) -> bool:
        result = self._session.execute(
            update(DeviceRow)
            .where(DeviceRow.id == device_id, DeviceRow.status == DeviceStatus.ACTIVE.value)
            .values(status=DeviceStatus.DISABLED.value, disabled_at=now, disabled_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    # -- activations ----------------------------------------------------------------------------------

    def add_activation(self, activation: DeviceActivation) -> None:
        self._session.add(
            DeviceActivationRow(
                id=activation.id,
                tenant_id=activation.tenant_id,
                account_id=activation.account_id,
                token_hash=activation.token_hash,
                code_digest=activation.code_digest,
                code_sent_at=activation.code_sent_at,
                code_expires_at=activation.code_expires_at,
                code_tries=activation.code_tries,
                code_verified_at=activation.code_verified_at,
                created_at=activation.created_at,
                expires_at=activation.expires_at,
                used_at=activation.used_at,
            )
        )
        self._session.flush()

    def get_activation(self, activation_id: str) -> DeviceActivation | None:
        row = self._session.get(DeviceActivationRow, activation_id, populate_existing=True)
        return _activation(row) if row else None

    def count_activation_try(self, activation_id: str, max_tries: int) -> bool:
        result = self._session.execute(
            update(DeviceActivationRow)
            .where(
                DeviceActivationRow.id == activation_id,
                DeviceActivationRow.code_tries < max_tries,
                DeviceActivationRow.code_verified_at.is_(None),
                DeviceActivationRow.used_at.is_(None),
            )
            .values(code_tries=DeviceActivationRow.code_tries + 1)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def verify_activation_code(self, activation_id: str, now: datetime) -> bool:
        result = self._session.execute(
            update(DeviceActivationRow)
            .where(DeviceActivationRow.id == activation_id, DeviceActivationRow.code_verified_at.is_(None))
            .values(code_verified_at=now)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def renew_activation_code(
        self, activation_id: str, code_digest: str, sent_at: datetime, expires_at: datetime
    ) -> None:
        # The tries stay: a new SMS never gives new guesses.
        self._session.execute(
            update(DeviceActivationRow)
            .where(DeviceActivationRow.id == activation_id)
            .values(code_digest=code_digest, code_sent_at=sent_at, code_expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )

    def use_activation(self, activation_id: str, now: datetime) -> bool:
        result = self._session.execute(
            update(DeviceActivationRow)
            .where(
                DeviceActivationRow.id == activation_id,
                DeviceActivationRow.used_at.is_(None),
                DeviceActivationRow.code_verified_at.is_not(None),
                DeviceActivationRow.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def delete_expired_activations(self, before: datetime) -> int:
        result = self._session.execute(
            delete(DeviceActivationRow)
            .where(DeviceActivationRow.expires_at < before)
            .execution_options(synchronize_session=False)
        )
        return _changed(result)


class SqlApprovalRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, request: ApprovalRequest) -> None:
        self._session.add(
            ApprovalRequestRow(
                id=request.id,
                tenant_id=request.tenant_id,
                account_id=request.account_id,
                kind=request.kind.value,
                service_name=request.service_name,
                binding_code=request.binding_code,
                binding_mode=request.binding_mode.value,
                nonce=request.nonce,
                poll_handle_hash=request.poll_handle_hash,
                status=request.status.value,
                acr_requested=request.acr_requested,
                scope=request.scope,
                client_id=request.client_id,
                created_at=request.created_at,
                expires_at=request.expires_at,
                decided_at=request.decided_at,
                device_id=request.device_id,
                reason=request.reason,
                consumed_at=request.consumed_at,
            )
        )
        self._session.flush()

    def get(self, request_id: str) -> ApprovalRequest | None:
        row = self._session.get(ApprovalRequestRow, request_id, populate_existing=True)
        return _request(row) if row else None

    def by_poll_handle(self, handle_hash: str) -> ApprovalRequest | None:
        row = self._session.scalars(
            select(ApprovalRequestRow)
            .where(ApprovalRequestRow.poll_handle_hash == handle_hash)
            # The request id is random: it only settles two requests of the same instant, but
            # always the same way.
            .order_by(ApprovalRequestRow.created_at.desc(), ApprovalRequestRow.id.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()
        return _request(row) if row else None

    def pending_for_account(self, account_id: int, now: datetime) -> Sequence[ApprovalRequest]:
        rows = self._session.scalars(
            select(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.account_id == account_id,
                ApprovalRequestRow.status == ApprovalStatus.PENDING.value,
                ApprovalRequestRow.expires_at > now,
            )
            .order_by(ApprovalRequestRow.created_at, ApprovalRequestRow.id)
            .execution_options(populate_existing=True)
        )
        return [_request(row) for row in rows]

    def decide(
        self, request_id: str, status: ApprovalStatus, now: datetime, *, device_id: str | None, reason: str = ""
    ) -> bool:
        if status not in (ApprovalStatus.APPROVED, ApprovalStatus.DENIED):
            raise ValueError("a request is decided approved or denied")
        result = self._session.execute(
            update(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.id == request_id,
                ApprovalRequestRow.status == ApprovalStatus.PENDING.value,
                ApprovalRequestRow.expires_at > now,
            )
            .values(status=status.value, decided_at=now, device_id=device_id, reason=reason)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def consume(self, request_id: str, now: datetime) -> bool:
        result = self._session.execute(
            update(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.id == request_id,
                ApprovalRequestRow.status == ApprovalStatus.APPROVED.value,
                ApprovalRequestRow.consumed_at.is_(None),
            )
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        )
        return _changed(result) == 1

    def delete_before(self, before: datetime) -> int:
        result = self._session.execute(
            delete(ApprovalRequestRow)
            .where(ApprovalRequestRow.expires_at < before)
            .execution_options(synchronize_session=False)
        )
        return _changed(result)

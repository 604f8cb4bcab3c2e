"""The audit chain's rules: hashing, verification of every kind of tampering, the secrets guard."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sesame.domain.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditEventRejected,
    AuditRecord,
    BreakReason,
    ChainHead,
    ChainVerifier,
    chain_hash,
    check_event,
    is_redacted,
    looks_secret,
    verify_chain,
)

T0 = datetime(2026, 1, 15, 9, 0, 0, 123456, tzinfo=UTC)


def build_chain(count: int, tenant_id: int | None = 7) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        event = AuditEvent(
            tenant_id=tenant_id,
            type="login.failed",
            occurred_at=T0 + timedelta(seconds=seq),
            actor=f"user:{seq}",
            details={"attempt": seq},
        )
        record = AuditRecord(seq=seq, event=event, prev_hash=prev, hash=chain_hash(seq, event, prev))
        records.append(record)
        prev = record.hash
    return records


def head_of(records: list[AuditRecord]) -> ChainHead:
    return ChainHead(seq=records[-1].seq, last_hash=records[-1].hash)


def with_event(record: AuditRecord, **changes: object) -> AuditRecord:
    return replace(record, event=replace(record.event, **changes))


def test_an_untouched_chain_is_intact() -> None:
    records = build_chain(5)
    result = verify_chain(7, records, head_of(records))
    assert result.intact
    assert (result.records, result.last_seq, result.broken_at, result.last_hash) == (5, 5, None, records[-1].hash)


def test_an_empty_chain_without_head_is_intact() -> None:
    assert verify_chain(None, [], None).intact


def test_each_hash_covers_the_previous_one() -> None:
    records = build_chain(3)
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert len({r.hash for r in records}) == 3


def test_naive_and_aware_utc_times_hash_the_same() -> None:
    event = build_chain(1)[0].event
    naive = replace(event, occurred_at=event.occurred_at.replace(tzinfo=None))
    assert chain_hash(1, event, GENESIS_HASH) == chain_hash(1, naive, GENESIS_HASH)


@pytest.mark.parametrize(
    "change",
    [
        {"details": {"attempt": 99}},
        {"type": "login.succeeded"},
        {"occurred_at": T0 + timedelta(seconds=3, microseconds=1)},
        {"actor": "user:1"},
        {"ip": "203.0.113.9"},
    ],
    ids=["details", "type", "occurred_at", "actor", "ip"],
)
def test_a_changed_field_breaks_the_chain_at_that_record(change: dict[str, object]) -> None:
    records = build_chain(5)
    records[2] = with_event(records[2], **change)
    result = verify_chain(7, records, head_of(records))
    assert (result.broken_at, result.reason) == (3, BreakReason.HASH_MISMATCH)
    assert not result.intact


def test_a_deleted_row_is_a_gap() -> None:
    records = build_chain(5)
    del records[1]
    result = verify_chain(7, records, head_of(records))
    assert (result.broken_at, result.reason) == (2, BreakReason.SEQ_GAP)
    assert "seq 2 is missing" in result.detail


def test_rows_swapped_with_their_seq_are_out_of_order() -> None:
    records = build_chain(5)
    records[1], records[2] = records[2], records[1]
    result = verify_chain(7, records, head_of(records))
    assert (result.broken_at, result.reason) == (2, BreakReason.SEQ_GAP)


def test_rows_swapped_under_the_same_seq_do_not_follow() -> None:
    records = build_chain(5)
    second, third = records[1], records[2]
    records[1] = replace(third, seq=2)
    records[2] = replace(second, seq=3)
    result = verify_chain(7, records, head_of(records))
    assert (result.broken_at, result.reason) == (2, BreakReason.PREV_HASH_MISMATCH)


def test_a_row_recomputed_by_hand_breaks_the_next_link() -> None:
    records = build_chain(5)
    forged = with_event(records[2], details={"attempt": 0})
    records[2] = replace(forged, hash=chain_hash(3, forged.event, forged.prev_hash))
    result = verify_chain(7, records, head_of(records))
    assert (result.broken_at, result.reason) == (4, BreakReason.PREV_HASH_MISMATCH)


def test_a_row_added_at_the_end_by_hand_disagrees_with_the_head() -> None:
    records = build_chain(5)
    head = head_of(records)
    extra = AuditEvent(tenant_id=7, type="login.succeeded", occurred_at=T0)
    records.append(AuditRecord(6, extra, records[-1].hash, chain_hash(6, extra, records[-1].hash)))
    result = verify_chain(7, records, head)
    assert (result.broken_at, result.reason) == (6, BreakReason.HEAD_MISMATCH)


def test_rows_deleted_from_the_end_disagree_with_the_head() -> None:
    records = build_chain(5)
    head = head_of(records)
    result = verify_chain(7, records[:3], head)
    assert (result.broken_at, result.reason) == (4, BreakReason.HEAD_MISMATCH)


def test_a_head_moved_back_is_reported() -> None:
    records = build_chain(5)
    result = verify_chain(7, records, head_of(records[:4]))
    assert (result.broken_at, result.reason) == (5, BreakReason.HEAD_MISMATCH)


def test_records_without_any_head_are_reported() -> None:
    result = verify_chain(7, build_chain(2), None)
    assert (result.broken_at, result.reason) == (1, BreakReason.HEAD_MISMATCH)


def test_a_head_with_another_hash_is_reported() -> None:
    records = build_chain(3)
    result = verify_chain(7, records, ChainHead(seq=3, last_hash="f" * 64))
    assert (result.broken_at, result.reason) == (3, BreakReason.HEAD_MISMATCH)


def test_a_record_moved_from_another_tenant_is_reported() -> None:
    records = build_chain(3, tenant_id=8)
    result = verify_chain(7, records, head_of(records))
    assert (result.broken_at, result.reason) == (1, BreakReason.WRONG_CHAIN)


def test_appends_during_a_live_read_are_not_tampering() -> None:
    records = build_chain(6)
    verifier = ChainVerifier(7, head_of(records[:4]))  # the head read before the records
    for record in records:
        assert verifier.feed(record)
    later = ChainHead(seq=8, last_hash="e" * 64)  # two more appends since the last read
    assert verifier.finish(later).intact


def test_the_verifier_stops_at_the_first_break() -> None:
    records = build_chain(5)
    records[1] = with_event(records[1], type="forged")
    verifier = ChainVerifier(7, head_of(records))
    assert verifier.feed(records[0])
    assert not verifier.feed(records[1])
    assert not verifier.feed(records[2])
    assert verifier.broken
    assert verifier.finish().broken_at == 2


def test_a_result_names_its_chain() -> None:
    records = build_chain(1, tenant_id=None)
    assert verify_chain(None, records, head_of(records)).chain_name == "server-wide chain"
    result = replace(verify_chain(7, build_chain(1), None), tenant_slug="banque")
    assert result.chain_name == "tenant banque"


# -- the guard on what is written ---------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "otp",
        "otpCode",
        "OTPCode",
        "sms_code",
        "code",
        "pin",
        "pinCode",
        "access_token",
        "tokens",
        "client_secret",
        "newpassword",
        "passcode",
    ],
)
def test_keys_that_name_a_secret(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize(
    "key",
    [
        "changed",
        "method",
        "error_code",
        "country_code",
        "code_length",
        "token_id",
        "pin_attempts",
        "shipping",
        "spinner",
        "reason",
        "password_changed_at",
    ],
)
def test_keys_that_do_not(key: str) -> None:
    assert not looks_secret(key)


@pytest.mark.parametrize("value", [None, True, False, "", "****", "••••", "[redacted]", "REDACTED", "xxxxxx"])
def test_redacted_values(value: object) -> None:
    assert is_redacted(value)


@pytest.mark.parametrize("value", ["123456", "hunter2", 1234, ["1"], {"a": "b"}])
def test_values_that_are_not_redacted(value: object) -> None:
    assert not is_redacted(value)


def event_with(details: dict[str, object]) -> AuditEvent:
    return AuditEvent(tenant_id=1, type="login.failed", occurred_at=T0, details=details)


@pytest.mark.parametrize(
    "details",
    [
        {"password": "hunter2"},
        {"otp_code": "123456"},
        {"request": {"form": {"pin": 1234}}},
        {"attempts": [{"token": "abc"}]},
    ],
)
def test_a_secret_in_details_is_refused(details: dict[str, object]) -> None:
    with pytest.raises(AuditEventRejected, match="secret"):
        check_event(event_with(details))


def test_a_redacted_secret_and_harmless_details_pass() -> None:
    check_event(event_with({"password": "[redacted]", "otp": None, "error_code": "invalid_grant", "n": [1, "a"]}))


@pytest.mark.parametrize(
    "details",
    [{"ratio": 0.5}, {"when": T0}, {"pair": (1, 2)}, {1: "x"}, {"nul": "a\x00b"}],
    ids=["float", "datetime", "tuple", "int-key", "nul"],
)
def test_values_the_database_would_alter_are_refused(details: dict[object, object]) -> None:
    with pytest.raises(AuditEventRejected):
        check_event(event_with(details))  # type: ignore[arg-type]


def test_text_longer_than_its_column_is_refused() -> None:
    with pytest.raises(AuditEventRejected, match="ip"):
        check_event(replace(event_with({}), ip="1" * 65))


def test_naive_times_and_empty_types_are_refused() -> None:
    with pytest.raises(AuditEventRejected, match="timezone"):
        check_event(replace(event_with({}), occurred_at=T0.replace(tzinfo=None)))
    with pytest.raises(AuditEventRejected, match="type"):
        check_event(replace(event_with({}), type=""))

"""Customers' postal addresses, and which locked accesses a code by post may reopen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.api_keys import key_id_of
from sesame.domain.customers import SECURED_BY_CUSTOMER, CustomerProfile, clean_address, reopened_by_recovery

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_addresses_are_cleaned() -> None:
    assert clean_address(["  12  rue des Lilas ", "", "75011 Paris"]) == ["12 rue des Lilas", "75011 Paris"]
    profile = CustomerProfile(1, ["12 rue des Lilas", "75011 Paris"], NOW, NOW)
    assert profile.postal_block("Zoé Lefèvre") == "Zoé Lefèvre\n12 rue des Lilas\n75011 Paris"


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([], "required"),
        (["", " "], "required"),
        (["x"] * 8, "invalid"),
        (["x" * 81], "invalid"),
        (["a\x07b"], "invalid"),
    ],
)
def test_bad_addresses(lines: list[str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        clean_address(lines)


@pytest.mark.parametrize(
    ("status", "reason", "reopens"),
    [
        (AccountStatus.ACTIVE, None, True),
        (AccountStatus.LOCKED, SECURED_BY_CUSTOMER, True),
        (AccountStatus.LOCKED, "fraud", False),
        (AccountStatus.CLOSED, SECURED_BY_CUSTOMER, False),
    ],
)
def test_what_a_code_by_post_reopens(status: AccountStatus, reason: str | None, reopens: bool) -> None:
    account = Account(1, 1, None, None, "Zoé", "Lefèvre", status, "fr", NOW, NOW, status_reason=reason)
    assert reopened_by_recovery(account) is reopens


def test_api_key_ids() -> None:
    assert key_id_of("sk_0123456789ab_" + "A" * 43) == "0123456789ab"
    assert key_id_of("sk_0123456789ab_" + "A" * 42) is None
    assert key_id_of("Bearer sk_0123456789ab_" + "A" * 43) is None

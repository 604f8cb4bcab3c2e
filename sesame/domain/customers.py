"""Customers enrolled by their institution (the bank): what it knows beyond the account itself.

The bank opens the access for its customer (there is no sign-up), so it gives us the postal
address its letters go to (the customer number, the one-time codes) and, when known, the birth
date, which a chosen code must not be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sesame.domain.accounts import Account, AccountStatus

#: ``Account.status_reason`` of an access the customer blocked ("secure my access"): a recovery code
#: by post reopens it, unlike a lock by support, which support lifts.
SECURED_BY_CUSTOMER = "secured_by_customer"
#: A French postal address has at most six lines besides the name (AFNOR XPZ 10-011); one more for abroad.
ADDRESS_LINES_MAX = 7
#: 38 characters per line is the French postal norm; printers take more, people paste more.
ADDRESS_LINE_MAX = 80


@dataclass(slots=True)
class CustomerProfile:
    account_id: int
    #: The postal address without the name, one line each (the name comes from the account).
    address_lines: list[str]
    created_at: datetime
    updated_at: datetime
    birth_date: date | None = None

    def postal_block(self, name: str) -> str:
        """The letter's address block: the name, then the address, one line each."""
        return "\n".join([name, *self.address_lines])


def clean_address(lines: Sequence[str]) -> list[str]:
    """The address lines without blanks and extra spaces; ``ValueError`` saying what is wrong."""
    cleaned = [" ".join(line.split()) for line in lines]
    cleaned = [line for line in cleaned if line]
    if not cleaned:
        raise ValueError("required")
    if len(cleaned) > ADDRESS_LINES_MAX or any(
        len(line) > ADDRESS_LINE_MAX or not line.isprintable() for line in cleaned
    ):
        raise ValueError("invalid")
    return cleaned


def reopened_by_recovery(account: Account) -> bool:
    """Whether a recovery code by post may reopen this account (active, or blocked by its owner)."""
    if account.status is AccountStatus.ACTIVE:
        return True
    return account.status is AccountStatus.LOCKED and account.status_reason == SECURED_BY_CUSTOMER

"""One-time links and codes sent to a person: email confirmation, recovery, email change.

Each token is a random link (256 bits, stored as its SHA-256) and a 6-digit code (stored as a
keyed hash bound to the account and purpose). Either one proves the person received the
message. Both are single use and expire; a new token retires the older ones of the same
purpose; a code allows a few tries only, since 6 digits can be guessed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sesame.domain.accounts import AccountToken, TokenPurpose
from sesame.ports import KeyedHasher, UnitOfWork

LINK_TOKEN_BYTES = 32
CODE_DIGITS = 6
MAX_CODE_ATTEMPTS = 5
#: Longer values cannot be ours (ours have 43 characters): refused before hashing.
LINK_TOKEN_MAX = 128


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What goes into the message; only hashes are stored."""

    token: AccountToken
    link_token: str
    code: str


def link_hash(link_token: str) -> str:
    return hashlib.sha256(link_token.encode()).hexdigest()


def _code_message(account_id: int, purpose: TokenPurpose, code: str) -> str:
    return f"{purpose.value}:{account_id}:{code}"


class OneTimeTokens:
    def __init__(self, keyed: KeyedHasher) -> None:
        self._keyed = keyed

    def issue(
        self,
        uow: UnitOfWork,
        account_id: int,
        purpose: TokenPurpose,
        now: datetime,
        lifetime: timedelta,
        *,
        target: str | None = None,
    ) -> IssuedToken:
        """A fresh link and code; older unused ones of the same purpose stop working."""
        uow.accounts.revoke_tokens(account_id, purpose, now)
        link_token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        token = uow.accounts.add_token(
            AccountToken(
                id=0,
                account_id=account_id,
                purpose=purpose,
                link_hash=link_hash(link_token),
                code_hash=self._keyed.digest("one-time-code", _code_message(account_id, purpose, code)),
                created_at=now,
                expires_at=now + lifetime,
                target=target,
            )
        )
        return IssuedToken(token=token, link_token=link_token, code=code)

    def redeem_link(
        self, uow: UnitOfWork, link_token: str, purpose: TokenPurpose, now: datetime
    ) -> AccountToken | None:
        """The token behind a link, marked used; None if unknown, used, expired or of another purpose.

        Wrong codes do not retire the link: its 256 bits cannot be guessed, and the person who
        mistyped the code must still be able to click it.
        """
        if not link_token or len(link_token) > LINK_TOKEN_MAX:
            return None
        token = uow.accounts.token_by_link(link_hash(link_token))
        if token is None or token.purpose is not purpose or not _link_usable(token, now):
            return None
        if not uow.accounts.use_token(token.id, now):
            return None
        return token

    def redeem_code(
        self, uow: UnitOfWork, account_id: int, purpose: TokenPurpose, code: str, now: datetime
    ) -> AccountToken | None:
        """The account's current token if ``code`` matches, marked used; every try is counted, and
        after ``MAX_CODE_ATTEMPTS`` the code is dead (the link still works).

        The try is counted before the code is compared, in one atomic update, so that parallel
        guesses cannot get more than ``MAX_CODE_ATTEMPTS`` comparisons between them. The caller
        must commit even when this returns None, so that the try stays counted.
        """
        token = uow.accounts.latest_token(account_id, purpose)
        if token is None or not token.usable(now, MAX_CODE_ATTEMPTS):
            return None
        if not uow.accounts.count_code_attempt(token.id, MAX_CODE_ATTEMPTS):
            return None  # the last tries were taken by parallel requests
        candidate = "".join(code.split())
        valid = len(candidate) == CODE_DIGITS and candidate.isdigit()
        expected = _code_message(account_id, purpose, candidate if valid else "x")
        if not (valid and self._keyed.matches("one-time-code", expected, token.code_hash)):
            return None
        if not uow.accounts.use_token(token.id, now):
            return None
        return token


def _link_usable(token: AccountToken, now: datetime) -> bool:
    # Unused and unexpired, whatever the count of wrong codes (see redeem_link).
    return token.usable(now, MAX_CODE_ATTEMPTS + 1)

"""One-time codes sent by post to reopen an access (forgotten code, "secure my access", support).

A recovery code is an account token (purpose ``recovery``): six digits under a keyed hash, a
lifetime long enough for the post, a cap on wrong tries. It is checked at the keypad like the
customer's own code, and used up only when the new code it leads to is saved, so a browser
closed halfway does not waste the letter. A new code retires the older ones. The old code keeps
working until then (unless the access was secured), so someone who asks for a code with
another's customer number cannot lock them out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from sesame.domain.accounts import AccountToken, TokenPurpose
from sesame.domain.keypad import draw_code, is_code
from sesame.ports import KeyedHasher, UnitOfWork

#: A letter takes a few days; the code waits for a month.
RECOVERY_CODE_LIFETIME = timedelta(days=30)
#: Wrong tries a recovery code allows when the lockout cannot count them (the access is locked).
MAX_RECOVERY_CODE_TRIES = 5
PEPPER_PURPOSE = "keypad-recovery-code"
#: Recorded as the token's target: where the code went.
BY_POST = "post"


def _message(account_id: int, code: str) -> str:
    # Bound to the account: a code sent to one customer is worth nothing on another's number.
    return f"{account_id}:{code}"


class RecoveryCodes:
    def __init__(self, keyed: KeyedHasher) -> None:
        self._keyed = keyed

    def issue(
        self,
        uow: UnitOfWork,
        account_id: int,
        now: datetime,
        *,
        birth_date: date | None = None,
        customer_number: str | None = None,
    ) -> str:
        """A new code for the account, in the caller's transaction; older ones stop working.

        Returns the code, for the letter only. The token's link part is random and never sent:
        a recovery by post has no link.
        """
        uow.accounts.revoke_tokens(account_id, TokenPurpose.RECOVERY, now)
        code = draw_code(birth_date=birth_date, customer_number=customer_number)
        uow.accounts.add_token(
            AccountToken(
                id=0,
                account_id=account_id,
                purpose=TokenPurpose.RECOVERY,
                link_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                code_hash=self._keyed.digest(PEPPER_PURPOSE, _message(account_id, code)),
                created_at=now,
                expires_at=now + RECOVERY_CODE_LIFETIME,
                target=BY_POST,
            )
        )
        return code

    def match(
        self, uow: UnitOfWork, account_id: int, code: str, now: datetime, *, count_try: bool
    ) -> AccountToken | None:
        """The account's current recovery token if ``code`` is its code (not used up: see :meth:`use`).

        ``count_try``: count this try against the token's cap first (atomic, so parallel tries
        cannot exceed it); the caller then commits whatever the answer. Without it, the caller's
        lockout is what limits the guesses.
        """
        token = uow.accounts.latest_token(account_id, TokenPurpose.RECOVERY)
        if token is None or token.target != BY_POST or not token.usable(now, MAX_RECOVERY_CODE_TRIES):
            self.same_work(code)
            return None
        if count_try and not uow.accounts.count_code_attempt(token.id, MAX_RECOVERY_CODE_TRIES):
            return None
        candidate = code if is_code(code) else "x"
        if not self._keyed.matches(PEPPER_PURPOSE, _message(account_id, candidate), token.code_hash):
            return None
        return token

    def same_work(self, code: str) -> None:
        """What a check costs, for numbers without an account or a token."""
        self._keyed.digest(PEPPER_PURPOSE, _message(0, code))

    @staticmethod
    def use(uow: UnitOfWork, token_id: int, now: datetime) -> bool:
        """Use the token up (when the new code is saved); False if another request did first."""
        return uow.accounts.use_token(token_id, now)

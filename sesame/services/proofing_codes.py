"""The one-time codes of an identity proofing case: the mobile's SMS code, the in-person code of
the day, and the activation code.

Six random digits, kept only as a keyed hash (server pepper) bound to the case and the purpose,
so a stolen database alone cannot brute-force them; tries are counted on the case, which is saved
with optimistic locking, so parallel guesses cannot exceed the limit. The wizard and the back
office both go through here.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sesame.domain.identity import CaseCode, CodePurpose, ProofingCase
from sesame.domain.tenants import Tenant
from sesame.ports import KeyedHasher, UnitOfWork
from sesame.services.outbox import queue_sms

CODE_DIGITS = 6
KEYED_PURPOSE = "proofing-code"


def _message(case: ProofingCase, purpose: CodePurpose, code: str) -> str:
    return f"{case.id}:{purpose.value}:{code}"


def new_code(keyed: KeyedHasher, case: ProofingCase, purpose: CodePurpose, ttl: timedelta, now: datetime) -> str:
    """A fresh code for ``purpose`` (replacing any earlier one); returns it in clear, once.

    The caller sends it (outbox) in the same transaction that saves the case.
    """
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    case.codes[purpose.value] = CaseCode(
        digest=keyed.digest(KEYED_PURPOSE, _message(case, purpose, code)), expires_at=now + ttl, sent_at=now
    )
    return code


def renew_code(keyed: KeyedHasher, case: ProofingCase, purpose: CodePurpose, ttl: timedelta, now: datetime) -> str:
    """A new code that keeps the old one's failure count: resending never resets the tries."""
    previous = case.codes.get(purpose.value)
    code = new_code(keyed, case, purpose, ttl, now)
    if previous is not None and previous.used_at is None:
        case.codes[purpose.value].tries = previous.tries
    return code


def resend_wait(case: ProofingCase, purpose: CodePurpose, cooldown: timedelta, now: datetime) -> int:
    """Seconds before a new code may be sent (0: now)."""
    current = case.codes.get(purpose.value)
    if current is None:
        return 0
    remaining = (current.sent_at + cooldown - now).total_seconds()
    return max(0, int(remaining + 0.999))


class CodeCheck:
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    NO_CODE = "no_code"
    LOCKED = "locked"  # no tries left


def check_code(
    keyed: KeyedHasher, case: ProofingCase, purpose: CodePurpose, presented: str, max_tries: int, now: datetime
) -> str:
    """Check ``presented`` and count the try on the case (save the case afterwards, whatever the
    result). A right code is used up: a replay finds :attr:`CodeCheck.NO_CODE`."""
    current = case.codes.get(purpose.value)
    if current is None or current.used_at is not None:
        return CodeCheck.NO_CODE
    if current.tries >= max_tries:
        return CodeCheck.LOCKED
    if now >= current.expires_at:
        return CodeCheck.EXPIRED
    current.tries += 1
    candidate = "".join(presented.split())
    if not (candidate.isdigit() and len(candidate) == CODE_DIGITS):
        return CodeCheck.WRONG
    if not keyed.matches(KEYED_PURPOSE, _message(case, purpose, candidate), current.digest):
        return CodeCheck.LOCKED if current.tries >= max_tries else CodeCheck.WRONG
    current.used_at = now
    return CodeCheck.OK


def activation_ttl(case: ProofingCase, now: datetime) -> timedelta:
    """The activation code lives as long as the case's activation window."""
    if case.activation_expires_at is None:
        raise ValueError("the case has no activation window: decide it first")
    return case.activation_expires_at - now


def send_code_by_sms(
    uow: UnitOfWork, tenant: Tenant, locale: str, case: ProofingCase, purpose: CodePurpose, code: str, now: datetime
) -> int:
    """Queue ``code`` to the case's mobile (template sms/identity_code), in the caller's transaction."""
    if case.mobile is None:
        raise ValueError("the case has no mobile number yet")
    return queue_sms(
        uow,
        tenant,
        "identity_code",
        locale,
        case.mobile,
        {"code": code, "purpose": purpose.value},
        now=now,
        sensitive=True,
    )

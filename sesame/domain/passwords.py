"""Password rules: what a tenant's policy accepts, rule by rule, so pages can show a checklist.

Each rule is a small named check with the reason it exists. The blocklist lookup is a port
(:class:`PasswordBlocklist`) because the list is data shipped beside the code; everything
else here is pure. NIST SP 800-63B-4 is the default: length first, no composition rules,
every printable character (and spaces) allowed, pasted passwords welcome.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sesame.domain.tenants import PasswordPolicy


class PasswordBlocklist(Protocol):
    def contains(self, password: str) -> bool:
        """True when the password is a known common or breached one."""
        ...


class PasswordRule(StrEnum):
    """Stable names of the rules (used by the pages' checklist and translations)."""

    MIN_LENGTH = "min_length"
    MAX_LENGTH = "max_length"
    UPPER = "upper"
    LOWER = "lower"
    DIGIT = "digit"
    SYMBOL = "symbol"
    NOT_BLOCKLISTED = "not_blocklisted"
    NOT_PERSONAL = "not_personal"
    PRINTABLE = "printable"


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: PasswordRule
    passed: bool
    #: The number a message needs (the minimum length...), or 0.
    value: int = 0


def normalize(password: str) -> str:
    """NFKC, as NIST asks, so that the same password typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFKC", password)


def length(password: str) -> int:
    """Length in Unicode code points, as people count characters (NIST: one per code point)."""
    return len(normalize(password))


def _personal_values(email: str, names: Iterable[str]) -> set[str]:
    """The email, its local part, each name and the full name, compared the way passwords are:
    NFKC (a name typed with a decomposed accent is the same name) and case-insensitively."""
    email = normalize(email).strip().lower()
    cleaned = [normalize(n).strip().lower() for n in names]
    values = {email} if email else set()
    local = email.split("@", 1)[0].strip()
    if len(local) >= 4:
        values.add(local)
    values.update(n for n in cleaned if len(n) >= 3)
    full = " ".join(" ".join(n.split()) for n in cleaned if n)
    if full:
        values.update({full, full.replace(" ", "")})
    return values


def _is_personal(password: str, email: str, names: Iterable[str]) -> bool:
    """Equal to the email, its local part, a name or the full name (case and spaces ignored)."""
    candidate = " ".join(normalize(password).lower().split())
    values = _personal_values(email, names)
    return candidate in values or candidate.replace(" ", "") in values


RuleCheck = Callable[[str, PasswordPolicy], bool]


def check_password(
    password: str,
    policy: PasswordPolicy,
    *,
    blocklist: PasswordBlocklist | None,
    email: str = "",
    names: Iterable[str] = (),
) -> list[RuleResult]:
    """Every rule of ``policy`` applied to ``password``, in the order the checklist shows them."""
    text = normalize(password)
    count = len(text)
    results = [
        # Long passwords resist guessing best; the minimum is the policy's first rule.
        RuleResult(PasswordRule.MIN_LENGTH, count >= policy.min_length, policy.min_length),
        # A ceiling protects the hasher from megabyte inputs, far above any real passphrase.
        RuleResult(PasswordRule.MAX_LENGTH, count <= policy.max_length, policy.max_length),
        # Control characters cannot be typed reliably everywhere; spaces and emoji are fine.
        RuleResult(PasswordRule.PRINTABLE, all(c.isprintable() or c == " " for c in text)),
    ]
    if policy.require_upper:
        results.append(RuleResult(PasswordRule.UPPER, any(c.isupper() for c in text)))
    if policy.require_lower:
        results.append(RuleResult(PasswordRule.LOWER, any(c.islower() for c in text)))
    if policy.require_digit:
        results.append(RuleResult(PasswordRule.DIGIT, any(c.isdigit() for c in text)))
    if policy.require_symbol:
        results.append(RuleResult(PasswordRule.SYMBOL, any(not c.isalnum() and not c.isspace() for c in text)))
    if policy.reject_personal_data:
        # A password equal to one's own email or name is the first thing an attacker tries.
        results.append(RuleResult(PasswordRule.NOT_PERSONAL, not _is_personal(text, email, names)))
    if policy.reject_blocklisted and blocklist is not None:
        # Common and breached passwords fall to dictionary attacks whatever their length.
        results.append(RuleResult(PasswordRule.NOT_BLOCKLISTED, count == 0 or not blocklist.contains(text)))
    return results


def failed_rules(results: Iterable[RuleResult]) -> list[RuleResult]:
    return [r for r in results if not r.passed]

"""Choosing a password: the tenant's rules, the shipped blocklist, and the person's own data."""

from __future__ import annotations

from collections.abc import Iterable

from sesame.domain.errors import PolicyViolation
from sesame.domain.passwords import PasswordBlocklist, RuleResult, check_password, failed_rules
from sesame.domain.tenants import PasswordPolicy


class PasswordRules:
    def __init__(self, blocklist: PasswordBlocklist) -> None:
        self._blocklist = blocklist

    def check(
        self, policy: PasswordPolicy, password: str, *, email: str = "", names: Iterable[str] = ()
    ) -> list[RuleResult]:
        """Every rule with its outcome (the pages show them as a checklist)."""
        return check_password(password, policy, blocklist=self._blocklist, email=email, names=names)

    def require_valid(
        self, policy: PasswordPolicy, password: str, *, email: str = "", names: Iterable[str] = ()
    ) -> None:
        """Raise ``PolicyViolation`` naming the failed rules (never the password)."""
        failed = failed_rules(self.check(policy, password, email=email, names=names))
        if failed:
            raise PolicyViolation("password refused", rules=[r.rule.value for r in failed])

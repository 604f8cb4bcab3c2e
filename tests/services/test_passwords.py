"""PasswordRules: a tenant's policy with the shipped blocklist, as registration and the CLI use it."""

from __future__ import annotations

import pytest

from sesame.bootstrap import Container
from sesame.domain.errors import PolicyViolation
from sesame.domain.passwords import PasswordRule
from sesame.services.passwords import PasswordRules
from tests.services.accounts_support import STRONG_PASSWORD, demo_tenant


@pytest.fixture
def rules(container: Container) -> PasswordRules:
    return container.password_rules


def test_check_gives_the_checklist_of_the_tenant(container: Container, rules: PasswordRules) -> None:
    laposte = demo_tenant(container, "laposte").policy.password
    poste_ch = demo_tenant(container, "poste-ch").policy.password
    assert {r.rule for r in rules.check(laposte, "x")} >= {PasswordRule.UPPER, PasswordRule.DIGIT}
    assert PasswordRule.UPPER not in {r.rule for r in rules.check(poste_ch, "x")}
    assert all(r.passed for r in rules.check(laposte, STRONG_PASSWORD))
    assert all(r.passed for r in rules.check(poste_ch, STRONG_PASSWORD))


@pytest.mark.parametrize(
    ("slug", "password", "failed"),
    [
        ("laposte", "Vxq7Lmp", ["min_length"]),
        ("laposte", "vxq7lmpa", ["upper"]),
        ("laposte", "Password1", ["not_blocklisted"]),
        ("poste-ch", "Vxq7Lmpa", ["min_length"]),
        ("poste-ch", "passwordpassword", ["not_blocklisted"]),
        ("poste-ch", "x" * 129, ["max_length"]),
        ("poste-ch", "camille.martin@example.fr", ["not_personal"]),
        ("poste-ch", "Camille  Martin 1", []),
    ],
)
def test_require_valid_names_the_failed_rules(
    container: Container, rules: PasswordRules, slug: str, password: str, failed: list[str]
) -> None:
    policy = demo_tenant(container, slug).policy.password
    names = ("Camille", "Martin")
    if not failed:
        rules.require_valid(policy, password, email="camille.martin@example.fr", names=names)
        return
    with pytest.raises(PolicyViolation) as raised:
        rules.require_valid(policy, password, email="camille.martin@example.fr", names=names)
    assert raised.value.details["rules"] == failed
    assert password not in str(raised.value)  # the error never carries the password
    assert password not in repr(raised.value.details)

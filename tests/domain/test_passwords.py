"""Password rules, rule by rule: the seed policy of laposte, the NIST default, blocklist, personal data."""

from __future__ import annotations

import unicodedata

import pytest

from sesame.adapters.password_blocklist import ShippedPasswordBlocklist
from sesame.domain.passwords import (
    PasswordRule,
    RuleResult,
    check_password,
    failed_rules,
    length,
    normalize,
)
from sesame.domain.tenants import PasswordPolicy
from sesame.services.demo import DEMO_TENANTS

LAPOSTE = next(t.policy.password for t in DEMO_TENANTS if t.slug == "laposte")
POSTE_CH = next(t.policy.password for t in DEMO_TENANTS if t.slug == "poste-ch")
NIST = PasswordPolicy()
#: Only the personal-data rule matters in some tests: no length or blocklist noise.
PERSONAL_ONLY = PasswordPolicy(min_length=4, reject_blocklisted=False)
BLOCKLIST = ShippedPasswordBlocklist()


def failed(password: str, policy: PasswordPolicy, *, email: str = "", names: tuple[str, ...] = ()) -> set[str]:
    results = check_password(password, policy, blocklist=BLOCKLIST, email=email, names=names)
    return {r.rule.value for r in failed_rules(results)}


# -- the laposte seed rule: >= 8 characters with an upper case letter, a lower case letter, a digit ----


def test_laposte_uses_the_seed_rule() -> None:
    assert (LAPOSTE.min_length, LAPOSTE.require_upper, LAPOSTE.require_lower, LAPOSTE.require_digit) == (
        8,
        True,
        True,
        True,
    )
    assert LAPOSTE.reject_blocklisted and LAPOSTE.reject_personal_data


def test_laposte_accepts_a_password_meeting_every_rule() -> None:
    assert failed("Vxq7Lmpa", LAPOSTE) == set()


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Vxq7Lmp", "min_length"),  # 7 characters
        ("vxq7lmpa", "upper"),
        ("VXQ7LMPA", "lower"),
        ("VxqzLmpa", "digit"),
    ],
)
def test_laposte_refuses_each_missing_rule_alone(password: str, rule: str) -> None:
    assert failed(password, LAPOSTE) == {rule}


def test_laposte_names_every_failed_rule_at_once() -> None:
    assert failed("qzv", LAPOSTE) == {"min_length", "upper", "digit"}


def test_the_checklist_lists_the_policy_rules_in_order() -> None:
    laposte = [r.rule for r in check_password("Vxq7Lmpa", LAPOSTE, blocklist=BLOCKLIST)]
    assert laposte == [
        PasswordRule.MIN_LENGTH,
        PasswordRule.MAX_LENGTH,
        PasswordRule.PRINTABLE,
        PasswordRule.UPPER,
        PasswordRule.LOWER,
        PasswordRule.DIGIT,
        PasswordRule.NOT_PERSONAL,
        PasswordRule.NOT_BLOCKLISTED,
    ]
    nist = [r.rule for r in check_password("x", NIST, blocklist=BLOCKLIST)]
    assert nist == [
        PasswordRule.MIN_LENGTH,
        PasswordRule.MAX_LENGTH,
        PasswordRule.PRINTABLE,
        PasswordRule.NOT_PERSONAL,
        PasswordRule.NOT_BLOCKLISTED,
    ]
    # The numbers the checklist's messages need travel with the rules.
    by_rule = {r.rule: r for r in check_password("x", LAPOSTE, blocklist=BLOCKLIST)}
    assert by_rule[PasswordRule.MIN_LENGTH] == RuleResult(PasswordRule.MIN_LENGTH, False, 8)
    assert by_rule[PasswordRule.MAX_LENGTH].value == LAPOSTE.max_length


# -- NIST SP 800-63B-4, the default: length first, no composition rules -----------------------------


def test_the_default_policy_is_nist() -> None:
    assert POSTE_CH == NIST
    assert NIST.min_length == 15
    assert NIST.max_length >= 64
    assert not (NIST.require_upper or NIST.require_lower or NIST.require_digit or NIST.require_symbol)
    assert NIST.reject_blocklisted and NIST.reject_personal_data


def test_nist_counts_length_only() -> None:
    assert failed("tqvmzkrwpjhgxbn"[:14], NIST) == {"min_length"}
    assert failed("tqvmzkrwpjhgxbn", NIST) == set()  # 15 lower-case letters: no composition rule


def test_nist_accepts_long_passphrases_up_to_the_maximum() -> None:
    assert failed("vent " * 12 + "tiède", NIST) == set()  # 65 characters
    at_max = ("loutre-" * 20)[: NIST.max_length]
    assert failed(at_max, NIST) == set()
    assert failed(at_max + "z", NIST) == {"max_length"}
    assert failed("a" * 64, PasswordPolicy(min_length=64, max_length=64, reject_blocklisted=False)) == set()


@pytest.mark.parametrize(
    "password",
    [
        "the quick mauve giraffe sings",  # spaces, as a pasted passphrase has
        "  leading and trailing spaces  ",
        "🦊🌲🏔️ renard des bois 🦊",  # emoji
        "Ça déménage à Zürich, ñandú!",  # accents and punctuation
        "пароль для моей почты",  # another script
        "mot\u00a0de\u00a0passe\u00a0insécable",  # no-break spaces, as some keyboards paste them
    ],
)
def test_nist_accepts_any_printable_character(password: str) -> None:
    assert failed(password, NIST) == set()


@pytest.mark.parametrize("password", ["tab\tinside the passphrase", "newline\ninside the passphrase", "nul\x00 char x"])
def test_control_characters_are_refused(password: str) -> None:
    assert "printable" in failed(password, NIST)


def test_passwords_are_nfkc_normalized() -> None:
    assert normalize("ｍｏｔ ｄｅ ｐａｓｓｅ") == "mot de passe"  # full-width letters
    assert normalize("e\u0301") == "é"  # a decomposed accent, as some keyboards type it
    assert normalize("ﬁn") == "fin"  # a ligature
    assert length("e\u0301" * 15) == 15  # counted as people count characters
    decomposed = unicodedata.normalize("NFD", "élégante méthode")  # 16 characters, 19 code points
    assert len(decomposed) > 16 and failed(decomposed, PasswordPolicy(min_length=17)) == {"min_length"}
    assert failed(decomposed, PasswordPolicy(min_length=16)) == set()


def test_normalization_applies_before_the_blocklist() -> None:
    assert "not_blocklisted" in failed("ｐａｓｓｗｏｒｄ１２３４５６７８９", NIST)


# -- every policy: the blocklist --------------------------------------------------------------------


@pytest.mark.parametrize("password", ["Password1", "Azerty123", "Motdepasse1", "Marseille13", "IloveYou1"])
def test_laposte_refuses_common_passwords_that_meet_the_composition_rules(password: str) -> None:
    assert failed(password, LAPOSTE) == {"not_blocklisted"}


@pytest.mark.parametrize("password", ["passwordpassword", "123456789012345", "1q2w3e4r5t6y7u8i", "TrustNo1TrustNo1"])
def test_nist_refuses_long_common_passwords(password: str) -> None:
    assert failed(password, NIST) == {"not_blocklisted"}


def test_the_blocklist_rule_can_be_turned_off() -> None:
    policy = PasswordPolicy(min_length=8, reject_blocklisted=False)
    assert failed("password", policy) == set()
    assert PasswordRule.NOT_BLOCKLISTED not in {r.rule for r in check_password("password", NIST, blocklist=None)}


# -- every policy: the person's own data --------------------------------------------------------------

EMAIL = "Marie.Dupont@Example.fr"
NAMES = ("Marie", "Dupont")


@pytest.mark.parametrize(
    "password",
    [
        "marie.dupont@example.fr",  # the email
        "MARIE.DUPONT@EXAMPLE.FR",  # in any case
        "Marie.Dupont",  # its local part
        "marie",  # a name
        "DUPONT",
        "Marie Dupont",  # the full name
        "mariedupont",
        " Marie  Dupont ",
    ],
)
def test_personal_data_is_refused(password: str) -> None:
    assert failed(password, PERSONAL_ONLY, email=EMAIL, names=NAMES) == {"not_personal"}


@pytest.mark.parametrize("password", ["Marie Dupont 1984 Lyon", "dupont.marie.fr", "example.fr"])
def test_passwords_that_only_contain_personal_data_are_accepted(password: str) -> None:
    assert failed(password, PERSONAL_ONLY, email=EMAIL, names=NAMES) == set()


def test_personal_data_is_compared_normalized() -> None:
    names = (unicodedata.normalize("NFD", "Élodie"), "Noël")
    assert failed("élodie", PERSONAL_ONLY, names=names) == {"not_personal"}
    assert failed(unicodedata.normalize("NFD", "ÉLODIE NOËL"), PERSONAL_ONLY, names=names) == {"not_personal"}


def test_laposte_refuses_a_strong_looking_full_name() -> None:
    assert failed("JeanPaul2Martin", LAPOSTE, email="j@example.fr", names=("JeanPaul2", "Martin")) == {"not_personal"}


def test_the_personal_rule_can_be_turned_off() -> None:
    policy = PasswordPolicy(min_length=4, reject_blocklisted=False, reject_personal_data=False)
    assert failed("marie.dupont@example.fr", policy, email=EMAIL, names=NAMES) == set()

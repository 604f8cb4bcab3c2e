"""French mobile numbers: every usual way of typing one, and every kind of number refused."""

from __future__ import annotations

import pytest

from sesame.domain.phones import MobileNumber, PhoneNumberRejected, PhoneRejection, mask_mobile, parse_french_mobile


@pytest.mark.parametrize(
    "typed",
    [
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "  06 12 34 56 78  ",
        "+33 6 12 34 56 78",
        "+33612345678",
        "0033 6 12 34 56 78",
        "0033612345678",
        "+33 (0)6 12 34 56 78",
        "+33 (0) 6 12 34 56 78",
    ],
)
def test_the_usual_ways_of_typing_a_mobile(typed: str) -> None:
    number = parse_french_mobile(typed)
    assert number == MobileNumber("+33612345678")
    assert number.e164 == "+33612345678"
    assert number.national == "06 12 34 56 78"
    assert number.international == "+33 6 12 34 56 78"
    assert number.masked == "+33 6 •• •• •• 78"


def test_07_mobiles_too() -> None:
    number = parse_french_mobile("07 81 23 45 67")
    assert number.e164 == "+33781234567"
    assert number.masked == "+33 7 •• •• •• 67"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", PhoneRejection.EMPTY),
        ("   ", PhoneRejection.EMPTY),
        ("06" * 20, PhoneRejection.TOO_LONG),
        ("06 CALL ME NOW", PhoneRejection.MALFORMED),
        ("06 12 34 56 78 ext 12", PhoneRejection.MALFORMED),
        ("not a number", PhoneRejection.MALFORMED),
        ("+", PhoneRejection.MALFORMED),
        ("01 23 45 67 89", PhoneRejection.NOT_MOBILE),  # Paris landline
        ("05 56 12 34 56", PhoneRejection.NOT_MOBILE),  # Bordeaux landline
        ("09 12 34 56 78", PhoneRejection.NOT_MOBILE),  # internet box
        ("08 00 12 34 56", PhoneRejection.NOT_MOBILE),  # freephone
        ("3631", PhoneRejection.NOT_MOBILE),  # short code
        ("112", PhoneRejection.NOT_MOBILE),  # emergency
        ("+44 7700 900123", PhoneRejection.NOT_FRENCH),
        ("+32 470 12 34 56", PhoneRejection.NOT_FRENCH),  # a Belgian mobile
        ("+262 692 12 34 56", PhoneRejection.NOT_FRENCH),  # Réunion: not +33
        ("+1 202 555 0143", PhoneRejection.NOT_FRENCH),
        ("06 12 34 56", PhoneRejection.INVALID),  # too short
        ("06 12 34 56 78 9", PhoneRejection.INVALID),  # too long
        ("07 00 00 00 00", PhoneRejection.INVALID),  # a range no operator has
    ],
)
def test_refusals_say_why(typed: str, reason: PhoneRejection) -> None:
    with pytest.raises(PhoneNumberRejected) as raised:
        parse_french_mobile(typed)
    assert raised.value.reason is reason
    assert raised.value.code == "phone_rejected"
    assert raised.value.details == {"reason": reason.value}


def test_masking_keeps_only_what_recognises_the_number() -> None:
    assert mask_mobile("+33612345678") == "+33 6 •• •• •• 78"
    assert "1234" not in mask_mobile("+33612345678")
    assert mask_mobile("+447700900123") == "+44 •• 23"

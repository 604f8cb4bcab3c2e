"""French mobile numbers: what the identity enrolment accepts for its SMS codes (seed 001).

Only mobiles of metropolitan France are accepted: +33 6 and +33 7. People type them in many
ways ("06 12 34 56 78", "+33 6 12 34 56 78", "0033 6...", "+33 (0)6..."); Google's
``phonenumbers`` reads them all and knows which ranges are assigned to mobiles. A refusal says
why with a code (``PhoneRejection``) that the page turns into a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from sesame.domain.errors import InvalidInput

#: Longer input is not a phone number (a pasted paragraph, an attack on the parser).
PHONE_INPUT_MAX_CHARS = 32
FRANCE_CALLING_CODE = 33
#: What shows the hidden digits of a masked number.
MASK = "••"


class PhoneRejection(StrEnum):
    EMPTY = "phone_empty"
    TOO_LONG = "phone_too_long"
    #: Not readable as a phone number (letters, an extension, stray signs).
    MALFORMED = "phone_malformed"
    #: Another country's number, overseas France (+262, +590...) included.
    NOT_FRENCH = "phone_not_french"
    #: A French number that is not a mobile: landline (01-05), 09, 08 services, short codes.
    NOT_MOBILE = "phone_not_mobile"
    #: +33 6/7 but with too few or too many digits, or in a range that no operator has.
    INVALID = "phone_invalid"


class PhoneNumberRejected(InvalidInput):
    """The number is refused; ``reason`` says why (one ``PhoneRejection``)."""

    code = "phone_rejected"

    def __init__(self, reason: PhoneRejection) -> None:
        super().__init__(str(reason), reason=str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MobileNumber:
    """A French mobile number, as stored (E.164) and as shown."""

    #: ``+33612345678``: what is stored and sent to the SMS provider.
    e164: str

    @property
    def national(self) -> str:
        """``06 12 34 56 78``."""
        digits = "0" + self.e164[3:]
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))

    @property
    def international(self) -> str:
        """``+33 6 12 34 56 78``."""
        rest = self.e164[4:]
        return f"+33 {self.e164[3]} " + " ".join(rest[i : i + 2] for i in range(0, 8, 2))

    @property
    def masked(self) -> str:
        """``+33 6 •• •• •• 78``: enough for the person to recognise their number, not to learn it."""
        return mask_mobile(self.e164)


def parse_french_mobile(text: str) -> MobileNumber:
    """The mobile number typed in ``text``; raises ``PhoneNumberRejected`` with the reason."""
    text = text.strip()
    if not text:
        raise PhoneNumberRejected(PhoneRejection.EMPTY)
    if len(text) > PHONE_INPUT_MAX_CHARS:
        raise PhoneNumberRejected(PhoneRejection.TOO_LONG)
    try:
        number = phonenumbers.parse(text, "FR")
    except NumberParseException as error:
        raise PhoneNumberRejected(PhoneRejection.MALFORMED) from error
    if number.extension or any(c.isalpha() for c in text):
        raise PhoneNumberRejected(PhoneRejection.MALFORMED)
    if number.country_code != FRANCE_CALLING_CODE:
        raise PhoneNumberRejected(PhoneRejection.NOT_FRENCH)
    national = str(number.national_number)
    if national[:1] not in ("6", "7"):
        raise PhoneNumberRejected(PhoneRejection.NOT_MOBILE)
    if (
        len(national) != 9
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != PhoneNumberType.MOBILE
    ):
        raise PhoneNumberRejected(PhoneRejection.INVALID)
    return MobileNumber(e164=phonenumbers.format_number(number, PhoneNumberFormat.E164))


def mask_mobile(e164: str) -> str:
    """``+33612345678`` -> ``+33 6 •• •• •• 78``; any other E.164 number keeps its last two digits."""
    if e164.startswith("+33") and len(e164) == 12:
        return f"+33 {e164[3]} {MASK} {MASK} {MASK} {e164[-2:]}"
    return f"{e164[:3]} {MASK} {e164[-2:]}" if len(e164) > 5 else MASK

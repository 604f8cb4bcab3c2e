"""Customer numbers: the 10-digit identifier a bank gives its customers, the last digit a Luhn check.

The check digit catches a mistyped number (one wrong digit, two neighbours swapped) before any
lookup, so a typo gets a clear "check your number" instead of a failed login, and the answer
depends on the digits alone: it never tells whether a well-formed number belongs to someone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from enum import StrEnum

#: Nine random digits and the check digit.
CUSTOMER_NUMBER_LENGTH = 10
PAYLOAD_LENGTH = CUSTOMER_NUMBER_LENGTH - 1
#: Longest input looked at: a number typed with spaces ("01234 56789") fits, a pasted novel does not.
INPUT_MAX = 32
#: Characters people put between digit groups when they copy a number from a letter.
_SEPARATORS = str.maketrans("", "", " \u00a0\u202f.-")


class NumberProblem(StrEnum):
    """Why a typed customer number cannot be one (shown as "check your number", per reason)."""

    REQUIRED = "required"
    NOT_DIGITS = "not_digits"
    LENGTH = "length"
    CHECK_DIGIT = "check_digit"


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload`` + digit pass the Luhn check (ISO/IEC 7812-1, Annex B)."""
    if not payload.isascii() or not payload.isdigit():
        raise ValueError("a Luhn payload is made of digits")
    total = 0
    # From the right, every second digit of the payload is doubled (the check digit will be first).
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def normalize_customer_number(typed: str) -> str:
    """What was typed without the spaces, dots and dashes people copy from a letter."""
    return typed[:INPUT_MAX].strip().translate(_SEPARATORS)


def number_problem(typed: str) -> NumberProblem | None:
    """Why ``typed`` is not a customer number, or None when it is well formed (it may still be no one's)."""
    if len(typed) > INPUT_MAX:
        return NumberProblem.LENGTH
    number = normalize_customer_number(typed)
    if not number:
        return NumberProblem.REQUIRED
    if not (number.isascii() and number.isdigit()):
        return NumberProblem.NOT_DIGITS
    if len(number) != CUSTOMER_NUMBER_LENGTH:
        return NumberProblem.LENGTH
    if luhn_check_digit(number[:PAYLOAD_LENGTH]) != number[-1]:
        return NumberProblem.CHECK_DIGIT
    return None


def is_customer_number(typed: str) -> bool:
    return number_problem(typed) is None


def draw_customer_number(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A random well-formed number: nine random digits, then their check digit.

    Random rather than sequential, so a number says nothing of when its customer joined, and
    the neighbours of one number are not other customers'. Uniqueness is the caller's (the
    database refuses a number taken in the tenant; draw again).
    """
    payload = f"{randbelow(10**PAYLOAD_LENGTH):0{PAYLOAD_LENGTH}d}"
    return payload + luhn_check_digit(payload)

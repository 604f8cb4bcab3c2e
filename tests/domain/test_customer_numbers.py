"""Customer numbers: the Luhn check digit catches typos before any lookup; numbers are drawn at random."""

from __future__ import annotations

import random

import pytest

from sesame.domain.customer_numbers import (
    CUSTOMER_NUMBER_LENGTH,
    NumberProblem,
    draw_customer_number,
    is_customer_number,
    luhn_check_digit,
    normalize_customer_number,
    number_problem,
)

#: Payload 799273987 (from the classic Luhn example 79927398713), check digit 5.
VALID = "7992739875"


def test_the_check_digit_is_luhns() -> None:
    assert luhn_check_digit("7992739871") == "3"  # Wikipedia's example: 79927398713
    assert luhn_check_digit("799273987") == "5"
    assert is_customer_number(VALID)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", NumberProblem.REQUIRED),
        ("   ", NumberProblem.REQUIRED),
        ("79927398x5", NumberProblem.NOT_DIGITS),
        ("７９９２７３９８７５", NumberProblem.NOT_DIGITS),  # full-width digits are not ASCII digits
        ("799273987", NumberProblem.LENGTH),
        ("79927398755", NumberProblem.LENGTH),
        ("7" * 40, NumberProblem.LENGTH),
        ("7992739876", NumberProblem.CHECK_DIGIT),  # the last digit mistyped
        ("7992739785", NumberProblem.CHECK_DIGIT),  # two neighbours swapped
    ],
)
def test_typos_are_caught_by_their_shape_alone(typed: str, problem: NumberProblem) -> None:
    assert number_problem(typed) is problem


def test_every_single_digit_typo_and_most_swaps_are_caught() -> None:
    rng = random.Random(2026)
    for _ in range(200):
        number = draw_customer_number(rng.randrange)
        for position in range(CUSTOMER_NUMBER_LENGTH):
            for digit in "0123456789":
                if digit != number[position]:
                    typo = number[:position] + digit + number[position + 1 :]
                    assert number_problem(typo) is NumberProblem.CHECK_DIGIT
        for position in range(CUSTOMER_NUMBER_LENGTH - 1):
            a, b = number[position], number[position + 1]
            # Luhn misses only the swap of 09 and 90.
            if a != b and {a, b} != {"0", "9"}:
                swapped = number[:position] + b + a + number[position + 2 :]
                assert number_problem(swapped) is NumberProblem.CHECK_DIGIT


def test_spaces_and_dots_from_a_letter_are_accepted() -> None:
    assert normalize_customer_number(" 79927 39875 ") == VALID
    assert number_problem("799.273.987-5") is None


def test_drawn_numbers_are_well_formed_and_spread() -> None:
    # Seeded through the drawing's own parameter: 2,000 draws among 10^9 payloads repeat one
    # about once in a thousand runs with the system's generator.
    rng = random.Random(2026)
    numbers = {draw_customer_number(rng.randrange) for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(is_customer_number(number) and len(number) == 10 for number in numbers)
    # Random, not sequential: the first digits cover the whole range.
    assert {number[0] for number in numbers} == set("0123456789")
    # The system's generator, as the bank draws them: well-formed, spread, not a sequence.
    drawn = [draw_customer_number() for _ in range(200)]
    assert all(is_customer_number(number) and len(number) == 10 for number in drawn)
    assert len({number[:3] for number in drawn}) > 100

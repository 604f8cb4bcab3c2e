"""The randomized keypad: fresh layouts and references every attempt, decoding, the rules of a good code."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import date

import pytest

from sesame.domain.keypad import (
    CODE_LENGTH,
    DIGITS,
    GRID_CELLS,
    KEY_REF_RE,
    REF_SEPARATOR,
    KeypadLayout,
    TrivialReason,
    draw_code,
    draw_layout,
    split_refs,
    trivial_code_reasons,
)

DRAWS = 4000
#: chi-square with 15 degrees of freedom: P(X > 37.7) = 0.001. A biased keypad fails by far.
CHI2_LIMIT_15_DOF = 37.7
#: The statistics below draw through the functions' own ``rng`` parameter, seeded: the same draws
#: every run. With the system's generator a fair keypad would fail one of these eleven 1-in-1,000
#: checks about once in a hundred runs (and the 2,000 drawn codes would repeat more than ten times
#: about once in twenty thousand). A biased drawing fails with this seed as with any other.
SEED = 20260115


def chi_square(counts: Counter[int], cells: int, draws: int) -> float:
    expected = draws / cells
    return sum((counts.get(cell, 0) - expected) ** 2 / expected for cell in range(cells))


def test_a_layout_has_the_ten_digits_once_on_sixteen_cells() -> None:
    layout = draw_layout()
    assert sorted(key.digit for key in layout.keys) == list(DIGITS)
    grid = layout.grid()
    assert len(grid) == GRID_CELLS and sum(key is not None for key in grid) == 10
    assert len({key.cell for key in layout.keys}) == 10
    assert [len(row) for row in layout.rows()] == [4, 4, 4, 4]


@pytest.fixture(scope="module")
def layouts() -> list[KeypadLayout]:
    rng = random.Random(SEED)
    return [draw_layout(rng) for _ in range(DRAWS)]  # type: ignore[arg-type]  # seeded, see SEED


@pytest.mark.parametrize("digit", list(DIGITS))
def test_no_digit_has_a_predictable_place(layouts: list[KeypadLayout], digit: str) -> None:
    """Over many layouts each digit lands on every cell about equally often (chi-square)."""
    places: Counter[int] = Counter(next(key.cell for key in layout.keys if key.digit == digit) for layout in layouts)
    assert set(places) == set(range(GRID_CELLS))
    assert chi_square(places, GRID_CELLS, DRAWS) < CHI2_LIMIT_15_DOF


def test_the_first_key_shows_any_digit(layouts: list[KeypadLayout]) -> None:
    """Reading order says nothing either: the first key (top left first) is each digit ~1/10 of the time."""
    first: Counter[str] = Counter(layout.keys[0].digit for layout in layouts)
    expected = DRAWS / 10
    statistic = sum((first[d] - expected) ** 2 / expected for d in DIGITS)
    assert statistic < 27.9  # 9 degrees of freedom, P = 0.001


def test_a_biased_keypad_would_fail_the_check() -> None:
    """The check can fail: a keypad that puts "0" in the first cell twice as often is caught."""
    places: Counter[int] = Counter(dict.fromkeys(range(GRID_CELLS), DRAWS // GRID_CELLS))
    places[0] += DRAWS // GRID_CELLS
    places[1] -= DRAWS // GRID_CELLS
    assert chi_square(places, GRID_CELLS, DRAWS) > CHI2_LIMIT_15_DOF


def test_references_are_fresh_every_attempt_and_never_look_like_digits() -> None:
    seen: set[str] = set()
    for _ in range(500):
        refs = [key.ref for key in draw_layout().keys]
        assert len(set(refs)) == 10
        assert all(KEY_REF_RE.fullmatch(ref) and not any(c.isdigit() for c in ref) for ref in refs)
        assert seen.isdisjoint(refs)
        seen.update(refs)


def test_decoding_needs_this_layouts_references() -> None:
    layout, other = draw_layout(), draw_layout()
    ref = {key.digit: key.ref for key in layout.keys}
    assert layout.decode([ref[d] for d in "480915"]) == "480915"
    assert other.decode([ref[d] for d in "480915"]) is None
    assert layout.decode([ref["4"], "A" * 14]) is None
    assert layout.digit_of(ref["7"]) == "7" and other.digit_of(ref["7"]) is None


def test_split_refs_accepts_only_a_sequence_of_references() -> None:
    layout = draw_layout()
    refs = [key.ref for key in layout.keys][:CODE_LENGTH]
    assert split_refs(REF_SEPARATOR.join(refs)) == refs
    assert split_refs("") == []
    assert split_refs(REF_SEPARATOR.join(refs + refs[:1])) is None  # seven keys: not a code
    assert split_refs("123456") is None  # digits are never accepted as such
    assert split_refs("x" * 5000) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("000000", TrivialReason.REPEATED),
        ("777777", TrivialReason.REPEATED),
        ("121212", TrivialReason.REPEATED),
        ("123123", TrivialReason.REPEATED),
        ("123456", TrivialReason.SEQUENCE),
        ("654321", TrivialReason.SEQUENCE),
        ("890123", TrivialReason.SEQUENCE),
        ("112233", TrivialReason.COMMON),
        ("147258", TrivialReason.COMMON),
        ("12345", TrivialReason.FORMAT),
        ("12a456", TrivialReason.FORMAT),
    ],
)
def test_trivial_codes(code: str, reason: TrivialReason) -> None:
    assert reason in trivial_code_reasons(code)


@pytest.mark.parametrize("code", ["070485", "040785", "850407", "850704", "041985", "198504"])
def test_the_birth_date_in_any_usual_writing(code: str) -> None:
    assert TrivialReason.BIRTH_DATE in trivial_code_reasons(code, birth_date=date(1985, 4, 7))
    assert TrivialReason.BIRTH_DATE not in trivial_code_reasons(code)


def test_digits_of_the_customer_number() -> None:
    assert trivial_code_reasons("927398", customer_number="7992739871") == [TrivialReason.CUSTOMER_NUMBER]
    assert trivial_code_reasons("927398", customer_number="1111111111") == []


def test_a_good_code_passes() -> None:
    assert trivial_code_reasons("480915", birth_date=date(1985, 4, 7), customer_number="7992739871") == []


def test_drawn_codes_follow_the_rules() -> None:
    rng = random.Random(SEED)
    codes = [
        draw_code(rng, birth_date=date(1985, 4, 7), customer_number="7992739871")  # type: ignore[arg-type]
        for _ in range(2000)
    ]
    assert all(not trivial_code_reasons(c, birth_date=date(1985, 4, 7), customer_number="7992739871") for c in codes)
    assert len(set(codes)) > 1990
    # Spread over the whole range: each leading digit about a tenth of the time.
    leading = Counter(code[0] for code in codes)
    assert all(abs(leading[d] - 200) < 5 * math.sqrt(200) for d in DIGITS)

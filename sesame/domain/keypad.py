"""The randomized keypad: a fresh layout of the ten digits per attempt, and the rules of a good code.

The page shows the digits on a 4 x 4 grid at places drawn for this attempt only, and each key
sends a reference drawn for this attempt only. What the browser sends is a sequence of those
references: a keylogger sees clicks and references, never a digit, and the references mean
nothing to any other attempt or flow. Only the server, which keeps the layout in the flow,
turns them back into the code (:meth:`KeypadLayout.decode`).

Codes are six digits (seed 002). A chosen code must not be trivially guessed: no repeated
pattern, no run of consecutive digits, none of the most common codes, not the birth date,
not a piece of the customer number (:func:`trivial_code_reasons`).
"""

from __future__ import annotations

import itertools
import re
import secrets
import string
from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

DIGITS = "0123456789"
CODE_LENGTH = 6
#: The grid: 4 x 4 cells, ten of them keys, the others blank (their places move too).
GRID_COLUMNS = 4
GRID_CELLS = 16
#: References are letters only, so that nothing the page holds for the code even looks like a
#: digit; 14 of 52 letters are 79 random bits: guessing another attempt's reference is hopeless.
KEY_REF_ALPHABET = string.ascii_letters
KEY_REF_LENGTH = 14
KEY_REF_RE = re.compile(rf"^[A-Za-z]{{{KEY_REF_LENGTH}}}$")
#: References are joined by dots in the form field.
REF_SEPARATOR = "."
#: Longest form value decoded: a full code of references, with room for a stray separator.
REFS_INPUT_MAX = CODE_LENGTH * (KEY_REF_LENGTH + 1) + 8


class KeypadKey(BaseModel):
    """One key of one attempt: where it is, what it shows, what it sends."""

    model_config = ConfigDict(frozen=True)

    cell: int
    digit: str
    ref: str


class KeypadLayout(BaseModel):
    """The keys of one attempt (kept server side in the flow's context, never sent as a whole)."""

    model_config = ConfigDict(frozen=True)

    keys: tuple[KeypadKey, ...]

    def grid(self) -> list[KeypadKey | None]:
        """The cells in reading order: a key, or None for a blank cell."""
        by_cell: dict[int, KeypadKey] = {key.cell: key for key in self.keys}
        return [by_cell.get(cell) for cell in range(GRID_CELLS)]

    def rows(self) -> list[list[KeypadKey | None]]:
        cells = self.grid()
        return [cells[start : start + GRID_COLUMNS] for start in range(0, GRID_CELLS, GRID_COLUMNS)]

    def digit_of(self, ref: str) -> str | None:
        for key in self.keys:
            if secrets.compare_digest(key.ref, ref):
                return key.digit
        return None

    def decode(self, refs: Sequence[str]) -> str | None:
        """The digits behind ``refs``, or None if any reference is not one of this attempt's keys
        (a page from before the last attempt, or a submission recorded in another flow)."""
        digits = []
        for ref in refs:
            digit = self.digit_of(ref)
            if digit is None:
                return None
            digits.append(digit)
        return "".join(digits)


def draw_layout(rng: secrets.SystemRandom | None = None) -> KeypadLayout:
    """A fresh layout: the ten digits shuffled onto ten of the sixteen cells, fresh references.

    ``secrets.SystemRandom`` (the operating system's generator): a layout must not be
    predictable from earlier ones, which Python's default Mersenne Twister would allow.
    """
    rng = rng or secrets.SystemRandom()
    cells = rng.sample(range(GRID_CELLS), len(DIGITS))
    refs: set[str] = set()
    while len(refs) < len(DIGITS):  # a collision of 79-bit values will not happen; a set costs nothing
        refs.add(new_ref())
    return KeypadLayout(
        keys=tuple(
            sorted(
                (
                    KeypadKey(cell=cell, digit=digit, ref=ref)
                    for cell, digit, ref in zip(cells, DIGITS, refs, strict=True)
                ),
                key=lambda key: key.cell,
            )
        )
    )


def new_ref() -> str:
    return "".join(secrets.choice(KEY_REF_ALPHABET) for _ in range(KEY_REF_LENGTH))


def split_refs(raw: str) -> list[str] | None:
    """The references of a form field ("ref.ref.ref"); None when it cannot be a sequence of ours."""
    if len(raw) > REFS_INPUT_MAX:
        return None
    refs = [part for part in raw.strip().split(REF_SEPARATOR) if part]
    if len(refs) > CODE_LENGTH or not all(KEY_REF_RE.fullmatch(ref) for ref in refs):
        return None
    return refs


# -- the rules of a good code ----------------------------------------------------------------------


class TrivialReason(StrEnum):
    """Why a chosen code is refused (each is shown to the person, in words)."""

    FORMAT = "format"  # not six digits
    REPEATED = "repeated"  # 000000, 121212, 123123: a short pattern repeated
    SEQUENCE = "sequence"  # 123456, 654321, 890123: each digit one more (or one less) than the last
    COMMON = "common"  # among the codes people choose most
    BIRTH_DATE = "birth_date"  # the birth date, written in one of the usual ways
    CUSTOMER_NUMBER = "customer_number"  # six digits of the customer number, printed on every letter


#: Among the most chosen six-digit codes in published studies of leaked PINs, besides those the
#: rules above already catch (repeats and runs).
COMMON_CODES = frozenset(
    {
        "112233",
        "123321",
        "111222",
        "102030",
        "010203",
        "147258",
        "258369",
        "147852",
        "159753",
        "789456",
        "456123",
        "520520",
        "121314",
        "001122",
        "998877",
        "100200",
        "112358",
        "314159",
    }
)
#: The ways people write a date in six digits (day, month, two- or four-digit year).
BIRTH_DATE_FORMATS = ("%d%m%y", "%m%d%y", "%y%m%d", "%y%d%m", "%m%Y", "%Y%m", "%d%Y")


def is_code(value: str) -> bool:
    return len(value) == CODE_LENGTH and value.isascii() and value.isdigit()


def _repeated(code: str) -> bool:
    return any(code == code[:period] * (CODE_LENGTH // period) for period in (1, 2, 3))


def _sequence(code: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(code)}
    return steps in ({1}, {9})  # +1 or -1 at every step, wrapping (890123, 210987)


def birth_date_codes(birth_date: date) -> frozenset[str]:
    return frozenset(birth_date.strftime(pattern) for pattern in BIRTH_DATE_FORMATS)


def trivial_code_reasons(
    code: str, *, birth_date: date | None = None, customer_number: str | None = None
) -> list[TrivialReason]:
    """Every reason ``code`` is too easy to guess; empty when it is a good code."""
    if not is_code(code):
        return [TrivialReason.FORMAT]
    checks = (
        (TrivialReason.REPEATED, _repeated(code)),
        (TrivialReason.SEQUENCE, _sequence(code)),
        (TrivialReason.COMMON, code in COMMON_CODES),
        (TrivialReason.BIRTH_DATE, birth_date is not None and code in birth_date_codes(birth_date)),
        (TrivialReason.CUSTOMER_NUMBER, bool(customer_number) and code in (customer_number or "")),
    )
    return [reason for reason, failed in checks if failed]


def draw_code(
    rng: secrets.SystemRandom | None = None, *, birth_date: date | None = None, customer_number: str | None = None
) -> str:
    """A random code that the rules accept: a one-time code sent by post is no easier to guess."""
    rng = rng or secrets.SystemRandom()
    while True:
        code = f"{rng.randrange(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        if not trivial_code_reasons(code, birth_date=birth_date, customer_number=customer_number):
            return code

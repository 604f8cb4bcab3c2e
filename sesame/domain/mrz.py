"""Machine-readable zones (ICAO Doc 9303): parse them, verify their check digits, compare them with a form.

Formats: TD1 (Part 5, 3×30: identity cards such as the French card of 2021, residence permits),
TD2 (Part 6, 2×36), TD3 (Part 4, 2×44: passports), and the French identity card of 1988-2021,
2×36 but not ICAO (its own layout and check digits, no expiry date, given names on line 2).
Everything here works on text: the OCR engine that finds the lines in an image is behind the
``MrzReader`` port. One module because it is one specification; the comparison with the form sits
at the end.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from sesame.domain.identity import IdentityData, MrzOutcome
from sesame.domain.tenants import IdentityDocumentKind

__all__ = [
    "ALPHABET",
    "FILLER",
    "CheckResult",
    "MrzComparison",
    "MrzFormat",
    "MrzFormatError",
    "MrzOutcome",
    "MrzReading",
    "ParsedMrz",
    "TypedIdentity",
    "best_reading",
    "check_digit",
    "compare_fields",
    "compare_reading",
    "find_mrz",
    "find_mrz_in",
    "mrz_lines",
    "parse_mrz",
    "transliterate",
]

FILLER = "<"
ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_WEIGHTS = (7, 3, 1)  # Doc 9303 Part 3, 4.9: weights repeat 7, 3, 1 from the left
_DIGITS = "0123456789"
# The OCR confusions tried where a digit is expected (never in alphanumeric fields), and kept only
# when the check digit then passes; names and country codes never hold digits, so there the
# reverse substitution is always safe.
_LETTER_AS_DIGIT = str.maketrans("OIBSZ", "01852")
_DIGIT_AS_LETTER = str.maketrans("01852", "OIBSZ")
_PADDING_NOISE = re.compile(f"(?<={FILLER * 3})[A-Z]{{1,2}}(?={FILLER}|$)")
#: How far an OCR'd line's length may be from its format's before it is not tried as one.
_LENGTH_SLACK = 3


class MrzFormat(StrEnum):
    TD1 = "td1"  # 3×30
    TD2 = "td2"  # 2×36
    TD3 = "td3"  # 2×44
    FRENCH_ID_1988 = "french_id_1988"  # 2×36, the French identity card issued 1988-2021

    @property
    def shape(self) -> tuple[int, int]:
        """(lines, characters per line)."""
        return {"td1": (3, 30), "td2": (2, 36), "td3": (2, 44), "french_id_1988": (2, 36)}[self.value]


class MrzFormatError(ValueError):
    """The text is not a machine-readable zone of a known format (wrong shape or characters)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check digit: ``field`` is document_number, birth_date, expiry_date, optional_data or composite."""

    field: str
    passed: bool


@dataclass(frozen=True, slots=True)
class ParsedMrz:
    """A machine-readable zone, field by field. Dates stay ``YYMMDD`` (the MRZ has no century)."""

    format: MrzFormat
    lines: tuple[str, ...]  # as parsed, OCR confusions corrected
    document_code: str  # "P", "ID", "IR", "I"... (fillers removed)
    issuing_country: str  # ICAO code as written ("FRA", "D" for Germany)
    document_number: str
    surnames: tuple[str, ...]  # primary identifier, one item per MRZ component ("DE", "LA", "TOUR")
    given_names: tuple[str, ...]
    nationality: str  # ICAO code as written; the French 1988 card implies "FRA"
    birth_date: str  # YYMMDD, "<<" where the document says unknown
    sex: str  # "F", "M", "X", "" when unspecified
    expiry_date: str | None  # YYMMDD; None on the French 1988 card, which has none in its MRZ
    optional_data: str
    checks: tuple[CheckResult, ...]
    #: The name field is full, so the names may be cut (Doc 9303 Part 3, 4.6.4).
    surname_truncated: bool = False
    given_names_truncated: bool = False
    #: Fields in which an OCR confusion was corrected (letters for digits where a check digit then passed).
    ocr_corrected: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Every check digit passed (and every date is a date)."""
        return all(check.passed for check in self.checks)

    @property
    def failed_checks(self) -> tuple[str, ...]:
        return tuple(check.field for check in self.checks if not check.passed)

    @property
    def surname(self) -> str:
        return " ".join(self.surnames)

    @property
    def document_kind(self) -> IdentityDocumentKind | None:
        """What the document code says it is (a hint: the second letter is each state's choice)."""
        code = self.document_code
        if code.startswith("P"):
            return IdentityDocumentKind.PASSPORT
        if code in ("IR", "AR", "CR", "RP", "RT"):
            return IdentityDocumentKind.RESIDENCE_PERMIT
        if code[:1] in ("I", "A", "C"):
            return IdentityDocumentKind.NATIONAL_ID_CARD
        return None

    def birth_date_on(self, today: date) -> date | None:
        """The birth date, in the latest century that does not put it after ``today``."""
        return _resolve(self.birth_date, today, future=False)

    def expiry_date_on(self, today: date) -> date | None:
        """The expiry date, in the century that puts it nearest ``today`` (None if absent or unreadable)."""
        return _resolve(self.expiry_date, today, future=True) if self.expiry_date else None


@dataclass(frozen=True, slots=True)
class MrzReading:
    """What an ``MrzReader`` saw in one image: whether its engine ran, the lines, the zone if any."""

    engine_available: bool
    lines: tuple[str, ...] = ()  # the lines that looked like an MRZ, as read
    mrz: ParsedMrz | None = None

    @classmethod
    def engine_missing(cls) -> MrzReading:
        return cls(engine_available=False)


# -- check digits ------------------------------------------------------------------------------


def check_digit(data: str) -> str:
    """The check digit of ``data`` (Doc 9303 Part 3, 4.9): digits, A=10..Z=35, '<'=0, weights 7-3-1, mod 10."""
    total = 0
    for position, char in enumerate(data):
        if char in _DIGITS:
            value = ord(char) - ord("0")
        elif "A" <= char <= "Z":
            value = ord(char) - ord("A") + 10
        elif char == FILLER:
            value = 0
        else:
            raise ValueError(f"{char!r} is not an MRZ character")
        total += value * _WEIGHTS[position % 3]
    return str(total % 10)


def _passes(data: str, check: str) -> bool:
    try:
        return check in _DIGITS and check_digit(data) == check
    except ValueError:
        return False


def _plausible_date(yymmdd: str, *, unknown_allowed: bool) -> bool:
    """Six characters making a date; an unknown day or month is "<<" (Doc 9303 Part 3, 4.6.5)."""
    if len(yymmdd) != 6 or not yymmdd[:2].isdigit():
        return False
    month, day = yymmdd[2:4], yymmdd[4:]
    if unknown_allowed and month == "<<":
        return day == "<<"
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return False
    if unknown_allowed and day == "<<":
        return True
    return day.isdigit() and 1 <= int(day) <= 31


def _resolve(yymmdd: str, today: date, *, future: bool) -> date | None:
    if not (yymmdd.isascii() and yymmdd.isdigit() and len(yymmdd) == 6):
        return None
    year, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    century = today.year // 100 * 100
    dates = []
    for candidate in (century - 100 + year, century + year, century + 100 + year):
        try:
            dates.append(date(candidate, month, day))
        except ValueError:  # 29 February of a year that has none, or no such day at all
            continue
    if future:
        return min(dates, key=lambda when: abs(when - today), default=None)
    return max((when for when in dates if when <= today), default=None)


# -- parsing -------------------------------------------------------------------------------------

_Segment = tuple[int, int, int]  # (line, start, end), 0-based, end excluded


class _Zone:
    """The lines being parsed: fields are read and checked in place, so that a correction made for
    one check digit is what the composite check then sees."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = [list(line) for line in lines]
        self.checks: list[CheckResult] = []
        self.corrected: list[str] = []

    def text(self, line: int, start: int, end: int) -> str:
        return "".join(self.lines[line][start:end])

    def letters(self, line: int, start: int, end: int, name: str) -> str:
        """An alphabetic field (names, country codes): digits there can only be misread letters."""
        raw = self.text(line, start, end)
        fixed = raw.translate(_DIGIT_AS_LETTER)
        if fixed != raw:
            self.lines[line][start:end] = list(fixed)
            self.corrected.append(name)
        return fixed

    def name_field(self, line: int, start: int, end: int) -> str:
        """A name field: letters, and past a run of three fillers (only padding can follow one:
        names are separated by one or two), no stray letter or two of OCR noise."""
        raw = self.letters(line, start, end, "names")
        fixed = raw
        while (cleaner := _PADDING_NOISE.sub(lambda match: FILLER * len(match[0]), fixed)) != fixed:
            fixed = cleaner
        if fixed != raw:
            self.lines[line][start:end] = list(fixed)
            self.corrected.append("names")
        return fixed

    def check(
        self,
        name: str,
        segments: Sequence[_Segment],
        at: tuple[int, int],
        *,
        numeric: Collection[tuple[int, int]] = (),
        date_field: bool = False,
        empty_ok: bool = False,
    ) -> bool:
        """Verify ``segments`` against the check digit ``at``; ``numeric`` positions may be corrected."""
        positions = [(line, i) for line, start, end in segments for i in range(start, end)]
        value = "".join(self.lines[line][i] for line, i in positions)
        check = self.lines[at[0]][at[1]]
        passed = _passes(value, check) or (empty_ok and set(value + check) == {FILLER})
        misread = any(self.lines[line][i] in "OIBSZ" for line, i in positions if (line, i) in numeric)
        if not passed or misread:
            fixed = "".join(
                char.translate(_LETTER_AS_DIGIT) if (line, i) in numeric else char
                for (line, i), char in zip(positions, value, strict=True)
            )
            fixed_check = check.translate(_LETTER_AS_DIGIT)
            if (fixed, fixed_check) != (value, check) and _passes(fixed, fixed_check):
                for (line, i), char in zip(positions, fixed, strict=True):
                    self.lines[line][i] = char
                self.lines[at[0]][at[1]] = fixed_check
                self.corrected.append(name)
                value, passed = fixed, True
            elif misread:  # a letter where a digit must be, and no reading of it passes
                passed = False
        if date_field and not _plausible_date(value, unknown_allowed=name == "birth_date"):
            passed = False
        self.checks.append(CheckResult(name, passed))
        return passed

    def result_lines(self) -> tuple[str, ...]:
        return tuple("".join(line) for line in self.lines)


def _all(segment: _Segment) -> set[tuple[int, int]]:
    line, start, end = segment
    return {(line, i) for i in range(start, end)}


def _parts(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(FILLER) if part)


def _names(field: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """Primary and secondary identifiers of an ICAO name field, and whether it may be truncated."""
    primary, _, secondary = field.rstrip(FILLER).partition(FILLER * 2)
    return _parts(primary), _parts(secondary), not field.endswith(FILLER)


def _sex(char: str) -> str:
    return "" if char == FILLER else char


def _document_number(zone: _Zone, number: _Segment, at: tuple[int, int], optional: _Segment) -> str:
    """The document number; past nine characters it goes on in the optional data (Part 5, 4.2.2.1 note j)."""
    line, start, end = optional
    extension = zone.text(line, start, end)
    filler_at = extension.find(FILLER)
    if zone.text(at[0], at[1], at[1] + 1) == FILLER and zone.text(*number)[-1] != FILLER and filler_at >= 2:
        extra: _Segment = (line, start, start + filler_at - 1)
        zone.check("document_number", [number, extra], (line, start + filler_at - 1))
        return zone.text(*number) + zone.text(*extra)
    zone.check("document_number", [number], at)
    return zone.text(*number).replace(FILLER, "")


def _result(zone: _Zone, fmt: MrzFormat, **fields: Any) -> ParsedMrz:
    return ParsedMrz(
        format=fmt,
        lines=zone.result_lines(),
        document_code=zone.text(0, 0, 2).replace(FILLER, ""),
        checks=tuple(zone.checks),
        ocr_corrected=tuple(dict.fromkeys(zone.corrected)),
        **fields,
    )


def _parse_td1(zone: _Zone) -> ParsedMrz:
    # Alphabetic fields first: their corrections are what the composite check digit covers.
    issuer = zone.letters(0, 2, 5, "issuing_country").replace(FILLER, "")
    nationality = zone.letters(1, 15, 18, "nationality").replace(FILLER, "")
    surnames, given, truncated = _names(zone.name_field(2, 0, 30))
    number = _document_number(zone, (0, 5, 14), (0, 14), (0, 15, 30))
    zone.check("birth_date", [(1, 0, 6)], (1, 6), numeric=_all((1, 0, 6)), date_field=True)
    zone.check("expiry_date", [(1, 8, 14)], (1, 14), numeric=_all((1, 8, 14)), date_field=True)
    zone.check("composite", [(0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)], (1, 29))
    return _result(
        zone,
        MrzFormat.TD1,
        issuing_country=issuer,
        document_number=number,
        surnames=surnames,
        given_names=given,
        nationality=nationality,
        birth_date=zone.text(1, 0, 6),
        sex=_sex(zone.text(1, 7, 8)),
        expiry_date=zone.text(1, 8, 14),
        optional_data=(zone.text(0, 15, 30) + zone.text(1, 18, 29)).strip(FILLER),
        surname_truncated=truncated,
        given_names_truncated=truncated,
    )


def _parse_td2_td3(zone: _Zone, fmt: MrzFormat) -> ParsedMrz:
    width = fmt.shape[1]
    optional_end = width - 2 if fmt is MrzFormat.TD3 else width - 1
    issuer = zone.letters(0, 2, 5, "issuing_country").replace(FILLER, "")
    nationality = zone.letters(1, 10, 13, "nationality").replace(FILLER, "")
    surnames, given, truncated = _names(zone.name_field(0, 5, width))
    if fmt is MrzFormat.TD2:
        number = _document_number(zone, (1, 0, 9), (1, 9), (1, 28, optional_end))
    else:  # a passport number has at most nine characters (Part 4, 4.2.2.2)
        zone.check("document_number", [(1, 0, 9)], (1, 9))
        number = zone.text(1, 0, 9).replace(FILLER, "")
    zone.check("birth_date", [(1, 13, 19)], (1, 19), numeric=_all((1, 13, 19)), date_field=True)
    zone.check("expiry_date", [(1, 21, 27)], (1, 27), numeric=_all((1, 21, 27)), date_field=True)
    if fmt is MrzFormat.TD3:
        zone.check("optional_data", [(1, 28, 42)], (1, 42), empty_ok=True)
    zone.check("composite", [(1, 0, 10), (1, 13, 20), (1, 21, width - 1)], (1, width - 1))
    return _result(
        zone,
        fmt,
        issuing_country=issuer,
        document_number=number,
        surnames=surnames,
        given_names=given,
        nationality=nationality,
        birth_date=zone.text(1, 13, 19),
        sex=_sex(zone.text(1, 20, 21)),
        expiry_date=zone.text(1, 21, 27),
        optional_data=zone.text(1, 28, optional_end).strip(FILLER),
        surname_truncated=truncated,
        given_names_truncated=truncated,
    )


def _parse_french_1988(zone: _Zone) -> ParsedMrz:
    """Line 1: IDFRA, surname (25), department and office of issue (6). Line 2: card number (12:
    year and month of issue, department, sequence), its check digit, given names (14, separated by
    "<<"), birth date and check digit, sex, and a check digit over both lines."""
    surname_field = zone.name_field(0, 5, 30)
    given_field = zone.name_field(1, 13, 27)
    number_digits = {(1, i) for i in (0, 1, 2, 3, 7, 8, 9, 10, 11)}  # the department may be "2A"
    zone.check("document_number", [(1, 0, 12)], (1, 12), numeric=number_digits)
    zone.check("birth_date", [(1, 27, 33)], (1, 33), numeric=_all((1, 27, 33)), date_field=True)
    zone.check("composite", [(0, 0, 36), (1, 0, 35)], (1, 35))
    return _result(
        zone,
        MrzFormat.FRENCH_ID_1988,
        issuing_country="FRA",
        document_number=zone.text(1, 0, 12).replace(FILLER, ""),
        surnames=_parts(surname_field),
        given_names=_parts(given_field),
        nationality="FRA",  # only French citizens hold this card
        birth_date=zone.text(1, 27, 33),
        sex=_sex(zone.text(1, 34, 35)),
        expiry_date=None,
        optional_data=zone.text(0, 30, 36).strip(FILLER),
        surname_truncated=not surname_field.endswith(FILLER),
        # This card lists as many given names as fit in 14 characters: always possibly partial.
        given_names_truncated=True,
    )


def _score(parsed: ParsedMrz) -> tuple[bool, int]:
    return parsed.valid, sum(check.passed for check in parsed.checks)


def parse_mrz(lines: Sequence[str], fmt: MrzFormat | None = None) -> ParsedMrz:
    """Parse clean MRZ lines (A-Z, 0-9, '<'); the format follows from their shape unless given.

    Check digits that fail do not raise: they are in ``checks`` (``valid`` is False). Raises
    ``MrzFormatError`` when the lines cannot be a zone of that format at all.
    """
    lines = [line.strip() for line in lines]
    shape = (len(lines), len(lines[0]) if lines else 0)
    if any(len(line) != shape[1] for line in lines):
        raise MrzFormatError("lines of different lengths")
    if any(set(line) - ALPHABET for line in lines):
        raise MrzFormatError("characters outside the MRZ alphabet")
    if fmt is None:
        formats = [f for f in MrzFormat if f.shape == shape]
        if not formats:
            raise MrzFormatError(f"no MRZ format has {shape[0]} lines of {shape[1]} characters")
        if lines[0].startswith("IDFRA") and MrzFormat.FRENCH_ID_1988 in formats:
            # The old French card shares TD2's shape: take the reading whose check digits agree.
            french = parse_mrz(lines, MrzFormat.FRENCH_ID_1988)
            if french.valid:
                return french
            try:
                td2 = parse_mrz(lines, MrzFormat.TD2)
            except MrzFormatError:
                return french
            return td2 if _score(td2) > _score(french) else french
        fmt = formats[0] if formats[0] is not MrzFormat.FRENCH_ID_1988 else MrzFormat.TD2
    if shape != fmt.shape:
        raise MrzFormatError(f"a {fmt.value} zone has {fmt.shape[0]} lines of {fmt.shape[1]} characters")
    first = lines[0]
    if fmt is MrzFormat.TD3 and not first.startswith("P"):
        raise MrzFormatError("a TD3 zone starts with P")
    if fmt in (MrzFormat.TD1, MrzFormat.TD2) and first[:1] not in ("I", "A", "C"):
        raise MrzFormatError("a TD1 or TD2 zone starts with I, A or C")
    if fmt is MrzFormat.FRENCH_ID_1988 and not first.startswith("IDFRA"):
        raise MrzFormatError("a French 1988 card's zone starts with IDFRA")
    zone = _Zone(lines)
    if fmt is MrzFormat.TD1:
        return _parse_td1(zone)
    if fmt is MrzFormat.FRENCH_ID_1988:
        return _parse_french_1988(zone)
    return _parse_td2_td3(zone, fmt)


# -- finding the zone in OCR text -------------------------------------------------------------------

_OCR_FILLERS = str.maketrans({"«": "<<", "‹": "<", "≤": "<", "(": "<", "{": "<", "[": "<"})


def _clean(raw: str) -> str:
    line = "".join(raw.upper().translate(_OCR_FILLERS).split())
    return "".join(char for char in line if char in ALPHABET)


def _looks_like_mrz(line: str) -> bool:
    return len(line) >= 30 - _LENGTH_SLACK and FILLER in line


def mrz_lines(text: str) -> list[str]:
    """The lines of OCR text that may belong to an MRZ, cleaned (upper case, no blanks, MRZ alphabet)."""
    return [line for line in map(_clean, text.splitlines()) if _looks_like_mrz(line)]


def _fit(line: str, width: int) -> str:
    """Give an OCR'd line its format's length: OCR drops or doubles fillers, mostly in long runs."""
    missing = width - len(line)
    if missing == 0:
        return line
    runs = [match.span() for match in re.finditer(f"{FILLER}+", line)]
    if not runs:
        return (line + FILLER * missing)[:width]
    start, end = max(runs, key=lambda span: span[1] - span[0])
    if missing > 0:
        return line[:end] + FILLER * missing + line[end:]
    cut = min(-missing, end - start)
    line = line[: end - cut] + line[end:]
    return line[:width]


def _near(line: str, width: int) -> bool:
    return abs(len(line) - width) <= _LENGTH_SLACK


def find_mrz(text: str) -> ParsedMrz | None:
    """The machine-readable zone in OCR text (one reading per line); see :func:`find_mrz_in`."""
    return find_mrz_in([[line] for line in text.splitlines()])


def find_mrz_in(lines: Sequence[Sequence[str]]) -> ParsedMrz | None:
    """The machine-readable zone among OCR'd lines, each given as its alternative readings (an OCR
    adapter may offer, say, its engine's text and a re-reading): the run of lines and choice of
    readings that parses best (every check digit passing first, the first reading on a tie), or
    None when no run of lines has an MRZ's shape."""
    readings = [[line for line in map(_clean, alternatives) if _looks_like_mrz(line)] for alternatives in lines]
    readings = [alternatives for alternatives in readings if alternatives]
    best: ParsedMrz | None = None
    for count, width in sorted({fmt.shape for fmt in MrzFormat}):
        for first in range(len(readings) - count + 1):
            choices = [
                list(dict.fromkeys(_fit(line, width) for line in alternatives if _near(line, width)))
                for alternatives in readings[first : first + count]
            ]
            for window in itertools.product(*choices):
                try:
                    parsed = parse_mrz(window)
                except MrzFormatError:
                    continue
                if best is None or _score(parsed) > _score(best):
                    best = parsed
    return best


def best_reading(readings: Iterable[MrzReading]) -> MrzReading:
    """Of several images' readings (recto, verso), the one to judge the document by."""

    def rank(reading: MrzReading) -> tuple[bool, bool, bool, int]:
        mrz = reading.mrz
        return (reading.engine_available, mrz is not None, *(_score(mrz) if mrz else (False, 0)))

    return max(readings, key=rank, default=MrzReading.engine_missing())


# -- comparison with the form -----------------------------------------------------------------------

# Doc 9303 Part 3, 6 (transliteration of Latin characters): the recommended forms first.
_ALWAYS = str.maketrans({"Æ": "AE", "Œ": "OE", "ẞ": "SS", "Þ": "TH", "Ð": "D", "Đ": "D", "Ł": "L", "Ħ": "H"})
_ICAO_UMLAUTS = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "Å": "AA", "Ø": "OE"})
_PLAIN_UMLAUTS = str.maketrans({"Ø": "O"})  # Ä, Ö, Ü, Å lose their marks like any accent
_APOSTROPHES = re.compile("['’ʼ`´]")
_NOT_LETTERS = re.compile("[^A-Z]+")
#: ICAO codes that are not ISO 3166-1 alpha-3 (Doc 9303 Part 3, 5), as the ISO code a form holds.
_ICAO_TO_ISO = {"D": "DEU", "GBD": "GBR", "GBN": "GBR", "GBO": "GBR", "GBP": "GBR", "GBS": "GBR", "RKS": "XKX"}


def _name_variants(typed: str) -> set[tuple[str, ...]]:
    """The MRZ components a typed name may have become: umlauts as AE/OE/UE or as plain vowels,
    apostrophes dropped or turned into fillers; accents dropped, every other separator a filler."""
    upper = unicodedata.normalize("NFC", typed).upper()
    variants = set()
    for umlauts in (_ICAO_UMLAUTS, _PLAIN_UMLAUTS):
        text = unicodedata.normalize("NFKD", upper.translate(umlauts).translate(_ALWAYS))
        text = "".join(char for char in text if not unicodedata.combining(char))
        for apostrophe in ("", " "):
            variants.add(tuple(part for part in _NOT_LETTERS.split(_APOSTROPHES.sub(apostrophe, text)) if part))
    return variants


def transliterate(name: str) -> str:
    """A name as an MRZ writes it (ICAO recommended forms): "Maëlys-Gaëlle" -> "MAELYS<GAELLE"."""
    upper = unicodedata.normalize("NFC", name).upper()
    text = unicodedata.normalize("NFKD", upper.translate(_ICAO_UMLAUTS).translate(_ALWAYS))
    text = _APOSTROPHES.sub("", "".join(char for char in text if not unicodedata.combining(char)))
    return FILLER.join(part for part in _NOT_LETTERS.split(text) if part)


def _components_match(document: tuple[str, ...], typed: tuple[str, ...], truncated: bool) -> bool:
    if "".join(document) == "".join(typed):  # spaces and apostrophes may come and go
        return True
    if not truncated:
        return False
    if "".join(typed).startswith("".join(document)):
        return True
    # Doc 9303 truncation may shorten each component, down to an initial.
    return len(document) <= len(typed) and all(t.startswith(d) for d, t in zip(document, typed, strict=False))


def _name_matches(document: tuple[str, ...], typed: str, truncated: bool) -> bool:
    return any(_components_match(document, variant, truncated) for variant in _name_variants(typed))


def _date_matches(yymmdd: str, typed: date) -> bool:
    expected = typed.strftime("%y%m%d")
    return len(yymmdd) == 6 and all(a in (b, FILLER) for a, b in zip(yymmdd, expected, strict=True))


def _normalized_number(typed: str) -> str:
    return re.sub(r"[\s.\-/]", "", typed.upper())


@dataclass(frozen=True, slots=True)
class TypedIdentity:
    """What the person typed in the identity form, in the names the comparison reports."""

    document_number: str
    family_name: str  # the birth name
    given_names: str  # all of them, separated by spaces, commas or hyphens
    birth_date: date
    sex: str  # "F" or "M"
    nationality: str  # ISO 3166-1 alpha-3
    expiry_date: date | None = None

    @classmethod
    def from_form(cls, data: IdentityData) -> TypedIdentity:
        return cls(
            document_number=data.document_number,
            family_name=data.birth_name,
            given_names=data.given_names,
            birth_date=data.birth_date,
            sex=data.civility.value,
            nationality=data.nationality,
            expiry_date=data.document_expiry,
        )


def compare_fields(mrz: ParsedMrz, typed: TypedIdentity) -> tuple[str, ...]:
    """The names of the form's fields that disagree with the zone (empty: everything agrees).

    Fields the zone does not state are not compared: expiry on the French 1988 card, sex when the
    document leaves it unspecified ('<' or X).
    """
    nationality = _ICAO_TO_ISO.get(mrz.nationality, mrz.nationality)
    checks = (
        # document_number: as printed, blanks and dashes ignored
        ("document_number", _normalized_number(typed.document_number) == mrz.document_number),
        # family_name: the MRZ's primary identifier, transliterated, perhaps truncated
        ("family_name", _name_matches(mrz.surnames, typed.family_name, mrz.surname_truncated)),
        # given_names: every given name the MRZ lists, in order
        ("given_names", _name_matches(mrz.given_names, typed.given_names, mrz.given_names_truncated)),
        # birth_date: the same day (an unknown day or month on the document matches any)
        ("birth_date", _date_matches(mrz.birth_date, typed.birth_date)),
        # expiry_date: the same day, when both say one
        (
            "expiry_date",
            mrz.expiry_date is None or typed.expiry_date is None or _date_matches(mrz.expiry_date, typed.expiry_date),
        ),
        # sex: F or M as on the document; an unreadable letter is a mismatch for the agent to see
        ("sex", mrz.sex in ("", "X") or mrz.sex == typed.sex.strip().upper()),
        # nationality: ISO alpha-3 (Germany's D and the British variants mapped)
        ("nationality", nationality == typed.nationality.strip().upper()),
    )
    return tuple(name for name, agrees in checks if not agrees)


@dataclass(frozen=True, slots=True)
class MrzComparison:
    """The MRZ check's result, as the agent sees it and the case keeps it."""

    outcome: MrzOutcome
    mismatches: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    mrz: ParsedMrz | None = field(default=None, repr=False)

    def detail(self) -> dict[str, Any]:
        """JSON for ``ProofingCase.record_mrz``: what was compared and what disagreed. Of the
        document's own values it keeps only those of the mismatching fields (what the agent needs)."""
        detail: dict[str, Any] = {"mismatches": list(self.mismatches), "failed_checks": list(self.failed_checks)}
        mrz = self.mrz
        if mrz is not None:
            kind = mrz.document_kind
            detail |= {
                "format": mrz.format.value,
                "document_code": mrz.document_code,
                "document_kind": kind.value if kind else None,
                "issuing_country": mrz.issuing_country,
                "ocr_corrected": list(mrz.ocr_corrected),
                "document_values": {name: _document_value(mrz, name) for name in self.mismatches},
            }
        return detail


def _document_value(mrz: ParsedMrz, name: str) -> str:
    values = {
        "document_number": mrz.document_number,
        "family_name": mrz.surname,
        "given_names": " ".join(mrz.given_names),
        "birth_date": mrz.birth_date,
        "expiry_date": mrz.expiry_date or "",
        "sex": mrz.sex,
        "nationality": mrz.nationality,
    }
    return values[name]


def compare_reading(reading: MrzReading, typed: TypedIdentity) -> MrzComparison:
    """The outcome for the agent: NOT_CHECKED without an OCR engine (never a pass), UNREADABLE
    without a zone whose check digits all pass, else MATCH or MISMATCH with the fields."""
    if not reading.engine_available:
        return MrzComparison(MrzOutcome.NOT_CHECKED)
    mrz = reading.mrz
    if mrz is None:
        return MrzComparison(MrzOutcome.UNREADABLE)
    if not mrz.valid:
        return MrzComparison(MrzOutcome.UNREADABLE, failed_checks=mrz.failed_checks, mrz=mrz)
    mismatches = compare_fields(mrz, typed)
    outcome = MrzOutcome.MISMATCH if mismatches else MrzOutcome.MATCH
    return MrzComparison(outcome, mismatches=mismatches, mrz=mrz)

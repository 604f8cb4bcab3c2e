"""The wizard's forms, read: the identity form (seed 001 step 4) and the home address.

Every field is checked and every problem reported at once (field -> reason code, which the page
turns into a sentence). Places are INSEE codes from the shipped referential: a field takes the
code itself, the label the search list offers ("Brest (29)"), or a name that names one place
only (without JavaScript the person types it); a name several towns share asks to choose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Protocol

from babel.core import Locale, UnknownLocaleError, get_global

from sesame.domain.addresses import AddressRejected, validate_address
from sesame.domain.identity import FRANCE_COG, Civility, IdentityData, PostalAddress, normalise_name
from sesame.domain.referentials import Country, Town, fold

NAME_MAX = 100
DOCUMENT_NUMBER_MAX = 20
#: Letters of any alphabet, spaces, hyphens and apostrophes: what names on documents hold.
_NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '’\-][^\W\d_]+)*$")
_DOCUMENT_RE = re.compile(r"^[A-Z0-9]{4,20}$")
_LABEL_RE = re.compile(r"^(?P<name>.+?)\s*\((?P<department>[0-9AB]{2,3})\)$")
_TOWN_CODE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_COUNTRY_CODE_RE = re.compile(r"^99\d{3}$")
_ISO3_RE = re.compile(r"^[A-Z]{3}$")
#: ISO 3166-1 alpha-3 codes that Babel still maps but that no longer name a state.
_RETIRED_ALPHA3 = frozenset({"BUR", "ZAR", "DDR", "FXX", "TMP", "YMD"})
#: CLDR regions that are not states one is a national of (unions, pseudo-locales, unknown, Antarctica).
_NOT_NATIONALITIES = frozenset({"EA", "EU", "EZ", "IC", "QO", "UN", "XA", "XB", "ZZ", "AQ", "BV", "HM", "TF", "UM"})
#: Kosovo has no ISO code: ``XKX`` is what the European Union and the MRZ comparison use.
_ALPHA3_OVERRIDES = {"XK": "XKX"}
EARLIEST_BIRTH = date(1900, 1, 1)
EARLIEST_EXPIRY = date(1990, 1, 1)
#: How many towns an ambiguous name lists to choose from.
CHOICES_MAX = 12


class Places(Protocol):
    """What the forms need of the referential (``sesame.adapters.referentials`` has it)."""

    def search_towns(self, query: str, limit: int = 10) -> Sequence[Town]: ...

    def town(self, code: str) -> Town | None: ...

    def towns_for_postcode(self, postcode: str) -> Sequence[Town]: ...

    def search_countries(self, query: str, limit: int = 10) -> Sequence[Country]: ...

    def country(self, code: str) -> Country | None: ...

    def countries(self) -> Sequence[Country]: ...


@dataclass(slots=True)
class FormProblems:
    """Field -> reason code, and for an ambiguous town the INSEE codes to choose from."""

    errors: dict[str, str] = field(default_factory=dict)
    town_choices: list[str] = field(default_factory=list)

    def as_errors(self) -> dict[str, str]:
        errors = dict(self.errors)
        if self.town_choices:
            errors["birth_town_choices"] = ",".join(self.town_choices)
        return errors


class FormRejected(ValueError):
    def __init__(self, problems: FormProblems) -> None:
        super().__init__(", ".join(f"{k}={v}" for k, v in problems.errors.items()))
        self.problems = problems


# -- dates and names -----------------------------------------------------------------------------


def parse_date(raw: str) -> date | None:
    """``2026-03-02`` (a date input) or ``02/03/2026`` (typed the French way); None otherwise."""
    raw = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return date.fromisoformat(raw)
        match = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})", raw)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        return None
    return None


def _name(data: Mapping[str, str], key: str, problems: FormProblems, *, required: bool = True) -> str:
    value = normalise_name(data.get(key, ""))
    if not value:
        if required:
            problems.errors[key] = "required"
    elif len(value) > NAME_MAX:
        problems.errors[key] = "too_long"
    elif not _NAME_RE.fullmatch(value):
        problems.errors[key] = "characters"
    return value


def _date(data: Mapping[str, str], key: str, problems: FormProblems, earliest: date, latest: date) -> date | None:
    raw = data.get(key, "").strip()
    if not raw:
        problems.errors[key] = "required"
        return None
    value = parse_date(raw)
    if value is None:
        problems.errors[key] = "invalid_date"
    elif value < earliest or value > latest:
        problems.errors[key] = "out_of_range"
        return None
    return value


# -- places --------------------------------------------------------------------------------------


@cache
def _alpha3_by_alpha2() -> dict[str, str]:
    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    table: dict[str, str] = {}
    for code, targets in aliases.items():
        if len(code) == 3 and code.isalpha() and len(targets) == 1 and code not in _RETIRED_ALPHA3:
            table.setdefault(targets[0], code)
    return table


@cache
def _nationalities() -> dict[str, str]:
    """ISO alpha-2 -> alpha-3 of the countries one may be a national of (CLDR's territories)."""
    table = _alpha3_by_alpha2()
    return {
        code: _ALPHA3_OVERRIDES.get(code, table[code])
        for code in map(str, Locale.parse("en").territories)
        if len(code) == 2 and code.isalpha() and code in table and code not in _NOT_NATIONALITIES
    }


def alpha3(country: Country) -> str | None:
    """The ISO 3166-1 alpha-3 code of a COG country (what an MRZ writes), when it has one."""
    return _nationalities().get(country.iso2) if country.iso2 else None


def resolve_country(raw: str, places: Places) -> Country | None:
    """A COG code (``99100``), or a country's name in any case and accents ("france")."""
    raw = " ".join(raw.split())
    if not raw or len(raw) > NAME_MAX:
        return None
    if _COUNTRY_CODE_RE.fullmatch(raw):
        return places.country(raw)
    wanted = fold(raw)
    for country in places.search_countries(raw, limit=10):
        if wanted in (fold(country.name), *(fold(other) for other in country.other_names)):
            return country
    return None


def resolve_nationality(raw: str, places: Places) -> str | None:
    """ISO alpha-3, from the code itself ("FRA") or a country as :func:`resolve_country` reads it."""
    text = " ".join(raw.split())
    if _ISO3_RE.fullmatch(text.upper()):
        return text.upper() if text.upper() in _nationalities().values() else None
    country = resolve_country(text, places)
    return alpha3(country) if country is not None else None


def resolve_town(raw: str, places: Places) -> tuple[Town | None, list[Town]]:
    """(the town, []) or (None, the towns the name may mean: several to choose, or none)."""
    text = " ".join(raw.split())
    if not text or len(text) > NAME_MAX:
        return None, []
    if _TOWN_CODE_RE.fullmatch(text.upper()):
        return places.town(text.upper()), []
    label = _LABEL_RE.fullmatch(text)
    name, department = (label["name"], label["department"]) if label else (text, None)
    wanted = fold(name)
    found = [
        town
        for town in places.search_towns(name, limit=50)
        if fold(town.name) == wanted and (department is None or town.department == department)
    ]
    by_code: dict[str, Town] = {}
    for town in found:  # the referential lists each code's current name first
        by_code.setdefault(town.code, town)
    unique = list(by_code.values())
    if len(unique) == 1:
        return unique[0], []
    return None, unique[:CHOICES_MAX]


# -- the forms -------------------------------------------------------------------------------------


def parse_identity(data: Mapping[str, str], places: Places, today: date) -> IdentityData:
    """The identity form as :class:`IdentityData`; ``FormRejected`` lists every problem."""
    problems = FormProblems()
    civility = None
    try:
        civility = Civility(data.get("civility", ""))
    except ValueError:
        problems.errors["civility"] = "required"
    given_names = _name(data, "given_names", problems)
    birth_name = _name(data, "birth_name", problems)
    usage_name = _name(data, "usage_name", problems, required=False) or birth_name
    birth_date = _date(data, "birth_date", problems, EARLIEST_BIRTH, today)
    expiry = _date(data, "document_expiry", problems, EARLIEST_EXPIRY, date(today.year + 20, 12, 31))
    number = "".join(data.get("document_number", "").upper().split())
    if not number:
        problems.errors["document_number"] = "required"
    elif not _DOCUMENT_RE.fullmatch(number):
        problems.errors["document_number"] = "invalid"
    country = resolve_country(data.get("birth_country", ""), places)
    if country is None:
        problems.errors["birth_country"] = "required" if not data.get("birth_country", "").strip() else "unknown"
    town_code: str | None = None
    if country is not None and country.code == FRANCE_COG:
        raw_town = data.get("birth_town", "")
        town, choices = resolve_town(raw_town, places)
        if town is not None:
            town_code = town.code
        elif not raw_town.strip():
            problems.errors["birth_town"] = "required"
        elif choices:
            problems.errors["birth_town"] = "ambiguous"
            problems.town_choices = [choice.code for choice in choices]
        else:
            problems.errors["birth_town"] = "unknown"
    nationality = resolve_nationality(data.get("nationality", ""), places)
    if nationality is None:
        problems.errors["nationality"] = "required" if not data.get("nationality", "").strip() else "unknown"
    if problems.errors or civility is None or birth_date is None or country is None or nationality is None:
        raise FormRejected(problems)
    return IdentityData(
        civility=civility,
        given_names=given_names,
        birth_name=birth_name,
        usage_name=usage_name,
        birth_date=birth_date,
        birth_country=country.code,
        birth_town=town_code,
        document_number=number,
        document_expiry=expiry,
        nationality=nationality,
    )


def parse_address(data: Mapping[str, str], places: Places) -> PostalAddress:
    """The home address (``sesame.domain.addresses``); ``FormRejected`` lists every problem."""
    try:
        return validate_address(
            data.get("line1", ""), data.get("line2", ""), data.get("postcode", ""), data.get("town", ""), places
        )
    except AddressRejected as error:
        raise FormRejected(FormProblems(errors=dict(error.errors))) from None


def identity_values(identity: IdentityData, places: Places) -> dict[str, str]:
    """The form's fields filled from stored data ("Modify" shows what was typed)."""
    country = places.country(identity.birth_country)
    town = places.town(identity.birth_town) if identity.birth_town else None
    return {
        "civility": identity.civility.value,
        "given_names": identity.given_names,
        "birth_name": identity.birth_name,
        "usage_name": identity.usage_name,
        "birth_date": identity.birth_date.isoformat(),
        "birth_country": country.name if country else identity.birth_country,
        "birth_town": town.label if town else "",
        "document_number": identity.document_number,
        "document_expiry": identity.document_expiry.isoformat() if identity.document_expiry else "",
        "nationality": identity.nationality,
    }


def nationality_choices(locale: str) -> list[tuple[str, str]]:
    """(ISO alpha-3, name in ``locale``) of the nationalities, France first, then by name."""
    try:
        names: Mapping[str, str] = Locale.parse(locale).territories
    except (ValueError, UnknownLocaleError):
        names = Locale.parse("fr").territories
    choices = sorted(
        ((code3, names.get(code2, code2)) for code2, code3 in _nationalities().items() if code2 != "FR"),
        key=lambda choice: fold(choice[1]),
    )
    return [("FRA", names.get("FR", "France")), *choices]

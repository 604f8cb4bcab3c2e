"""French home addresses: checked against the INSEE/La Poste referential, then normalised.

The identity enrolment asks for a home address in France (seed 001): two street lines, a
postcode and a town. The postcode must serve the town: "75011 Paris" is right, "75011 Lyon"
is not. The town may be typed in any case, with or without accents or hyphens, "St" for
"Saint"; in Paris, Lyon and Marseille the district may be named ("Paris 11e", "Lyon 3e
arrondissement"); a delegated commune's name ("Arbignieu", now part of Arboys en Bugey) is
accepted and the address is then filed under the commune of today, as La Poste wants.

Decisions:
- CEDEX is refused: it is a delivery service for businesses and administrations, never a home
  address (``address_cedex``).
- Each line holds at most 38 characters, the postal standard's line length (AFNOR NF Z10-011),
  so the letters the enrolment sends (activation code, registered letter) print as typed.

The referential is a parameter (anything with ``towns_for_postcode``): the domain stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sesame.domain.errors import InvalidInput
from sesame.domain.identity import PostalAddress
from sesame.domain.referentials import Town, TownKind, fold

#: AFNOR NF Z10-011: 38 characters per line of a postal address.
ADDRESS_LINE_MAX_CHARS = 38
#: Letters of any script, digits, spaces and the punctuation addresses use.
_ALLOWED = re.compile(r"^[^\W_]*(?:[\s'’\-,./()°&#][^\W_]*)*$")
_CEDEX = re.compile(r"\bcedex\b")
_DISTRICT_NUMBER = re.compile(r"^(\d{1,2})(?:er|e|eme|re)?$")


class TownsByPostcode(Protocol):
    """What the check needs of the referential (``sesame.ports.Referentials`` has it)."""

    def towns_for_postcode(self, postcode: str) -> Sequence[Town]: ...


class AddressRejected(InvalidInput):
    """The address is refused; ``errors`` maps each wrong field to a reason code."""

    code = "address_rejected"

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("address rejected: " + ", ".join(f"{k}={v}" for k, v in errors.items()), errors=dict(errors))
        self.errors = dict(errors)


@dataclass(frozen=True, slots=True)
class _Match:
    commune: Town
    #: The district or delegated commune the person named, if any.
    named: Town | None


def validate_address(line1: str, line2: str | None, postcode: str, town: str, towns: TownsByPostcode) -> PostalAddress:
    """The normalised address, or ``AddressRejected`` listing every field that is wrong.

    Reason codes: ``line1`` -> ``address_line_missing``; ``line1``/``line2`` ->
    ``address_line_too_long``, ``address_line_characters``; ``postcode`` ->
    ``address_postcode_missing``, ``address_postcode_format``, ``address_postcode_unknown``,
    ``address_cedex``; ``town`` -> ``address_town_missing``, ``address_town_mismatch``,
    ``address_cedex``, ``address_line_characters``.
    """
    errors: dict[str, str] = {}
    first = _clean(line1)
    second = _clean(line2 or "")
    code = re.sub(r"\s+", "", postcode or "")
    place = _clean(town)

    for field, value in (("line1", first), ("line2", second)):
        if field == "line1" and not value:
            errors[field] = "address_line_missing"
        elif len(value) > ADDRESS_LINE_MAX_CHARS:
            errors[field] = "address_line_too_long"
        elif not _ALLOWED.match(value):
            errors[field] = "address_line_characters"

    if _CEDEX.search(fold(postcode or "")) or _CEDEX.search(fold(place)):
        errors["town" if _CEDEX.search(fold(place)) else "postcode"] = "address_cedex"
    elif not code:
        errors["postcode"] = "address_postcode_missing"
    elif not (len(code) == 5 and code.isdigit()):
        errors["postcode"] = "address_postcode_format"
    candidates = towns.towns_for_postcode(code) if "postcode" not in errors and "town" not in errors else []
    if "postcode" not in errors and "town" not in errors and not candidates:
        errors["postcode"] = "address_postcode_unknown"

    match = None
    if not place:
        errors.setdefault("town", "address_town_missing")
    elif len(place) > ADDRESS_LINE_MAX_CHARS or not _ALLOWED.match(place):
        errors.setdefault("town", "address_line_characters")
    elif candidates:
        match = _match_town(place, candidates)
        if match is None:
            errors["town"] = "address_town_mismatch"

    if errors or match is None:
        raise AddressRejected(errors or {"town": "address_town_mismatch"})
    named = match.named
    if named is not None and named.kind in (TownKind.DELEGATED, TownKind.ASSOCIATED) and not second:
        second = named.name  # La Poste: the former commune on the line above the postcode
    return PostalAddress(
        line1=first,
        line2=second,
        postcode=code,
        town=match.commune.name,
        town_code=named.code if named is not None and named.kind is TownKind.DISTRICT else match.commune.code,
    )


def _clean(value: str) -> str:
    return " ".join((value or "").split())


def _town_key(name: str) -> str:
    """Folded, "arrondissement" dropped, "11e"/"11eme"/"01" as "11": how district names compare."""
    words = [w for w in fold(name).split() if w != "arrondissement"]
    out = []
    for word in words:
        number = _DISTRICT_NUMBER.match(word)
        out.append(str(int(number.group(1))) if number else word)
    return " ".join(out)


def _match_town(place: str, candidates: Sequence[Town]) -> _Match | None:
    """Which commune served by the postcode the person named: directly ("Paris"), by one of its
    districts ("Paris 11e") or by one of its delegated or associated communes ("Arbignieu")."""
    typed = _town_key(place)
    communes = {town.code: town for town in candidates if town.kind is TownKind.COMMUNE}
    for town in candidates:
        if _town_key(town.name) != typed:
            continue
        if town.kind is TownKind.COMMUNE:
            # "Paris" with 75011: the district the postcode serves is known
            districts = [t for t in candidates if t.kind is TownKind.DISTRICT and t.parent_code == town.code]
            return _Match(town, districts[0] if len(districts) == 1 else None)
        parent = communes.get(town.parent_code or "")
        if parent is not None:
            return _Match(parent, town)
    return None

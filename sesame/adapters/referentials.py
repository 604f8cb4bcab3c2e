"""The shipped INSEE referentials (communes since 1943, countries), searchable in memory.

The data are in ``sesame/data/referentials/`` (built by ``scripts/build_referentials.py``). They
are read on first use, once per process (a few hundred milliseconds), then every search is a
binary search over sorted keys: well under a millisecond.

Town search matches the start of any word of a name ("denis" finds Saint-Denis), ignoring
case, accents and punctuation; "St"/"Ste" stand for "Saint"/"Sainte". Digits search postcodes
("290" finds the communes of 29000...), and both together narrow each other ("brest 29").
Results list exact names first, then current communes and districts by population, then
delegated, associated and former communes.
"""

from __future__ import annotations

import gzip
import heapq
import json
import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from sesame.domain.referentials import LIMIT_MAX, QUERY_MAX_CHARS, Country, Town, TownKind, fold

_KINDS = {
    "c": TownKind.COMMUNE,
    "a": TownKind.DISTRICT,
    "d": TownKind.DELEGATED,
    "s": TownKind.ASSOCIATED,
    "f": TownKind.FORMER,
}
_KIND_ORDER = {TownKind.COMMUNE: 0, TownKind.DISTRICT: 0, TownKind.DELEGATED: 1, TownKind.ASSOCIATED: 1}
#: Words a name's suffix is not indexed from ("sur mer" finds nothing, "mer" finds Villers-sur-Mer).
_SKIPPED_WORDS = frozenset(
    {"de", "du", "des", "la", "le", "les", "l", "d", "en", "et", "sur", "sous", "aux", "au", "arrondissement"}
)
_HIGH = "\U0010ffff"


_LOADING = threading.Lock()


def _read(name: str) -> Any:
    raw = resources.files("sesame.data").joinpath("referentials", name).read_bytes()
    return json.loads(gzip.decompress(raw))


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@dataclass(slots=True)
class _TownIndex:
    towns: list[Town]
    #: Each town's name folded (see ``fold``).
    folded: list[str]
    #: Folded name -> towns of that name, in result order.
    by_name: dict[str, list[int]]
    #: Sorted folded keys (the name and its word suffixes) and the rank of the town of each.
    keys: list[str]
    key_rank: list[int]
    #: Towns in result order (index: rank) and the rank of each town.
    order: list[int]
    rank: list[int]
    by_code: dict[str, list[int]]
    #: Sorted (postcode, rank, town) of current communes and districts.
    postcodes: list[tuple[str, int, int]]
    #: Code of a current commune -> its delegated and associated communes.
    parts: dict[str, list[int]]
    departments: dict[str, str] = field(default_factory=dict)


def _town_index() -> _TownIndex:
    """The towns' index, built on first use; the web server's threads wait for one build."""
    with _LOADING:
        return _build_town_index()


@cache
def _build_town_index() -> _TownIndex:
    document = _read("communes.json.gz")
    towns = [
        Town(
            code=code,
            name=name,
            department=department,
            kind=_KINDS[kind],
            parent_code=parent,
            postcodes=tuple(postcodes.split()),
            population=population,
            valid_from=_date(since),
            valid_until=_date(until),
        )
        for code, name, department, kind, parent, postcodes, population, since, until in document["towns"]
    ]
    folded = [fold(town.name) for town in towns]
    order = sorted(
        range(len(towns)),
        key=lambda i: (_KIND_ORDER.get(towns[i].kind, 2), -towns[i].population, folded[i], towns[i].code),
    )
    rank = [0] * len(towns)
    for position, index in enumerate(order):
        rank[index] = position
    pairs: list[tuple[str, int]] = []
    for index, name in enumerate(folded):
        words = name.split()
        for start, word in enumerate(words):
            if start == 0 or word not in _SKIPPED_WORDS:
                pairs.append((" ".join(words[start:]), index))
    pairs.sort()
    by_code: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    for index in order:
        by_code.setdefault(towns[index].code, []).append(index)
        by_name.setdefault(folded[index], []).append(index)
    parts: dict[str, list[int]] = {}
    for index in order:
        town = towns[index]
        if town.kind in (TownKind.DELEGATED, TownKind.ASSOCIATED) and town.parent_code:
            parts.setdefault(town.parent_code, []).append(index)
    postcodes = sorted(
        (postcode, rank[index], index)
        for index, town in enumerate(towns)
        if town.is_current
        for postcode in town.postcodes
    )
    return _TownIndex(
        towns=towns,
        folded=folded,
        by_name=by_name,
        keys=[key for key, _ in pairs],
        key_rank=[rank[index] for _, index in pairs],
        order=order,
        rank=rank,
        by_code=by_code,
        postcodes=postcodes,
        parts=parts,
        departments=dict(document.get("departments", {})),
    )


@dataclass(slots=True)
class _CountryIndex:
    countries: list[Country]
    by_code: dict[str, Country]
    #: (folded name or word suffix, is the whole name, is the main name, country position).
    keys: list[tuple[str, bool, bool, int]]


@cache
def _country_index() -> _CountryIndex:
    document = _read("countries.json.gz")
    countries = [
        Country(code=code, name=name, other_names=tuple(others), iso2=iso2, continent=continent)
        for code, name, others, iso2, continent in document["countries"]
    ]
    keys: list[tuple[str, bool, bool, int]] = []
    for position, country in enumerate(countries):
        for name in (country.name, *country.other_names):
            words = fold(name).split()
            main = name == country.name
            keys.extend((" ".join(words[start:]), start == 0, main, position) for start in range(len(words)))
    return _CountryIndex(countries=countries, by_code={c.code: c for c in countries}, keys=keys)


def _split_query(query: str) -> tuple[str, str]:
    """(folded words, digits) of a query such as ``"Brest 29200"``."""
    folded = fold(query[:QUERY_MAX_CHARS])
    digits = "".join(word for word in folded.split() if word.isdigit())
    words = " ".join(word for word in folded.split() if not word.isdigit())
    return words, digits


class ShippedReferentials:
    """The ``Referentials`` port over the data files shipped with Sésame."""

    def search_towns(self, query: str, limit: int = 10) -> Sequence[Town]:
        limit = max(0, min(limit, LIMIT_MAX))
        words, digits = _split_query(query)
        if not limit or (not words and len(digits) < 2):
            return []
        index = _town_index()
        if len(digits) >= 2:
            found = [i for i in _postcode_matches(digits) if not words or _name_matches(index, i, words)]
            if found or not words:
                return [index.towns[i] for i in found[:limit]]
        # "Lyon 3", "Paris 15": the number is part of a district's name, not a postcode
        return [index.towns[i] for i in _name_search(" ".join(filter(None, (words, digits))), limit)]

    def town(self, code: str) -> Town | None:
        """The town this code names today (or its latest name, for a former commune)."""
        matches = _town_index().by_code.get(code.strip().upper())
        if not matches:
            return None
        index = _town_index()
        return min((index.towns[i] for i in matches), key=_preference)

    def towns_with_code(self, code: str) -> Sequence[Town]:
        """Every name this code has had (a code's commune may have been renamed or merged)."""
        index = _town_index()
        return [index.towns[i] for i in index.by_code.get(code.strip().upper(), [])]

    def towns_for_postcode(self, postcode: str) -> Sequence[Town]:
        """The current communes and districts that this postcode serves, then the delegated and
        associated communes of those communes (addresses may still name them)."""
        postcode = postcode.strip()
        if len(postcode) != 5 or not postcode.isdigit():
            return []
        index = _town_index()
        start = bisect_left(index.postcodes, (postcode,))
        end = bisect_left(index.postcodes, (postcode + "~",))
        served = [index.towns[i] for _, _, i in index.postcodes[start:end]]
        parts = [
            index.towns[i] for town in served if town.kind is TownKind.COMMUNE for i in index.parts.get(town.code, [])
        ]
        return [*served, *parts]

    def department_name(self, code: str) -> str | None:
        return _town_index().departments.get(code)

    def countries(self) -> Sequence[Country]:
        return list(_country_index().countries)

    def search_countries(self, query: str, limit: int = 10) -> Sequence[Country]:
        """Countries matching ``query`` (``limit`` 0: every match; there are fewer than 250)."""
        folded = fold(query[:QUERY_MAX_CHARS])
        if not folded or limit < 0:
            return []
        index = _country_index()
        best: dict[int, tuple[int, int]] = {}
        for key, whole, main, position in index.keys:
            if key.startswith(folded):
                # the exact name first, then names that start so, then other words; main names first
                score = (0 if whole and key == folded else 1 if whole else 2) * 2 + (0 if main else 1)
                best[position] = min(best.get(position, (9, position)), (score, position))
        # then today's countries (those with an ISO code) before historical ones, by name
        ordered = sorted(
            best.values(),
            key=lambda item: (item[0], index.countries[item[1]].iso2 is None, fold(index.countries[item[1]].name)),
        )
        return [index.countries[position] for _, position in (ordered[:limit] if limit else ordered)]

    def country(self, code: str) -> Country | None:
        return _country_index().by_code.get(code.strip())


def _preference(town: Town) -> tuple[int, date]:
    order = {TownKind.COMMUNE: 0, TownKind.DISTRICT: 0, TownKind.DELEGATED: 1, TownKind.ASSOCIATED: 1}
    return order.get(town.kind, 2), _invert(town.valid_until)


def _invert(value: date | None) -> date:
    # latest first: no end date is the latest of all
    return date.min if value is None else date.fromordinal(date.max.toordinal() - value.toordinal() + 1)


def _name_matches(index: _TownIndex, town: int, words: str) -> bool:
    name = index.folded[town].split()
    return any(" ".join(name[start:]).startswith(words) for start in range(len(name)))


def _postcode_matches(digits: str) -> list[int]:
    index = _town_index()
    start = bisect_left(index.postcodes, (digits,))
    end = bisect_left(index.postcodes, (digits + "~",))
    seen: set[int] = set()
    found = []
    for _, _, town in index.postcodes[start:end]:
        if town not in seen:
            seen.add(town)
            found.append(town)
    return found


def _name_search(words: str, limit: int) -> list[int]:
    """Towns named ``words`` exactly, then the best towns with a name or name suffix starting so."""
    index = _town_index()
    found = index.by_name.get(words, [])[:limit]
    start = bisect_left(index.keys, words)
    end = bisect_left(index.keys, words + _HIGH, start)
    if len(found) >= limit or end == start:
        return found[:limit]
    exact = set(found)
    # A town may have several keys in the range ("saint" twice in a name): take a few more.
    take = limit + 8
    while True:
        ranks = dict.fromkeys(heapq.nsmallest(take, index.key_rank[start:end]))
        others = [index.order[rank] for rank in ranks if index.order[rank] not in exact]
        if len(found) + len(others) >= limit or take >= end - start:
            return [*found, *others][:limit]
        take *= 2

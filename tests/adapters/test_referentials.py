"""The shipped INSEE referentials: communes since 1943 with postcodes, COG countries, fast search."""

from __future__ import annotations

import statistics
import time
from datetime import date

import pytest

from sesame.adapters import referentials as module
from sesame.adapters.referentials import ShippedReferentials
from sesame.bootstrap import Container
from sesame.domain.referentials import FRANCE_COUNTRY_CODE, LIMIT_MAX, TownKind, fold

PLACES = ShippedReferentials()


def _codes(query: str, limit: int = 10) -> list[str]:
    return [town.code for town in PLACES.search_towns(query, limit)]


def test_the_data_covers_france() -> None:
    index = module._town_index()
    kinds = {kind: sum(1 for town in index.towns if town.kind is kind) for kind in TownKind}
    assert 34_000 < kinds[TownKind.COMMUNE] < 36_000
    assert kinds[TownKind.DISTRICT] == 45  # Paris 20, Lyon 9, Marseille 16
    assert kinds[TownKind.DELEGATED] > 1_500
    assert kinds[TownKind.FORMER] > 3_000
    paris = PLACES.town("75056")
    assert paris is not None and paris.name == "Paris" and paris.kind is TownKind.COMMUNE
    assert len(paris.postcodes) == 21 and "75116" in paris.postcodes
    assert PLACES.department_name("29") == "Finistère"


def test_fold_ignores_case_accents_punctuation_and_saint_abbreviations() -> None:
    assert fold("  St-Étienne-du-Rouvray ") == "saint etienne du rouvray"
    assert fold("L'Haÿ-les-Roses") == "l hay les roses"
    assert fold("Ste-Marie") == fold("SAINTE MARIE") == "sainte marie"
    assert fold("Œuilly") == "oeuilly"


def test_names_are_found_whatever_the_case_and_accents() -> None:
    assert _codes("paris")[0] == "75056"
    assert _codes("PARIS")[0] == "75056"
    for typed in ("saint-étienne", "ST ETIENNE", "st-etienne", "saint etienne"):
        assert _codes(typed)[0] == "42218", typed
    assert _codes("evry courcouronnes")[0] == "91228"


def test_any_word_of_a_name_is_a_start() -> None:
    found = _codes("denis", 20)
    assert {"93066", "97411"} <= set(found)  # Saint-Denis (Seine-Saint-Denis) and Saint-Denis (Réunion)
    assert _codes("havre")[0] == "76351"  # Le Havre


def test_exact_names_come_first_then_population() -> None:
    towns = PLACES.search_towns("brest")
    assert towns[0].code == "29019"
    assert all(fold(town.name).split()[0] == "brest" or "brest" in fold(town.name) for town in towns)
    big_first = PLACES.search_towns("mar", limit=3)
    assert big_first[0].name == "Marseille"


def test_postcodes_are_searched_by_their_digits() -> None:
    assert _codes("29200") == ["29019"]
    assert _codes("69003") == ["69123", "69383"]  # Lyon and its 3rd district
    assert all(town.code.startswith("75") for town in PLACES.search_towns("750", limit=50))
    assert _codes("brest 29") == ["29019"]
    assert _codes("29 brest") == ["29019"]


def test_a_district_number_is_part_of_the_name() -> None:
    assert _codes("Lyon 3") == ["69383"]
    assert _codes("paris 15")[0] == "75115"
    assert _codes("Marseille 1er")[0] == "13201"


def test_former_communes_resolve_older_birthplaces() -> None:
    # Voisinlieu merged into Beauvais in 1943; Chisa was coded 20366 until Corsica was split (1976).
    voisinlieu = PLACES.search_towns("voisinlieu")[0]
    assert (voisinlieu.code, voisinlieu.kind, voisinlieu.parent_code) == ("60696", TownKind.FORMER, "60057")
    chisa = list(PLACES.towns_with_code("20366"))
    assert chisa and chisa[0].name == "Chisa" and chisa[0].parent_code == "2B366"
    assert chisa[0].valid_until == date(1976, 1, 1)
    old_code = PLACES.town("01132")  # Crépieux-la-Pape, moved from Ain to Rhône in 1967
    assert old_code is not None and old_code.kind is TownKind.FORMER and old_code.parent_code == "69286"
    current = PLACES.search_towns("voisinlieu")
    assert all(not town.is_current for town in current)


def test_a_code_lists_every_name_it_had_current_first() -> None:
    town = PLACES.town("01015")
    assert town is not None and (town.name, town.kind) == ("Arboys en Bugey", TownKind.COMMUNE)
    names = [(town.name, town.kind) for town in PLACES.towns_with_code("01015")]
    assert names[0] == ("Arboys en Bugey", TownKind.COMMUNE)
    assert ("Arbignieu", TownKind.DELEGATED) in names
    assert PLACES.town("99999") is None
    assert PLACES.town(" 75056 ") is not None


def test_towns_for_a_postcode() -> None:
    assert [town.code for town in PLACES.towns_for_postcode("75001")] == ["75056", "75101"]
    served = PLACES.towns_for_postcode("01300")
    assert served[0].kind is TownKind.COMMUNE
    arbignieu = next(town for town in served if town.name == "Arbignieu")
    assert arbignieu.kind is TownKind.DELEGATED and arbignieu.parent_code == "01015"
    assert PLACES.towns_for_postcode("7500") == []
    assert PLACES.towns_for_postcode("abcde") == []
    assert PLACES.towns_for_postcode("00000") == []


def test_countries_of_the_cog() -> None:
    countries = PLACES.countries()
    assert len(countries) > 230
    france = PLACES.country(FRANCE_COUNTRY_CODE)
    assert france is not None and (france.name, france.iso2) == ("France", "FR")
    germany = PLACES.country("99109")
    assert germany is not None and (germany.name, germany.iso2) == ("Allemagne", "DE")
    assert all(country.code.startswith("99") and len(country.code) == 5 for country in countries)
    assert PLACES.country("99999") is None


def test_countries_are_searched_by_name_and_territory() -> None:
    assert PLACES.search_countries("allemagne")[0].code == "99109"  # before the RFA and the RDA
    assert PLACES.search_countries("etats-unis")[0].code == "99404"
    assert [country.code for country in PLACES.search_countries("Jersey")] == ["99132"]  # coded as the UK
    assert PLACES.search_countries("cote d ivoire")[0].code == "99326"
    assert PLACES.search_countries("unis")[0].code in ("99404", "99247")  # a word inside the name
    assert len(PLACES.search_countries("a")) == 10
    assert len(PLACES.search_countries("a", limit=0)) > 20  # 0: every match
    assert PLACES.search_countries("") == []


def test_limits_and_odd_input() -> None:
    assert len(PLACES.search_towns("saint", limit=500)) == LIMIT_MAX
    assert PLACES.search_towns("saint", limit=0) == []
    assert PLACES.search_towns("") == []
    assert PLACES.search_towns("   -  ") == []
    assert PLACES.search_towns("7") == []  # one digit is no postcode search
    assert PLACES.search_towns("x" * 10_000) == []
    assert PLACES.search_towns("zzzzzz") == []
    assert PLACES.search_towns("<script>") == []


def test_loaded_once_per_process_then_fast() -> None:
    assert module._town_index() is module._town_index()
    queries = ["s", "sa", "saint", "saint m", "a", "e", "paris", "marseille 8", "st etienne", "brest 29", "29200"]
    queries += ["denis", "lyon 3", "l abergement", "voisinlieu", "le havre", "ch", "ville", "75", "97"]
    for query in queries:  # warm up
        PLACES.search_towns(query)
    timings = []
    for _ in range(5):
        for query in queries:
            started = time.perf_counter()
            PLACES.search_towns(query)
            timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.001


@pytest.mark.parametrize("attribute", ["referentials"])
def test_the_container_keeps_one_referential(container: Container, attribute: str) -> None:
    assert getattr(container, attribute) is getattr(container, attribute)
    assert container.referentials.town("29019") is not None

"""Home addresses: the postcode must serve the town, checked against the shipped referential."""

from __future__ import annotations

import pytest

from sesame.adapters.referentials import ShippedReferentials
from sesame.domain.addresses import ADDRESS_LINE_MAX_CHARS, AddressRejected, validate_address
from sesame.domain.identity import PostalAddress

PLACES = ShippedReferentials()


def _check(line1: str, postcode: str, town: str, line2: str | None = None) -> PostalAddress:
    return validate_address(line1, line2, postcode, town, PLACES)


def _errors(line1: str, postcode: str, town: str, line2: str | None = None) -> dict[str, str]:
    with pytest.raises(AddressRejected) as raised:
        _check(line1, postcode, town, line2)
    return raised.value.errors


def test_a_plain_address_is_normalised() -> None:
    address = _check("  12   rue des   Lilas ", " 29 200", "brest", line2="Bâtiment B")
    assert address == PostalAddress(
        line1="12 rue des Lilas", postcode="29200", town="Brest", line2="Bâtiment B", town_code="29019"
    )
    assert address.country == "FR"


@pytest.mark.parametrize("town", ["Saint-Étienne", "ST ETIENNE", "st-etienne", "saint etienne", "Saint Étienne"])
def test_case_accents_hyphens_and_saint_do_not_matter(town: str) -> None:
    address = _check("1 place Jean Jaurès", "42000", town)
    assert (address.town, address.town_code) == ("Saint-Étienne", "42218")


@pytest.mark.parametrize(
    ("postcode", "town", "district"),
    [
        ("75011", "Paris", "75111"),
        ("75011", "PARIS 11", "75111"),
        ("75011", "Paris 11e", "75111"),
        ("75011", "paris 11e arrondissement", "75111"),
        ("75001", "Paris 1er", "75101"),
        ("75116", "Paris", "75116"),
        ("75016", "Paris 16e", "75116"),
        ("69003", "Lyon", "69383"),
        ("69003", "Lyon 3e Arrondissement", "69383"),
        ("13008", "Marseille", "13208"),
    ],
)
def test_paris_lyon_marseille_with_or_without_their_district(postcode: str, town: str, district: str) -> None:
    address = _check("1 rue de la Paix", postcode, town)
    assert address.town in ("Paris", "Lyon", "Marseille")
    assert address.town_code == district


def test_a_district_that_the_postcode_does_not_serve_is_refused() -> None:
    assert _errors("1 rue de la Paix", "75012", "Paris 11e") == {"town": "address_town_mismatch"}


def test_a_town_that_the_postcode_does_not_serve_is_refused() -> None:
    assert _errors("12 rue des Lilas", "75011", "Lyon") == {"town": "address_town_mismatch"}
    assert _errors("12 rue des Lilas", "29200", "Quimper") == {"town": "address_town_mismatch"}


def test_a_delegated_commune_is_filed_under_the_commune_of_today() -> None:
    # Arbignieu merged into Arboys en Bugey (2016): La Poste wants the former name above the postcode line.
    address = _check("3 chemin du Lac", "01300", "Arbignieu")
    assert (address.town, address.town_code, address.line2) == ("Arboys en Bugey", "01015", "Arbignieu")
    kept = _check("3 chemin du Lac", "01300", "Arbignieu", line2="Le Bourg")
    assert kept.line2 == "Le Bourg"


def test_overseas_and_corsica() -> None:
    assert _check("1 rue de Paris", "97400", "Saint-Denis").town_code == "97411"
    assert _check("1 cours Napoléon", "20000", "Ajaccio").town_code == "2A004"


@pytest.mark.parametrize(
    ("postcode", "reason"),
    [
        ("", "address_postcode_missing"),
        ("7501", "address_postcode_format"),
        ("750011", "address_postcode_format"),
        ("75OO1", "address_postcode_format"),
        ("00000", "address_postcode_unknown"),
        ("98000", "address_postcode_unknown"),  # Monaco is not France
    ],
)
def test_bad_postcodes(postcode: str, reason: str) -> None:
    assert _errors("1 rue de la Paix", postcode, "Paris")["postcode"] == reason


def test_cedex_is_not_a_home_address() -> None:
    assert _errors("1 rue de la Paix", "75700", "Paris Cedex 07") == {"town": "address_cedex"}
    assert _errors("1 rue de la Paix", "75700 CEDEX", "Paris") == {"postcode": "address_cedex"}


def test_every_problem_is_reported_at_once() -> None:
    errors = _errors("", "7501", "", line2="x" * (ADDRESS_LINE_MAX_CHARS + 1))
    assert errors == {
        "line1": "address_line_missing",
        "line2": "address_line_too_long",
        "postcode": "address_postcode_format",
        "town": "address_town_missing",
    }


def test_lines_hold_38_characters_of_ordinary_text() -> None:
    longest = "12 avenue du Maréchal de Lattre Tassig"
    assert len(longest) == ADDRESS_LINE_MAX_CHARS == 38
    assert _check(longest, "29200", "Brest").line1 == longest
    assert _errors(longest + "n", "29200", "Brest") == {"line1": "address_line_too_long"}
    assert _check("Appt n° 4, bât. C (rés. l'Orée) & 2#", "29200", "Brest").line1.startswith("Appt")
    assert _errors("1 rue <script>", "29200", "Brest") == {"line1": "address_line_characters"}
    assert _errors("1 rue\x00des Lilas", "29200", "Brest") == {"line1": "address_line_characters"}
    assert _errors("1 rue des Lilas", "29200", "Brest;DROP") == {"town": "address_line_characters"}

"""Machine-readable zones: ICAO Doc 9303 parsing, check digits, OCR tolerance, comparison with the form.

The zones below are the specimens printed in Doc 9303 (Part 4 TD3, Part 5 TD1, Part 6 TD2, the
fictitious state "UTO") and the French specimens published for the 2021 identity card and the
1988 card; the others are computed by ``tests.specimens``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from sesame.domain.identity import Civility, IdentityData
from sesame.domain.mrz import (
    MrzComparison,
    MrzFormat,
    MrzFormatError,
    MrzOutcome,
    MrzReading,
    TypedIdentity,
    best_reading,
    check_digit,
    compare_fields,
    compare_reading,
    find_mrz,
    find_mrz_in,
    mrz_lines,
    parse_mrz,
    transliterate,
)
from sesame.domain.tenants import IdentityDocumentKind
from tests.specimens import (
    KARIM,
    SpecimenPerson,
    break_check_digit,
    french_1988_mrz,
    td1_mrz,
    td2_mrz,
    td3_mrz,
    with_person,
)

# Doc 9303 Part 4, Appendix A (passport of Anna Maria Eriksson, Utopia).
TD3 = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
# Doc 9303 Part 5, Appendix A (identity card), and its example of a document number past nine characters.
TD1 = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]
TD1_LONG_NUMBER = ["I<UTOD23145890<7349<<<<<<<<<<<", "3407127M9507122UTO<<<<<<<<<<<2", "STEVENSON<<PETER<JOHN<<<<<<<<<"]
# Doc 9303 Part 6, Appendix A.
TD2 = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]
# The French identity card of 2021 (ANTS specimen) and of 1988 (specimen card of Corinne Berthier).
FRENCH_2021 = ["IDFRAX4RTBPFW46<<<<<<<<<<<<<<<", "9007138F3002119FRA<<<<<<<<<<<6", "MARTIN<<MAELYS<GAELLE<MARIE<<<"]
FRENCH_1988 = ["IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", "9409923102854CORINNE<<<<<<<6512068F4"]

MARTIN_FORM = TypedIdentity(
    document_number="X4RTBPFW4",
    family_name="Martin",
    given_names="Maëlys-Gaëlle, Marie",
    birth_date=date(1990, 7, 13),
    sex="F",
    nationality="FRA",
    expiry_date=date(2030, 2, 11),
)


def _reading(lines: list[str]) -> MrzReading:
    return MrzReading(engine_available=True, lines=tuple(lines), mrz=parse_mrz(lines))


# -- check digits ------------------------------------------------------------------------------------


def test_check_digits_of_the_icao_passport_specimen() -> None:
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("120415") == "9"
    assert check_digit("ZE184226B<<<<<") == "1"
    assert check_digit("L898902C36" + "7408122" + "1204159ZE184226B<<<<<1") == "0"


def test_fillers_count_as_zero_and_letters_from_ten() -> None:
    assert check_digit("<<<<") == "0"
    assert check_digit("A") == str(10 * 7 % 10)
    assert check_digit("Z") == str(35 * 7 % 10)
    with pytest.raises(ValueError, match="not an MRZ character"):
        check_digit("a1")


# -- the formats ---------------------------------------------------------------------------------------


def test_td3_passport() -> None:
    mrz = parse_mrz(TD3)
    assert mrz.format is MrzFormat.TD3
    assert mrz.valid and mrz.failed_checks == ()
    assert [check.field for check in mrz.checks] == [
        "document_number",
        "birth_date",
        "expiry_date",
        "optional_data",
        "composite",
    ]
    assert (mrz.document_code, mrz.issuing_country, mrz.document_number) == ("P", "UTO", "L898902C3")
    assert (mrz.surnames, mrz.given_names, mrz.surname) == (("ERIKSSON",), ("ANNA", "MARIA"), "ERIKSSON")
    assert (mrz.nationality, mrz.birth_date, mrz.sex, mrz.expiry_date) == ("UTO", "740812", "F", "120415")
    assert mrz.optional_data == "ZE184226B"
    assert mrz.document_kind is IdentityDocumentKind.PASSPORT
    assert not mrz.surname_truncated and not mrz.given_names_truncated


def test_td1_identity_card() -> None:
    mrz = parse_mrz(TD1)
    assert mrz.format is MrzFormat.TD1 and mrz.valid
    assert (mrz.document_code, mrz.document_number, mrz.nationality) == ("I", "D23145890", "UTO")
    assert (mrz.surnames, mrz.given_names) == (("ERIKSSON",), ("ANNA", "MARIA"))
    assert mrz.document_kind is IdentityDocumentKind.NATIONAL_ID_CARD


def test_td1_document_number_longer_than_nine_characters_goes_on_in_the_optional_data() -> None:
    mrz = parse_mrz(TD1_LONG_NUMBER)
    assert mrz.valid
    assert mrz.document_number == "D23145890734"
    # Its check digit (9) covers the whole number: change the last character and it fails.
    broken = parse_mrz(["I<UTOD23145890<7359<<<<<<<<<<<", *TD1_LONG_NUMBER[1:]])
    assert "document_number" in broken.failed_checks


def test_td2() -> None:
    mrz = parse_mrz(TD2)
    assert mrz.format is MrzFormat.TD2 and mrz.valid
    assert (mrz.document_number, mrz.surnames, mrz.given_names) == ("D23145890", ("ERIKSSON",), ("ANNA", "MARIA"))


def test_french_identity_card_of_2021() -> None:
    mrz = parse_mrz(FRENCH_2021)
    assert mrz.format is MrzFormat.TD1 and mrz.valid
    assert (mrz.document_code, mrz.issuing_country, mrz.document_number) == ("ID", "FRA", "X4RTBPFW4")
    assert (mrz.surnames, mrz.given_names) == (("MARTIN",), ("MAELYS", "GAELLE", "MARIE"))
    assert (mrz.birth_date, mrz.sex, mrz.expiry_date, mrz.nationality) == ("900713", "F", "300211", "FRA")


def test_french_identity_card_of_1988_has_its_own_layout() -> None:
    mrz = parse_mrz(FRENCH_1988)
    assert mrz.format is MrzFormat.FRENCH_ID_1988 and mrz.valid
    assert [check.field for check in mrz.checks] == ["document_number", "birth_date", "composite"]
    assert mrz.document_number == "940992310285"  # year and month of issue, department, sequence
    assert (mrz.surnames, mrz.given_names) == (("BERTHIER",), ("CORINNE",))
    assert (mrz.birth_date, mrz.sex, mrz.expiry_date) == ("651206", "F", None)
    assert (mrz.issuing_country, mrz.nationality) == ("FRA", "FRA")
    assert mrz.document_kind is IdentityDocumentKind.NATIONAL_ID_CARD


def test_french_1988_given_names_are_separated_by_two_fillers() -> None:
    person = SpecimenPerson(
        surname="Dupont",
        given_names="Jean-Pierre Marc",
        birth_date=date(1971, 5, 3),
        sex="M",
        nationality="FRA",
        document_number="880692310285",
        expiry_date=None,
        office_code="923005",
    )
    lines = french_1988_mrz(person)
    assert lines[1][13:27] == "JEAN<<PIERRE<<"  # 14 characters: "MARC" does not fit
    mrz = parse_mrz(lines)
    assert mrz.valid and mrz.given_names == ("JEAN", "PIERRE") and mrz.optional_data == "923005"


def test_a_2x36_zone_starting_idfra_that_is_standard_td2_is_read_as_td2() -> None:
    lines = td2_mrz(KARIM, document_code="ID")  # issued by France
    assert lines[0].startswith("IDFRA")
    mrz = parse_mrz(lines)
    assert mrz.format is MrzFormat.TD2 and mrz.valid


def test_residence_permit() -> None:
    mrz = parse_mrz(td1_mrz(KARIM, "IR"))
    assert mrz.valid and mrz.document_code == "IR"
    assert mrz.document_kind is IdentityDocumentKind.RESIDENCE_PERMIT
    assert (mrz.issuing_country, mrz.nationality) == ("FRA", "MAR")


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (TD3[:1], "no MRZ format"),
        ([TD3[0], TD3[1][:-1]], "different lengths"),
        ([TD3[0].lower(), TD3[1].lower()], "outside the MRZ alphabet"),
        (["X" + TD3[0][1:], TD3[1]], "starts with P"),
        (["P" + TD1[0][1:], *TD1[1:]], "starts with I, A or C"),
    ],
)
def test_what_is_not_a_zone_is_refused(lines: list[str], error: str) -> None:
    with pytest.raises(MrzFormatError, match=error):
        parse_mrz(lines)


# -- check digits that fail ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "line", "position", "failed"),
    [
        (TD3, 1, 9, ("document_number", "composite")),
        (TD3, 1, 19, ("birth_date", "composite")),
        (TD3, 1, 27, ("expiry_date", "composite")),
        (TD3, 1, 42, ("optional_data", "composite")),
        (TD3, 1, 43, ("composite",)),
        (TD1, 0, 14, ("document_number", "composite")),
        (TD1, 1, 6, ("birth_date", "composite")),
        (TD1, 1, 14, ("expiry_date", "composite")),
        (TD1, 1, 29, ("composite",)),
        (TD2, 1, 35, ("composite",)),
        (FRENCH_1988, 1, 12, ("document_number", "composite")),
        (FRENCH_1988, 1, 33, ("birth_date", "composite")),
        (FRENCH_1988, 1, 35, ("composite",)),
    ],
)
def test_each_wrong_check_digit_is_named(lines: list[str], line: int, position: int, failed: tuple[str, ...]) -> None:
    mrz = parse_mrz(break_check_digit(lines, line, position))
    assert not mrz.valid
    assert mrz.failed_checks == failed


def test_a_changed_character_fails_its_check_digit() -> None:
    mrz = parse_mrz([TD3[0], TD3[1].replace("7408122", "7409122")])
    assert mrz.failed_checks == ("birth_date", "composite")


def test_a_date_that_is_no_date_fails_even_with_a_right_check_digit() -> None:
    month_13 = "741312"
    line = "L898902C36UTO" + month_13 + check_digit(month_13) + "F1204159ZE184226B<<<<<1"
    line += check_digit(line[0:10] + line[13:20] + line[21:43])
    mrz = parse_mrz([TD3[0], line])
    assert mrz.failed_checks == ("birth_date",)


def test_an_unknown_birth_day_is_allowed() -> None:
    lines = td1_mrz(KARIM)
    unknown_day = "8803<<"  # born in March 1988, day unknown
    line2 = unknown_day + check_digit(unknown_day) + lines[1][7:29]
    line2 += check_digit(lines[0][5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    mrz = parse_mrz([lines[0], line2, lines[2]])
    assert mrz.valid
    assert compare_fields(mrz, _typed_for(KARIM)) == ()


# -- OCR tolerance -------------------------------------------------------------------------------------


def test_letters_read_for_digits_are_corrected_where_digits_are_due_and_the_check_digit_then_passes() -> None:
    misread = TD3[1].replace("7408122", "74O8I22").replace("1204159", "12O4IS9")
    mrz = parse_mrz([TD3[0], misread])
    assert mrz.valid
    assert (mrz.birth_date, mrz.expiry_date) == ("740812", "120415")
    assert mrz.lines == tuple(TD3)
    assert set(mrz.ocr_corrected) == {"birth_date", "expiry_date"}


def test_a_correction_that_does_not_make_the_check_digit_pass_is_not_kept() -> None:
    # A real 8 read as S: S is taken for a 5, the check digit still fails, the field stays unreadable.
    mrz = parse_mrz([TD3[0], TD3[1].replace("7408122", "740S122")])
    assert "birth_date" in mrz.failed_checks
    assert mrz.birth_date == "740S12"


def test_alphanumeric_fields_are_never_corrected() -> None:
    # "L898902C3" read with an O for the 0: correcting it would pass, but letters are legitimate there.
    mrz = parse_mrz([TD3[0], TD3[1].replace("L898902C3", "L8989O2C3")])
    assert "document_number" in mrz.failed_checks
    assert mrz.document_number == "L8989O2C3"


def test_digits_in_names_and_country_codes_are_read_as_letters() -> None:
    mrz = parse_mrz(["P<UT0ERIKSS0N<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<", TD3[1].replace("UTO7408", "UT07408")])
    assert mrz.valid
    assert (mrz.issuing_country, mrz.nationality, mrz.surname, mrz.given_names) == (
        "UTO",
        "UTO",
        "ERIKSSON",
        ("ANNA", "MARIA"),
    )
    assert {"names", "issuing_country", "nationality"} <= set(mrz.ocr_corrected)


def test_stray_letters_in_a_name_fields_padding_are_ocr_noise() -> None:
    noisy = "P<UTOERIKSSON<<ANNA<MARIA<<<<<K<<<KK<<<<<<<<"
    mrz = parse_mrz([noisy, TD3[1]])
    assert mrz.given_names == ("ANNA", "MARIA")
    assert mrz.lines[0] == TD3[0]


def test_find_mrz_in_ocr_text_with_noise_blanks_and_lost_fillers() -> None:
    text = "\n".join(
        [
            "PASSEPORT PASSPORT",
            "P<UTO ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<",  # two fillers lost, a blank added
            "",
            "l898902c36UTO7408122F1204159ZE184226B<<<<<<10",  # lower case, one filler doubled
            "15 04 2032",
        ]
    )
    mrz = find_mrz(text)
    assert mrz is not None and mrz.valid
    assert mrz.lines == tuple(TD3)


def test_find_mrz_picks_the_readings_whose_check_digits_pass() -> None:
    wrong_number = TD1[0].replace("D23145890", "D23145898")
    mrz = find_mrz_in([["ADRESSE 12 RUE DES LILAS"], [wrong_number, TD1[0]], [TD1[1]], [TD1[2]]])
    assert mrz is not None and mrz.valid and mrz.document_number == "D23145890"
    # With only wrong readings, the best zone is still returned, its failures named.
    failing = find_mrz_in([[wrong_number], [TD1[1]], [TD1[2]]])
    assert failing is not None and failing.failed_checks == ("document_number", "composite")


def test_no_zone_in_plain_text() -> None:
    assert find_mrz("RÉPUBLIQUE FRANÇAISE\nCARTE NATIONALE D'IDENTITÉ\nNom MARTIN") is None
    assert mrz_lines("RÉPUBLIQUE FRANÇAISE\n" + TD3[1]) == [TD3[1]]


def test_best_reading_of_recto_and_verso() -> None:
    missing = MrzReading.engine_missing()
    nothing = MrzReading(engine_available=True)
    failing = _reading(break_check_digit(TD1, 1, 6))
    good = _reading(TD1)
    assert best_reading([nothing, good, failing]) is good
    assert best_reading([nothing, failing]) is failing
    assert best_reading([nothing]) is nothing
    assert best_reading([]) == missing


# -- dates -------------------------------------------------------------------------------------------


def test_dates_get_their_century() -> None:
    today = date(2026, 1, 15)
    assert parse_mrz(TD3).birth_date_on(today) == date(1974, 8, 12)
    assert parse_mrz(TD3).expiry_date_on(today) == date(2012, 4, 15)
    assert parse_mrz(FRENCH_2021).expiry_date_on(today) == date(2030, 2, 11)
    assert parse_mrz(FRENCH_1988).expiry_date_on(today) is None
    young = parse_mrz(td1_mrz(with_person(KARIM, birth_date=date(2010, 3, 2))))
    assert young.birth_date_on(today) == date(2010, 3, 2)
    leap = parse_mrz(td1_mrz(with_person(KARIM, birth_date=date(2000, 2, 29))))
    assert leap.birth_date_on(today) == date(2000, 2, 29)


# -- comparison with the form ---------------------------------------------------------------------------


def _typed_for(person: SpecimenPerson) -> TypedIdentity:
    return TypedIdentity(
        document_number=person.document_number,
        family_name=person.surname,
        given_names=person.given_names,
        birth_date=person.birth_date,
        sex=person.sex,
        nationality=person.nationality,
        expiry_date=person.expiry_date,
    )


def test_the_french_specimen_matches_its_form_with_accents_and_hyphens() -> None:
    comparison = compare_reading(_reading(FRENCH_2021), MARTIN_FORM)
    assert comparison.outcome is MrzOutcome.MATCH
    assert comparison.mismatches == () and comparison.failed_checks == ()


@pytest.mark.parametrize(
    ("surname", "given_names", "typed_surname", "typed_given"),
    [
        ("O'Connor", "Seán", "O'Connor", "Seán"),  # apostrophe dropped (ICAO)
        ("O Connor", "Sean", "O’Connor", "Seán"),  # or a filler, and a typographic apostrophe
        ("Müller", "Jürgen", "Müller", "Jürgen"),  # Ü as UE (ICAO recommended)
        ("Muller", "Jurgen", "Müller", "Jürgen"),  # or as a plain U
        ("de La Tour", "Anne-Sophie", "DE LA TOUR", "anne sophie"),
        ("Lefèvre", "Zoé Ève", "Lefevre", "Zoe, Eve"),
        ("Øster", "Æsa", "Øster", "Æsa"),
    ],
)
def test_names_match_the_way_an_mrz_transliterates_them(
    surname: str, given_names: str, typed_surname: str, typed_given: str
) -> None:
    person = with_person(KARIM, surname=surname, given_names=given_names)
    typed = with_person(KARIM, surname=typed_surname, given_names=typed_given)
    assert compare_fields(parse_mrz(td1_mrz(person)), _typed_for(typed)) == ()


def test_transliteration() -> None:
    assert transliterate("Maëlys-Gaëlle, Marie") == "MAELYS<GAELLE<MARIE"
    assert transliterate("O'Connor") == "OCONNOR"
    assert transliterate("Müller Straße") == "MUELLER<STRASSE"
    assert transliterate("  de  La Tour ") == "DE<LA<TOUR"


def test_truncated_names_match_their_full_form() -> None:
    person = with_person(KARIM, surname="Andrianarivelo-Rakotomalala", given_names="Wilhelmina Katharina Elisabeth")
    lines = td1_mrz(person)
    assert lines[2] == "ANDRIANARIVELO<RAKOTOMALALA<<W"  # full: it may have been cut
    mrz = parse_mrz(lines)
    assert mrz.given_names_truncated
    assert compare_fields(mrz, _typed_for(person)) == ()
    # Still, a different first given name is a mismatch.
    other = with_person(person, given_names="Katharina")
    assert compare_fields(mrz, _typed_for(other)) == ("given_names",)


def test_icao_truncation_down_to_initials_matches() -> None:
    # Doc 9303 Part 3, 4.6.4: a name too long is cut, components down to their initials.
    cut = "P<UTO" + "ERIKSSONBERGSTROMLINDQVIST<<ANNA<MA<E<S"
    mrz = parse_mrz([cut, TD3[1]])
    assert mrz.given_names_truncated and mrz.given_names == ("ANNA", "MA", "E", "S")
    typed = with_person(KARIM, surname="Eriksson-Bergström-Lindqvist", given_names="Anna Maria Elin Sofia")
    assert "family_name" not in compare_fields(mrz, _typed_for(typed))
    assert "given_names" not in compare_fields(mrz, _typed_for(typed))
    # A zone that is not full was not cut: the typed names must be the zone's.
    mrz = parse_mrz(["P<UTOERIKSSON<<ANNA<M<E<<<<<<<<<<<<<<<<<<<<<", TD3[1]])
    assert not mrz.given_names_truncated
    assert "given_names" in compare_fields(mrz, _typed_for(with_person(typed, surname="Eriksson")))


def test_missing_given_names_are_a_mismatch_unless_the_zone_was_full() -> None:
    mrz = parse_mrz(TD3)
    typed = TypedIdentity("L898902C3", "Eriksson", "Anna", date(1974, 8, 12), "F", "UTO", date(2012, 4, 15))
    assert compare_fields(mrz, typed) == ("given_names",)


def test_old_french_card_lists_only_the_given_names_that_fit() -> None:
    mrz = parse_mrz(FRENCH_1988)
    typed = TypedIdentity("940992310285", "Berthier", "Corinne Louise", date(1965, 12, 6), "F", "FRA")
    assert compare_fields(mrz, typed) == ()
    # The card has no expiry date in its zone: a typed one is not compared.
    assert compare_fields(mrz, replace(typed, expiry_date=date(2005, 1, 1))) == ()


def test_every_mismatching_field_is_named() -> None:
    typed = TypedIdentity(
        document_number="X4RTBPFW5",
        family_name="Martine",
        given_names="Maëlys",
        birth_date=date(1990, 7, 14),
        sex="M",
        nationality="BEL",
        expiry_date=date(2030, 2, 12),
    )
    comparison = compare_reading(_reading(FRENCH_2021), typed)
    assert comparison.outcome is MrzOutcome.MISMATCH
    assert comparison.mismatches == (
        "document_number",
        "family_name",
        "given_names",
        "birth_date",
        "expiry_date",
        "sex",
        "nationality",
    )


def test_document_numbers_typed_with_blanks_and_dashes_match() -> None:
    typed = replace(MARTIN_FORM, document_number=" x4rt-bpf w4 ")
    assert compare_fields(parse_mrz(FRENCH_2021), typed) == ()


def test_nationality_codes_that_are_not_iso() -> None:
    german = td3_mrz(with_person(KARIM, nationality="D", issuing_country="D"))
    assert german[1][10:13] == "D<<"
    mrz = parse_mrz(german)
    assert mrz.nationality == "D"
    assert compare_fields(mrz, _typed_for(with_person(KARIM, nationality="DEU"))) == ()
    assert compare_fields(mrz, _typed_for(with_person(KARIM, nationality="DNK"))) == ("nationality",)


def test_unspecified_sex_is_not_compared() -> None:
    unspecified = TD3[1][:20] + "<" + TD3[1][21:]
    mrz = parse_mrz([TD3[0], unspecified])
    assert mrz.valid and mrz.sex == ""
    typed = TypedIdentity("L898902C3", "Eriksson", "Anna Maria", date(1974, 8, 12), "M", "UTO", date(2012, 4, 15))
    assert compare_fields(mrz, typed) == ()


def test_unreadable_and_not_checked() -> None:
    assert compare_reading(MrzReading.engine_missing(), MARTIN_FORM) == MrzComparison(MrzOutcome.NOT_CHECKED)
    assert compare_reading(MrzReading(engine_available=True), MARTIN_FORM).outcome is MrzOutcome.UNREADABLE
    failing = compare_reading(_reading(break_check_digit(FRENCH_2021, 1, 6)), MARTIN_FORM)
    assert failing.outcome is MrzOutcome.UNREADABLE
    assert failing.failed_checks == ("birth_date", "composite")
    assert failing.mismatches == ()  # a zone that fails its checks is not compared


def test_detail_keeps_only_the_documents_values_that_disagree() -> None:
    typed = replace(MARTIN_FORM, birth_date=date(1990, 7, 31))
    detail = compare_reading(_reading(FRENCH_2021), typed).detail()
    assert detail == {
        "mismatches": ["birth_date"],
        "failed_checks": [],
        "format": "td1",
        "document_code": "ID",
        "document_kind": "national_id_card",
        "issuing_country": "FRA",
        "ocr_corrected": [],
        "document_values": {"birth_date": "900713"},
    }
    assert compare_reading(MrzReading.engine_missing(), typed).detail() == {"mismatches": [], "failed_checks": []}


def test_typed_identity_from_the_identity_form() -> None:
    data = IdentityData(
        civility=Civility.MRS,
        given_names="Maëlys-Gaëlle Marie",
        birth_name="Martin",
        usage_name="Dupont",
        birth_date=date(1990, 7, 13),
        birth_country="99100",
        birth_town="75111",
        document_number="X4RTBPFW4",
        document_expiry=date(2030, 2, 11),
        nationality="FRA",
    )
    typed = TypedIdentity.from_form(data)
    assert (typed.family_name, typed.sex, typed.expiry_date) == ("Martin", "F", date(2030, 2, 11))
    assert compare_reading(_reading(FRENCH_2021), typed).outcome is MrzOutcome.MATCH

"""The Tesseract MRZ reader, end to end with the real ``tesseract`` binary on rendered specimens.

Timings on the development machine (2 shared cores, tesseract 5.3, one thread per run): a clean
specimen reads in 0.4-1.2 s (one Tesseract run on the lower part of the image); a zone whose check
digits fail, or an image without a zone, takes every pass (about 1.5-3 s); a photo taken askew
is straightened and read again (about 2-4 s).
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image

from sesame.adapters.ocr_tesseract import NullMrzReader, TesseractMrzReader
from sesame.domain.mrz import MrzFormat, MrzOutcome, TypedIdentity, best_reading, compare_reading
from tests.specimens import (
    ANNA,
    CORINNE,
    KARIM,
    MARIE,
    SpecimenPerson,
    blurred,
    break_check_digit,
    french_1988_mrz,
    french_id_card_recto,
    french_id_card_verso,
    old_french_id_card,
    passport_page,
    residence_permit,
    td1_mrz,
    td3_mrz,
)

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")
#: Far above the measured times: fails only when something is badly wrong (a loop, a hang).
SLOW = 20.0


def _typed(person: SpecimenPerson) -> TypedIdentity:
    return TypedIdentity(
        document_number=person.document_number,
        family_name=person.surname,
        given_names=person.given_names,
        birth_date=person.birth_date,
        sex=person.sex,
        nationality=person.nationality,
        expiry_date=person.expiry_date,
    )


@pytest.fixture(scope="module")
def reader() -> TesseractMrzReader:
    return TesseractMrzReader()


SPECIMENS: dict[str, tuple[Callable[..., bytes], SpecimenPerson, list[str], MrzFormat]] = {
    "french-id-2021": (french_id_card_verso, MARIE, td1_mrz(MARIE, "ID"), MrzFormat.TD1),
    "passport": (passport_page, ANNA, td3_mrz(ANNA), MrzFormat.TD3),
    "residence-permit": (residence_permit, KARIM, td1_mrz(KARIM, "IR"), MrzFormat.TD1),
    "french-id-1988": (old_french_id_card, CORINNE, french_1988_mrz(CORINNE), MrzFormat.FRENCH_ID_1988),
}


@needs_tesseract
@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
@pytest.mark.parametrize("kind", sorted(SPECIMENS))
def test_reads_each_specimen(reader: TesseractMrzReader, kind: str, image_format: str) -> None:
    render, person, lines, fmt = SPECIMENS[kind]
    image = render(person, image_format=image_format)
    assert image[:4] == (b"\x89PNG" if image_format == "PNG" else b"\xff\xd8\xff\xe0")
    started = time.monotonic()
    reading = reader.read(image)
    assert time.monotonic() - started < SLOW
    assert reading.engine_available
    assert reading.mrz is not None and reading.mrz.format is fmt
    assert reading.mrz.valid, reading.mrz.failed_checks
    assert list(reading.lines) == lines
    assert compare_reading(reading, _typed(person)).outcome is MrzOutcome.MATCH


@needs_tesseract
@pytest.mark.parametrize("seed", range(3))
def test_reads_documents_with_letters_and_digits_mixed(reader: TesseractMrzReader, seed: int) -> None:
    # Tesseract alone takes 5 for S or 9 for Y in such numbers; the OCR-B comparison must not.
    numbers = ["G9EDN581U7", "53EFR4EDT4", "K00S4N46L8"]
    person = replace(MARIE, document_number=numbers[seed][:9], surname=["Kowalski", "Nguyen", "O'Connor"][seed])
    reading = reader.read(french_id_card_verso(person, image_format="JPEG"))
    assert reading.mrz is not None and reading.mrz.valid
    assert list(reading.lines) == td1_mrz(person)


@needs_tesseract
def test_a_form_that_disagrees_is_a_mismatch(reader: TesseractMrzReader) -> None:
    reading = reader.read(passport_page(ANNA, image_format="JPEG"))
    typed = replace(_typed(ANNA), birth_date=date(1974, 8, 21), given_names="Anna")
    comparison = compare_reading(reading, typed)
    assert comparison.outcome is MrzOutcome.MISMATCH
    assert comparison.mismatches == ("given_names", "birth_date")
    assert comparison.detail()["document_values"] == {"given_names": "ANNA MARIA", "birth_date": "740812"}


@needs_tesseract
def test_recto_without_a_zone_and_verso_with_one(reader: TesseractMrzReader) -> None:
    recto = reader.read(french_id_card_recto(MARIE))
    assert recto.engine_available and recto.mrz is None
    assert compare_reading(recto, _typed(MARIE)).outcome is MrzOutcome.UNREADABLE
    verso = reader.read(french_id_card_verso(MARIE, image_format="JPEG"))
    assert best_reading([recto, verso]) is verso


@needs_tesseract
def test_a_wrong_check_digit_is_unreadable_with_its_field(reader: TesseractMrzReader) -> None:
    broken = break_check_digit(td1_mrz(MARIE), 1, 6)  # the birth date's
    started = time.monotonic()
    reading = reader.read(french_id_card_verso(MARIE, mrz=broken))
    assert time.monotonic() - started < SLOW
    assert reading.mrz is not None and list(reading.lines) == broken
    comparison = compare_reading(reading, _typed(MARIE))
    assert comparison.outcome is MrzOutcome.UNREADABLE
    assert comparison.failed_checks == ("birth_date", "composite")


@needs_tesseract
def test_a_blurred_photo_is_unreadable(reader: TesseractMrzReader) -> None:
    reading = reader.read(blurred(passport_page(ANNA), radius=8))
    assert reading.engine_available
    assert compare_reading(reading, _typed(ANNA)).outcome is MrzOutcome.UNREADABLE


@needs_tesseract
def test_a_photo_of_the_card_on_a_table_taken_askew(reader: TesseractMrzReader) -> None:
    card = Image.open(io.BytesIO(french_id_card_verso(MARIE))).convert("RGB")
    card = card.rotate(2.0, expand=True, fillcolor=(90, 70, 50))
    photo = Image.new("RGB", (card.width * 3 // 2, card.height * 3 // 2), (90, 70, 50))
    photo.paste(card, (card.width // 5, card.height // 6))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=85)
    reading = reader.read(buffer.getvalue())
    assert reading.mrz is not None and reading.mrz.valid
    assert compare_reading(reading, _typed(MARIE)).outcome is MrzOutcome.MATCH


@needs_tesseract
@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_what_is_not_an_image_is_unreadable(reader: TesseractMrzReader, data: bytes) -> None:
    reading = reader.read(data)
    assert reading.engine_available and reading.mrz is None
    assert compare_reading(reading, _typed(MARIE)).outcome is MrzOutcome.UNREADABLE


def test_without_the_engine_the_check_is_not_checked_never_passed() -> None:
    reader = TesseractMrzReader(binary="/nonexistent/bin/tesseract")
    assert not reader.available
    reading = reader.read(french_id_card_verso(MARIE))
    assert not reading.engine_available and reading.mrz is None
    assert compare_reading(reading, _typed(MARIE)).outcome is MrzOutcome.NOT_CHECKED


@pytest.mark.skipif(shutil.which("false") is None, reason="no false(1)")
def test_an_engine_that_fails_is_not_checked_either() -> None:
    reading = TesseractMrzReader(binary="false").read(french_id_card_verso(MARIE))
    assert not reading.engine_available
    assert compare_reading(reading, _typed(MARIE)).outcome is MrzOutcome.NOT_CHECKED


@needs_tesseract
def test_missing_language_data_is_not_checked() -> None:
    reading = TesseractMrzReader(language="zzz").read(french_id_card_verso(MARIE))
    assert compare_reading(reading, _typed(MARIE)).outcome is MrzOutcome.NOT_CHECKED


@needs_tesseract
def test_without_the_ocr_b_font_fillers_are_still_told_from_letters() -> None:
    reader = TesseractMrzReader(ocr_b_font=None)
    reading = reader.read(french_id_card_verso(MARIE))
    assert reading.mrz is not None and reading.mrz.valid
    assert compare_reading(reading, _typed(MARIE)).outcome is MrzOutcome.MATCH


def test_the_null_reader_says_not_checked() -> None:
    reading = NullMrzReader().read(passport_page(ANNA))
    assert compare_reading(reading, _typed(ANNA)).outcome is MrzOutcome.NOT_CHECKED


def test_the_container_reads_with_tesseract(container: object) -> None:
    reader = container.mrz_reader  # type: ignore[attr-defined]
    assert isinstance(reader, TesseractMrzReader)
    assert reader is container.mrz_reader  # type: ignore[attr-defined]

"""Specimen identity documents, rendered by the test suite itself (no downloads, no real people).

Each specimen is drawn with Pillow at the document's real size (ID-1 cards 85.6×54 mm, passport
pages 125×88 mm) at ``dpi`` dots per inch: the machine-readable zone in OCR-B (Debian's
fonts-ocr-b, at the ICAO pitch of 10 characters per inch), the rest in DejaVu. The zone is
computed from a :class:`SpecimenPerson` with correct check digits (``sesame.domain.mrz.check_digit``),
or given as ``mrz`` to draw a broken one. Images come back as PNG or JPEG bytes, like an upload.

Used by the MRZ tests, the identity wizard's and the back office's tests.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from sesame.domain.mrz import FILLER, check_digit, transliterate

OCR_B = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

ID1_MM = (85.6, 54.0)  # ISO/IEC 7810 ID-1: identity cards, residence permits
ID2_MM = (105.0, 74.0)  # ISO/IEC 7810 ID-2: the French identity card of 1988-2021
TD3_MM = (125.0, 88.0)  # a passport's data page
MRZ_PITCH_MM = 2.54  # Doc 9303 Part 3: 10 characters per inch
MRZ_LINE_MM = 4.2  # distance between the baselines of two MRZ lines

PAPER = (238, 236, 226)
INK = (25, 25, 35)
LABEL_INK = (70, 80, 110)


@dataclass(frozen=True)
class SpecimenPerson:
    surname: str  # as printed ("Martin", "Dupont-Lefèvre")
    given_names: str  # every given name, as printed ("Maëlys-Gaëlle, Marie")
    birth_date: date
    sex: str  # "F" or "M"
    nationality: str  # ICAO code ("FRA")
    document_number: str
    expiry_date: date | None
    issuing_country: str = "FRA"
    birth_place: str = "PARIS (75)"
    #: The French 1988 card's issuing department and office ("923" + "005" style).
    office_code: str = ""


MARIE = SpecimenPerson(
    surname="Martin",
    given_names="Maëlys-Gaëlle, Marie",
    birth_date=date(1990, 7, 13),
    sex="F",
    nationality="FRA",
    document_number="X4RTBPFW4",
    expiry_date=date(2030, 2, 11),
)
ANNA = SpecimenPerson(
    surname="Eriksson",
    given_names="Anna Maria",
    birth_date=date(1974, 8, 12),
    sex="F",
    nationality="UTO",
    issuing_country="UTO",
    document_number="L898902C3",
    expiry_date=date(2032, 4, 15),
)
KARIM = SpecimenPerson(
    surname="Benali",
    given_names="Karim Youssef",
    birth_date=date(1988, 3, 2),
    sex="M",
    nationality="MAR",
    document_number="AB1234567",
    expiry_date=date(2031, 9, 30),
)
CORINNE = SpecimenPerson(
    surname="Berthier",
    given_names="Corinne",
    birth_date=date(1965, 12, 6),
    sex="F",
    nationality="FRA",
    document_number="940992310285",
    expiry_date=None,
    office_code="923005",
)


# -- machine-readable zones --------------------------------------------------------------------


def _field(text: str, width: int) -> str:
    return (text + FILLER * width)[:width]


def _yymmdd(day: date | None) -> str:
    return day.strftime("%y%m%d") if day else FILLER * 6


def name_field(person: SpecimenPerson, width: int) -> str:
    """Primary and secondary identifiers, cut at ``width`` (a plain cut, as on most documents)."""
    return _field(f"{transliterate(person.surname)}{FILLER * 2}{transliterate(person.given_names)}", width)


def td1_mrz(person: SpecimenPerson, document_code: str = "ID") -> list[str]:
    """Doc 9303 Part 5 (identity cards, residence permits): 3 lines of 30."""
    number = _field(person.document_number, 9)
    line1 = _field(document_code, 2) + _field(person.issuing_country, 3) + number + check_digit(number) + FILLER * 15
    birth, expiry = _yymmdd(person.birth_date), _yymmdd(person.expiry_date)
    partial = birth + check_digit(birth) + person.sex + expiry + check_digit(expiry)
    partial += _field(person.nationality, 3) + FILLER * 11
    composite = check_digit(line1[5:30] + partial[0:7] + partial[8:15] + partial[18:29])
    return [line1, partial + composite, name_field(person, 30)]


def td2_mrz(person: SpecimenPerson, document_code: str = "I") -> list[str]:
    """Doc 9303 Part 6: 2 lines of 36."""
    line1 = _field(document_code, 2) + _field(person.issuing_country, 3) + name_field(person, 31)
    return [line1, _data_line(person, optional_width=7)]


def td3_mrz(person: SpecimenPerson, personal_number: str = "") -> list[str]:
    """Doc 9303 Part 4 (passports): 2 lines of 44."""
    line1 = "P" + FILLER + _field(person.issuing_country, 3) + name_field(person, 39)
    return [line1, _data_line(person, optional_width=14, personal_number=personal_number)]


def _data_line(person: SpecimenPerson, optional_width: int, personal_number: str = "") -> str:
    number = _field(person.document_number, 9)
    birth, expiry = _yymmdd(person.birth_date), _yymmdd(person.expiry_date)
    line = number + check_digit(number) + _field(person.nationality, 3)
    line += birth + check_digit(birth) + person.sex + expiry + check_digit(expiry)
    optional = _field(personal_number, optional_width)
    line += optional
    if optional_width == 14:  # TD3: the personal number has its own check digit
        line += check_digit(optional) if personal_number else FILLER
    composite = check_digit(line[0:10] + line[13:20] + line[21:])
    return line + composite


def french_1988_mrz(person: SpecimenPerson) -> list[str]:
    """The French identity card of 1988-2021: 2 lines of 36, its own layout."""
    line1 = "IDFRA" + _field(transliterate(person.surname), 25) + _field(person.office_code, 6)
    number = _field(person.document_number, 12)
    given = _field(transliterate(person.given_names).replace(FILLER, FILLER * 2), 14)
    birth = _yymmdd(person.birth_date)
    line2 = number + check_digit(number) + given + birth + check_digit(birth) + person.sex
    return [line1, line2 + check_digit(line1 + line2)]


def break_check_digit(lines: Sequence[str], line: int, position: int) -> list[str]:
    """The same zone with the check digit at ``position`` of ``line`` made wrong."""
    broken = list(lines)
    digit = broken[line][position]
    wrong = str((int(digit) + 5) % 10) if digit.isdigit() else "7"
    broken[line] = broken[line][:position] + wrong + broken[line][position + 1 :]
    return broken


# -- drawing -------------------------------------------------------------------------------------


class _Canvas:
    def __init__(self, size_mm: tuple[float, float], dpi: int, background: tuple[int, int, int] = PAPER) -> None:
        self.scale = dpi / 25.4  # pixels per millimetre
        self.image = Image.new("RGB", (self.px(size_mm[0]), self.px(size_mm[1])), background)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, mm: float) -> int:
        return round(mm * self.scale)

    def font(self, path: Path, height_mm: float) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(path), max(6, self.px(height_mm)))

    def text(
        self,
        x_mm: float,
        y_mm: float,
        text: str,
        height_mm: float = 2.2,
        *,
        bold: bool = False,
        fill: tuple[int, int, int] = INK,
    ) -> None:
        self.draw.text(
            (self.px(x_mm), self.px(y_mm)), text, font=self.font(DEJAVU_BOLD if bold else DEJAVU, height_mm), fill=fill
        )

    def labelled(self, x_mm: float, y_mm: float, label: str, value: str) -> None:
        self.text(x_mm, y_mm, label, 1.5, fill=LABEL_INK)
        self.text(x_mm, y_mm + 2.0, value, 2.4, bold=True)

    def band(self, y_mm: float, height_mm: float, colour: tuple[int, int, int]) -> None:
        self.draw.rectangle((0, self.px(y_mm), self.image.width, self.px(y_mm + height_mm)), fill=colour)

    def photo(self, x_mm: float, y_mm: float, w_mm: float, h_mm: float) -> None:
        """A grey silhouette where the holder's photo goes."""
        w, h = self.px(w_mm), self.px(h_mm)
        photo = Image.new("RGB", (w, h), (196, 200, 206))
        draw = ImageDraw.Draw(photo)
        head = w * 22 // 100
        draw.ellipse((w // 2 - head, h * 18 // 100, w // 2 + head, h * 18 // 100 + 2 * head), fill=(150, 155, 165))
        draw.ellipse((w // 2 - 2 * head, h * 62 // 100, w // 2 + 2 * head, h + 2 * head), fill=(150, 155, 165))
        draw.rectangle((0, 0, w - 1, h - 1), outline=(120, 120, 130), width=2)
        self.image.paste(photo, (self.px(x_mm), self.px(y_mm)))

    def watermark(self, text: str = "SPECIMEN") -> None:
        layer = Image.new("L", self.image.size, 0)
        ImageDraw.Draw(layer).text((self.px(8), self.px(18)), text, font=self.font(DEJAVU_BOLD, 14), fill=60)
        layer = layer.rotate(12, resample=Image.Resampling.BICUBIC)
        self.image.paste((200, 60, 60), mask=layer)

    def mrz(self, lines: Sequence[str], bottom_mm: float) -> None:
        """The zone in OCR-B at the ICAO pitch, its last baseline ``bottom_mm`` above the bottom edge."""
        font = self.font(OCR_B, 1.0)
        advance = font.getlength("<") / font.size  # OCR-B is monospaced
        font = ImageFont.truetype(str(OCR_B), round(self.px(MRZ_PITCH_MM) / advance))
        width_mm = MRZ_PITCH_MM * len(lines[0])
        left = (self.image.width - self.px(width_mm)) // 2
        ascent = font.getmetrics()[0]
        height_mm = self.image.height / self.scale
        for index, line in enumerate(lines):
            baseline = self.px(height_mm - bottom_mm - MRZ_LINE_MM * (len(lines) - 1 - index))
            self.draw.text((left, baseline - ascent), line, font=font, fill=(10, 10, 10))

    def encode(self, image_format: str) -> bytes:
        buffer = io.BytesIO()
        if image_format.upper() in ("JPEG", "JPG"):
            self.image.save(buffer, "JPEG", quality=90)
        else:
            self.image.save(buffer, "PNG")
        return buffer.getvalue()


def _fr_date(day: date | None) -> str:
    return day.strftime("%d %m %Y") if day else ""


def french_id_card_recto(person: SpecimenPerson, *, dpi: int = 300, image_format: str = "PNG") -> bytes:
    """The French identity card of 2021, front: photo and identity, no MRZ (it is on the back)."""
    card = _Canvas(ID1_MM, dpi)
    card.band(0, 7, (0, 35, 149))
    card.text(4, 1.6, "RÉPUBLIQUE FRANÇAISE", 2.6, bold=True, fill=(255, 255, 255))
    card.text(4, 8.5, "CARTE NATIONALE D'IDENTITÉ / IDENTITY CARD", 1.9, bold=True)
    card.photo(4, 13, 22, 28)
    card.labelled(30, 12, "NOM / Surname", person.surname.upper())
    card.labelled(30, 18, "Prénoms / Given names", person.given_names)
    card.labelled(30, 24, "SEXE / Sex", person.sex)
    card.labelled(45, 24, "NATIONALITÉ / Nationality", person.nationality)
    card.labelled(30, 30, "DATE DE NAISS. / Date of birth", _fr_date(person.birth_date))
    card.labelled(30, 36, "N° DU DOCUMENT / Document No", person.document_number)
    card.labelled(30, 42, "DATE D'EXPIR. / Expiry date", _fr_date(person.expiry_date))
    card.watermark()
    return card.encode(image_format)


def french_id_card_verso(
    person: SpecimenPerson, *, mrz: Sequence[str] | None = None, dpi: int = 300, image_format: str = "PNG"
) -> bytes:
    """The French identity card of 2021, back: address, issue, and the TD1 zone at the bottom."""
    card = _Canvas(ID1_MM, dpi)
    card.labelled(4, 4, "ADRESSE / Address", "12 RUE DES LILAS 75011 PARIS")
    card.labelled(4, 10, "LIEU DE NAISSANCE / Place of birth", person.birth_place)
    card.labelled(4, 16, "DATE DE DÉLIVRANCE / Date of issue", "11 02 2020")
    card.labelled(50, 16, "AUTORITÉ / Authority", "Préfecture de Paris")
    card.watermark()
    card.mrz(mrz if mrz is not None else td1_mrz(person, "ID"), bottom_mm=3.5)
    return card.encode(image_format)


def residence_permit(
    person: SpecimenPerson, *, mrz: Sequence[str] | None = None, dpi: int = 300, image_format: str = "PNG"
) -> bytes:
    """A French residence permit (titre de séjour, TD1), back side with its zone (code "IR")."""
    card = _Canvas(ID1_MM, dpi, background=(232, 238, 230))
    card.text(4, 3, "TITRE DE SÉJOUR / RESIDENCE PERMIT", 2.0, bold=True)
    card.labelled(4, 8, "NOM / Surname", person.surname.upper())
    card.labelled(4, 14, "Prénoms / Given names", person.given_names)
    card.labelled(4, 20, "NATIONALITÉ / Nationality", person.nationality)
    card.labelled(45, 20, "VALABLE JUSQU'AU / Valid until", _fr_date(person.expiry_date))
    card.watermark()
    card.mrz(mrz if mrz is not None else td1_mrz(person, "IR"), bottom_mm=3.5)
    return card.encode(image_format)


def passport_page(
    person: SpecimenPerson, *, mrz: Sequence[str] | None = None, dpi: int = 300, image_format: str = "PNG"
) -> bytes:
    """A passport's data page (TD3): photo and identity above, the 2×44 zone at the bottom."""
    page = _Canvas(TD3_MM, dpi, background=(236, 230, 238))
    page.text(5, 3, "PASSEPORT / PASSPORT", 3.0, bold=True)
    page.text(70, 3.6, f"{person.issuing_country}", 2.4, bold=True)
    page.photo(5, 12, 32, 42)
    page.labelled(42, 11, "Type / Type", "P")
    page.labelled(60, 11, "Code du pays / Country code", person.issuing_country)
    page.labelled(100, 11, "Passeport n° / Passport No", person.document_number)
    page.labelled(42, 18, "Nom / Surname", person.surname.upper())
    page.labelled(42, 25, "Prénoms / Given names", person.given_names)
    page.labelled(42, 32, "Nationalité / Nationality", person.nationality)
    page.labelled(42, 39, "Date de naissance / Date of birth", _fr_date(person.birth_date))
    page.labelled(95, 39, "Sexe / Sex", person.sex)
    page.labelled(42, 46, "Lieu de naissance / Place of birth", person.birth_place)
    page.labelled(42, 53, "Date d'expiration / Date of expiry", _fr_date(person.expiry_date))
    page.watermark()
    page.mrz(mrz if mrz is not None else td3_mrz(person), bottom_mm=5.0)
    return page.encode(image_format)


def old_french_id_card(
    person: SpecimenPerson, *, mrz: Sequence[str] | None = None, dpi: int = 300, image_format: str = "PNG"
) -> bytes:
    """The French identity card of 1988-2021, front: identity, and its 2×36 zone at the bottom."""
    card = _Canvas(ID2_MM, dpi, background=(228, 232, 240))
    card.text(5, 3, "RÉPUBLIQUE FRANÇAISE", 2.6, bold=True)
    card.text(5, 8, "CARTE NATIONALE D'IDENTITÉ N° : " + person.document_number, 2.2)
    card.photo(5, 14, 26, 34)
    card.labelled(36, 14, "Nom :", person.surname.upper())
    card.labelled(36, 21, "Prénom(s) :", person.given_names)
    card.labelled(36, 28, "Sexe :", person.sex)
    card.labelled(55, 28, "Né(e) le :", _fr_date(person.birth_date))
    card.labelled(36, 35, "à :", person.birth_place)
    card.watermark()
    card.mrz(mrz if mrz is not None else french_1988_mrz(person), bottom_mm=3.5)
    return card.encode(image_format)


def blurred(image: bytes, radius: float = 6.0, image_format: str = "PNG") -> bytes:
    """The same image out of focus, as a shaky phone takes it."""
    with Image.open(io.BytesIO(image)) as source:
        out = source.convert("RGB").filter(ImageFilter.GaussianBlur(radius))
    buffer = io.BytesIO()
    out.save(buffer, "JPEG" if image_format.upper() in ("JPEG", "JPG") else "PNG")
    return buffer.getvalue()


def with_person(person: SpecimenPerson, **changes: object) -> SpecimenPerson:
    """A copy of ``person`` with some fields changed (a form that disagrees with the document)."""
    return replace(person, **changes)  # type: ignore[arg-type]

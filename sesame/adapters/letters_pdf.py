"""Postal letters rendered to PDF (fpdf2), laid out for a French window envelope (DL, right window).

The letter is rendered when it is queued, so the outbox row holds the very PDF that will be
printed and the dev inbox can show it. DejaVu Sans covers every character of our templates;
without it we fall back to a core font and transliterate to Latin-1.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

# A4 in millimetres. The recipient block sits where a DL window envelope shows it once the
# sheet is folded in three (window about 100 x 45 mm, 20 mm from the right, 45 mm from the top).
PAGE_MARGIN = 20.0
ADDRESS_X = 110.0
ADDRESS_Y = 50.0
ADDRESS_WIDTH = 85.0
BODY_START_Y = 105.0
LINE_HEIGHT = 5.5

# Typography that Latin-1 lacks, for the core-font fallback.
_LATIN1_REPLACEMENTS = str.maketrans(
    {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "€": "EUR", "\u202f": " "}
)


@dataclass(frozen=True, slots=True)
class LetterContent:
    """What goes on the page, already rendered in the recipient's language."""

    sender: Sequence[str]  # the sender block, one line each (company, return address)
    recipient: str  # name and postal address, one line each
    date_line: str  # "Paris, le 15 janvier 2026"
    subject: str
    body: str
    reference: str = ""
    subject_label: str = "Objet"
    reference_label: str = "Réf."


class _LetterPdf(FPDF):
    """FPDF with a footer: reference and page numbers, so a printed page is never orphaned."""

    def __init__(self, footer_text: str, font_family: str, transliterate: bool) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer_text
        self.letter_font = font_family
        self._transliterate = transliterate

    def clean(self, text: str) -> str:
        return to_latin1(text) if self._transliterate else text

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.letter_font, size=8)
        self.cell(0, 5, self.clean(f"{self._footer_text}  {self.page_no()}/{{nb}}"), align="R")


def to_latin1(text: str) -> str:
    """Closest Latin-1 text: typography replaced, other characters stripped of their accents."""
    text = text.translate(_LATIN1_REPLACEMENTS)
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(decomposed or "?")
    return "".join(out)


def _new_document(content: LetterContent, font_path: Path | None) -> _LetterPdf:
    footer = f"{content.reference_label} {content.reference}" if content.reference else ""
    if font_path is not None and font_path.is_file():
        pdf = _LetterPdf(footer, "DejaVu", transliterate=False)
        pdf.add_font("DejaVu", "", str(font_path))
        bold = font_path.with_name(font_path.stem + "-Bold" + font_path.suffix)
        pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else font_path))
    else:
        pdf = _LetterPdf(footer, "Helvetica", transliterate=True)
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_auto_page_break(auto=True, margin=PAGE_MARGIN + 5)
    pdf.set_title(pdf.clean(content.subject))
    pdf.set_creator("Sésame")
    return pdf


def _write_header(pdf: _LetterPdf, content: LetterContent) -> None:
    family = pdf.letter_font
    pdf.set_xy(PAGE_MARGIN, PAGE_MARGIN)
    for index, line in enumerate(content.sender):
        pdf.set_font(family, "B" if index == 0 else "", size=10)
        pdf.cell(0, LINE_HEIGHT - 0.5, pdf.clean(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, size=11)
    pdf.set_xy(ADDRESS_X, ADDRESS_Y)
    for line in content.recipient.splitlines():
        pdf.set_x(ADDRESS_X)
        pdf.cell(ADDRESS_WIDTH, LINE_HEIGHT, pdf.clean(line.strip()), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(ADDRESS_X, ADDRESS_Y + 40)
    pdf.cell(ADDRESS_WIDTH, LINE_HEIGHT, pdf.clean(content.date_line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _write_body(pdf: _LetterPdf, content: LetterContent) -> None:
    family = pdf.letter_font
    pdf.set_xy(PAGE_MARGIN, BODY_START_Y)
    pdf.set_font(family, "B", size=11)
    subject = f"{content.subject_label} : {content.subject}" if content.subject_label else content.subject
    pdf.multi_cell(0, LINE_HEIGHT, pdf.clean(subject), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(LINE_HEIGHT)
    pdf.set_font(family, size=11)
    for paragraph in content.body.strip().split("\n\n"):
        text = pdf.clean(paragraph.strip())
        pdf.multi_cell(0, LINE_HEIGHT, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(LINE_HEIGHT * 0.6)


def render_letter_pdf(
    content: LetterContent, *, created_at: datetime | None = None, font_path: Path | None = FONT_REGULAR
) -> bytes:
    """The letter as a PDF document (A4, one or more pages)."""
    pdf = _new_document(content, font_path)
    if created_at is not None:
        pdf.set_creation_date(created_at)
    pdf.add_page()
    _write_header(pdf, content)
    _write_body(pdf, content)
    return bytes(pdf.output())

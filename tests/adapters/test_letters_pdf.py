"""Letters rendered to PDF: a real document, with the text where a window envelope shows it.

pypdf is not a dependency, so the text is read back with a small reader of what fpdf2
writes: Flate streams, ``Tj`` strings, and the fonts' ToUnicode maps.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sesame.adapters.letters_pdf import FONT_REGULAR, LetterContent, render_letter_pdf, to_latin1

CONTENT = LetterContent(
    sender=["La Banque Postale", "115 rue de Sèvres", "75275 Paris Cedex 06"],
    recipient="Mme Zoé Lefèvre\n12 rue des Lilas\n75011 Paris",
    date_line="Le 15 janvier 2026",
    subject="Votre code d’accès",
    body="Madame,\n\nVotre numéro client est 0123456789 et votre code provisoire 482913.\n\nÀ bientôt.",
    reference="AB12CD",
)


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        raw = match.group(1)
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def _literal(raw: bytes) -> bytes:
    """Undo PDF string escapes: \\n, \\(, \\\\, octal."""
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def replace(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return escapes.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", replace, raw, flags=re.DOTALL)


def extract_texts(pdf: bytes) -> list[str]:
    """The page text decoded once per font map (the subsets of two fonts overlap), or as Latin-1."""
    streams = _streams(pdf)
    shown = [_literal(m.group(1)) for s in streams for m in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", s, re.DOTALL)]
    maps = []
    for stream in streams:
        if b"beginbfchar" in stream:
            pairs = re.findall(rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]{4,})>", stream)
            maps.append({int(k, 16): bytes.fromhex(v.decode()).decode("utf-16-be") for k, v in pairs})
    if not maps:
        return [" ".join(s.decode("latin-1") for s in shown)]
    texts = []
    for cmap in maps:
        decoded = [
            "".join(cmap.get(int.from_bytes(s[i : i + 2], "big"), "\ufffd") for i in range(0, len(s), 2)) for s in shown
        ]
        texts.append(" ".join(decoded))
    return texts


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


@pytest.mark.skipif(not FONT_REGULAR.is_file(), reason="DejaVu fonts (fonts-dejavu-core) not installed")
def test_renders_unicode_text_with_dejavu() -> None:
    pdf = render_letter_pdf(CONTENT, created_at=datetime(2026, 1, 15, tzinfo=UTC))
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) == 1
    body = max(extract_texts(pdf), key=len)
    for expected in ("Mme Zoé Lefèvre", "75011 Paris", "Le 15 janvier 2026", "0123456789", "482913", "À bientôt."):
        assert expected in body
    assert any("Votre code d’accès" in text for text in extract_texts(pdf))  # the subject, in bold
    assert b"/FontName /" in pdf and b"DejaVu" in pdf


def test_falls_back_to_a_core_font_without_dejavu(tmp_path: Path) -> None:
    pdf = render_letter_pdf(CONTENT, font_path=tmp_path / "missing.ttf")
    assert pdf.startswith(b"%PDF-") and page_count(pdf) == 1
    (text,) = extract_texts(pdf)
    assert "Mme Zoé Lefèvre" in text and "482913" in text and "Votre code d'accès" in text


def test_recipient_block_sits_in_the_envelope_window() -> None:
    pdf = render_letter_pdf(CONTENT, font_path=None)
    # 110 mm from the left edge, in points: the address lines start there.
    content = b"".join(_streams(pdf))
    positions = re.findall(rb"BT ([0-9.]+) ([0-9.]+) Td \((Mme Zo\\351 Lef\\350vre|Mme Zo\xe9 Lef\xe8vre)\)", content)
    assert positions, content[:500]
    x, y = (float(v) for v in positions[0][:2])
    assert x == pytest.approx(110 * 72 / 25.4, abs=4)  # plus the cell padding
    assert 595 < y < 700  # upper part of an A4 page (842 pt high): the window of a DL envelope


def test_long_letters_break_onto_more_pages() -> None:
    long_body = "\n\n".join(f"Paragraphe {i} : " + "du texte, encore du texte. " * 12 for i in range(40))
    pdf = render_letter_pdf(
        LetterContent(sender=["X"], recipient="A\nB", date_line="d", subject="s", body=long_body, reference="R")
    )
    assert page_count(pdf) >= 3
    assert "Paragraphe 39" in max(extract_texts(pdf), key=len)


def test_to_latin1_keeps_french_and_replaces_the_rest() -> None:
    assert to_latin1("Zoé « été » – 10 € … ’") == "Zoé « été » - 10 EUR ... '"
    assert to_latin1("Ševčík Dvořák") == "Sevcík Dvorák"  # í and á are Latin-1
    assert to_latin1("Ł") == "?"

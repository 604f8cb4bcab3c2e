"""Machine-readable zones read with Tesseract (Debian's ``tesseract-ocr``), behind ``ports.MrzReader``.

Tesseract's English model finds the text lines and reads OCR-B fairly well, but it drops, doubles
or misreads '<' fillers in long runs (often as a K), and in letters mixed with digits it takes a
5 for an S or a 9 for a Y. So the adapter uses what it knows of an MRZ: its characters sit on a
fixed pitch, in one font. It asks Tesseract for each character's box (hOCR), fits the pitch, puts
every character in its cell, and looks at each cell's ink: against OCR-B's own glyphs (Debian's
``fonts-ocr-b``) when the font is installed, else for the filler's chevron shape. The domain
(``sesame.domain.mrz``) then finds the zone and verifies its check digits. Without the binary,
``read`` says the engine is unavailable, so the check shows "not checked", never "passed".
"""

from __future__ import annotations

import html
import io
import itertools
import logging
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from statistics import median

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from sesame.domain.mrz import ALPHABET, FILLER, MrzReading, ParsedMrz, find_mrz_in, mrz_lines

log = logging.getLogger(__name__)

WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
#: Characters per line of the zones we read (TD1; TD2 and the French 1988 card; TD3).
LINE_LENGTHS = (30, 36, 44)
#: Larger images are refused before decoding (a decompression bomb is not a document).
MAX_PIXELS = 40_000_000
#: Text lines sloping more than this (about half a degree) are straightened and read again.
_SKEW_WORTH_FIXING = 0.008
#: Debian's fonts-ocr-b: the MRZ's own typeface, to compare each character's ink with.
OCR_B_FONT = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")


@dataclass(frozen=True, slots=True)
class _Pass:
    """One way of looking at the image: scaled to ``width`` pixels (then ``stretch``ed sideways: wider
    characters part Tesseract's fillers better), from ``top`` (a fraction of the height) down."""

    width: int
    top: float
    stretch: float = 1.0


# Cheapest first: documents have their zone at the bottom; a photo with margins needs the whole
# image. Each pass adds its readings of every line to those of the passes before, and the domain
# picks, line by line, the readings whose check digits agree.
PASSES = (
    _Pass(width=1000, top=0.55),
    _Pass(width=1000, top=0.55, stretch=1.4),
    _Pass(width=1400, top=0.0),
)


@dataclass(slots=True)
class _PooledLine:
    """One line of the picture as every pass read it; ``middle`` and ``height`` in fractions of its height."""

    middle: float
    height: float
    aligned: list[str]  # re-read cell by cell: preferred
    raw: list[str]  # as Tesseract read it

    @property
    def readings(self) -> list[str]:
        return self.aligned + [reading for reading in self.raw if reading not in self.aligned]


@dataclass(frozen=True, slots=True)
class _Glyph:
    char: str
    x0: int
    y0: int
    x1: int
    y1: int
    confidence: float

    @property
    def center(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True, slots=True)
class _Line:
    bbox: tuple[int, int, int, int]
    glyphs: tuple[_Glyph, ...]
    slope: float = 0.0  # of the baseline, as Tesseract estimated it

    @property
    def text(self) -> str:
        return "".join(glyph.char for glyph in self.glyphs)


class TesseractMrzReader:
    """Reads the zone of a document photo or scan (PNG, JPEG) by running the ``tesseract`` binary."""

    def __init__(
        self,
        binary: str = "tesseract",
        *,
        timeout: float = 15.0,
        language: str = "eng",
        ocr_b_font: Path | None = OCR_B_FONT,
    ) -> None:
        self.binary = binary
        self.timeout = timeout
        self.language = language
        self.ocr_b_font = ocr_b_font if ocr_b_font is not None and ocr_b_font.is_file() else None

    @property
    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def read(self, image: bytes) -> MrzReading:
        executable = shutil.which(self.binary)
        if executable is None:
            log.warning("mrz: OCR engine %r not found, the MRZ is not checked", self.binary)
            return MrzReading.engine_missing()
        try:
            picture = _decode(image)
        except ValueError as error:
            log.info("mrz: image not decoded (%s)", error)
            return MrzReading(engine_available=True)
        started = time.monotonic()
        try:
            session = _Session(self, executable, picture)
            session.look(PASSES[0])
            if not session.done and abs(session.slope) > _SKEW_WORTH_FIXING:
                # A photo taken askew: cells cut from slanted lines hold pieces of their neighbours.
                first = session.best
                session = _Session(self, executable, _straightened(picture, session.slope))
                session.offer(first)
                session.look(PASSES[0])
            for view in PASSES[1:]:
                if session.done:
                    break
                session.look(view)
        except _EngineBroken:
            return MrzReading.engine_missing()
        best = session.best
        log.info(
            "mrz: read in %.2fs: %s",
            time.monotonic() - started,
            "no zone" if best is None else f"{best.format.value}, failed checks {list(best.failed_checks)}",
        )
        if best is not None:
            return MrzReading(engine_available=True, lines=best.lines, mrz=best)
        return MrzReading(engine_available=True, lines=session.found)

    def hocr(self, executable: str, prepared: Image.Image) -> str | None:
        """Tesseract's hOCR of the image ('' when it failed on this image; None: the engine is broken)."""
        buffer = io.BytesIO()
        prepared.save(buffer, "PNG")
        command = [
            executable, "stdin", "stdout", "-l", self.language, "--psm", "6",
            "-c", f"tessedit_char_whitelist={WHITELIST}",
            "-c", "load_system_dawg=0", "-c", "load_freq_dawg=0",
            "-c", "hocr_char_boxes=1", "hocr",
        ]  # fmt: skip
        # One thread: the server runs several readings at once on few cores.
        environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                command, input=buffer.getvalue(), capture_output=True, timeout=self.timeout, env=environment
            )
        except subprocess.TimeoutExpired:
            log.warning("mrz: tesseract took more than %ss, reading abandoned", self.timeout)
            return ""
        except OSError as error:
            log.error("mrz: tesseract could not run: %s", error)
            return None
        if done.returncode != 0:
            # Our own PNG failing means the engine is unusable (e.g. its language data is missing).
            log.error("mrz: tesseract failed (%s): %s", done.returncode, done.stderr.decode(errors="replace")[-300:])
            return None
        return done.stdout.decode("utf-8", errors="replace")


class _Session:
    """One picture looked at in several passes: every line's readings pooled, the best zone so far."""

    def __init__(self, reader: TesseractMrzReader, executable: str, picture: Image.Image) -> None:
        self.reader, self.executable, self.picture = reader, executable, picture
        self.pooled: list[_PooledLine] = []
        self.slopes: list[float] = []
        self.best: ParsedMrz | None = None

    @property
    def done(self) -> bool:
        return self.best is not None and self.best.valid

    @property
    def slope(self) -> float:
        """The text lines' slope (median of the long lines Tesseract found)."""
        return median(self.slopes) if self.slopes else 0.0

    @property
    def found(self) -> tuple[str, ...]:
        """The lines that looked like MRZ lines, as first read."""
        return tuple(mrz_lines("\n".join(line.readings[0] for line in self.pooled)))

    def offer(self, parsed: ParsedMrz | None) -> None:
        if parsed is not None and (self.best is None or _better(parsed, self.best)):
            self.best = parsed

    def look(self, view: _Pass) -> None:
        prepared, top, scale = _prepare(self.picture, view)
        hocr = self.reader.hocr(self.executable, prepared)
        if hocr is None:
            raise _EngineBroken
        ink = _ink(prepared)
        for line in _parse_hocr(hocr):
            aligned = _align(line, ink, self.reader.ocr_b_font, view.stretch)
            y0, y1 = ((top + y / scale) / self.picture.height for y in (line.bbox[1], line.bbox[3]))
            _pool(self.pooled, _PooledLine((y0 + y1) / 2, y1 - y0, [aligned] if aligned else [], [line.text]))
            if len(line.glyphs) >= 20:
                self.slopes.append(line.slope * view.stretch)
        self.offer(find_mrz_in([line.readings for line in self.pooled]))


class _EngineBroken(Exception):
    """Tesseract is installed but cannot read (e.g. its language data is missing)."""


class NullMrzReader:
    """No OCR engine configured: every check says "not checked"."""

    available = False

    def read(self, image: bytes) -> MrzReading:
        return MrzReading.engine_missing()


def _better(candidate: ParsedMrz, best: ParsedMrz) -> bool:
    def score(parsed: ParsedMrz) -> tuple[bool, int]:
        return parsed.valid, sum(check.passed for check in parsed.checks)

    return score(candidate) > score(best)


# -- images -----------------------------------------------------------------------------------------


def _decode(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise ValueError(f"image of {opened.width}x{opened.height} pixels is too large")
            opened.load()
            picture = ImageOps.exif_transpose(opened)
            return ImageOps.grayscale(picture)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(str(error)) from error


def _prepare(picture: Image.Image, view: _Pass) -> tuple[Image.Image, float, float]:
    """The picture as ``view`` looks at it (contrast stretched), where its top row was in the
    picture, and the vertical scale."""
    scale = view.width / picture.width
    top = int(picture.height * view.top)
    cropped = picture.crop((0, top, picture.width, picture.height)) if top else picture
    size = (round(view.width * view.stretch), max(1, round(cropped.height * scale)))
    resized = cropped.resize(size, Image.Resampling.LANCZOS)
    return ImageOps.autocontrast(resized, cutoff=1), top, scale


def _straightened(picture: Image.Image, slope: float) -> Image.Image:
    """The picture turned so that text lines of this slope become horizontal (paper colour around)."""
    histogram = picture.histogram()
    paper = max(range(256), key=histogram.__getitem__)
    angle = math.degrees(math.atan(slope))
    return picture.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=paper)


def _pool(pooled: list[_PooledLine], line: _PooledLine) -> None:
    """Add a pass's reading of a line to the same line's other readings (matched by height on the picture)."""
    for known in pooled:
        if abs(known.middle - line.middle) < 0.5 * min(known.height, line.height):
            known.aligned.extend(reading for reading in line.aligned if reading not in known.aligned)
            known.raw.extend(reading for reading in line.raw if reading not in known.raw)
            return
    pooled.append(line)
    pooled.sort(key=lambda known: known.middle)


def _otsu(gray: Image.Image) -> int:
    """The threshold that best separates ink from paper (Otsu's method on the histogram)."""
    histogram = gray.histogram()
    total = sum(histogram)
    weighted_total = sum(level * count for level, count in enumerate(histogram))
    background = weighted = 0.0
    best, threshold = -1.0, 128
    for level, count in enumerate(histogram):
        background += count
        if background == 0:
            continue
        foreground = total - background
        if foreground == 0:
            break
        weighted += level * count
        mean_back, mean_fore = weighted / background, (weighted_total - weighted) / foreground
        between = background * foreground * (mean_back - mean_fore) ** 2
        if between > best:
            best, threshold = between, level
    return threshold


def _ink(gray: Image.Image) -> Image.Image:
    """255 where there is ink, 0 elsewhere."""
    threshold = _otsu(gray)
    return gray.point(lambda level: 255 if level <= threshold else 0)


def _is_chevron(cell: Image.Image) -> bool:
    """Whether a cell's ink is OCR-B's '<': a point at mid-height on the left, two arms ending at the
    top and bottom right, nothing at the right's middle (no letter or digit has that shape)."""
    box = cell.getbbox()
    if box is None:
        return False
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    if width < 4 or height < 6 or width > 1.6 * height:
        return False
    strip = max(2, width // 4)
    left = cell.crop((x0, y0, x0 + strip, y1)).getbbox()
    if left is None or left[3] - left[1] > 0.5 * height:
        return False
    band = max(1, height // 4)
    right = cell.crop((x1 - strip, y0, x1, y1))
    top = right.crop((0, 0, strip, band)).getbbox()
    bottom = right.crop((0, height - band, strip, height)).getbbox()
    middle = right.crop((0, int(height * 0.35), strip, int(height * 0.65) + 1)).getbbox()
    return top is not None and bottom is not None and middle is None


# -- Tesseract's hOCR ------------------------------------------------------------------------------------

_LINE = re.compile(
    r"class='ocr_(?:line|caption|textfloat|header)'[^>]*?title=\"bbox (\d+) (\d+) (\d+) (\d+)(?:; baseline (-?[\d.]+))?"
)
_GLYPH = re.compile(
    r"<span class='ocrx_cinfo' title='x_bboxes (\d+) (\d+) (\d+) (\d+); x_conf ([\d.]+)'>([^<]*)</span>"
)


def _parse_hocr(hocr: str) -> list[_Line]:
    lines = []
    starts = list(_LINE.finditer(hocr))
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(hocr)
        glyphs = tuple(
            _Glyph(html.unescape(match[6]), int(match[1]), int(match[2]), int(match[3]), int(match[4]), float(match[5]))
            for match in _GLYPH.finditer(hocr, start.end(), end)
        )
        if glyphs:
            bbox = (int(start[1]), int(start[2]), int(start[3]), int(start[4]))
            lines.append(_Line(bbox, glyphs, float(start[5]) if start[5] else 0.0))
    return lines


def _fit_pitch(glyphs: Sequence[_Glyph], pitch: float) -> tuple[float, float, list[int]]:
    """Origin and pitch of the cells, and each glyph's cell: a least-squares line through the glyph
    centres, refitted without the glyphs far off it (Tesseract's doubled or merged characters)."""
    # First cells from neighbour to neighbour, so that a rough pitch does not drift along the line
    # (glyphs as wide as a cell or more, merged by Tesseract, are no landmarks).
    steady = [glyph.center for glyph in glyphs if glyph.x1 - glyph.x0 < pitch]
    origin = steady[0] if steady else glyphs[0].center
    points = [(0, origin)]
    for before, after in itertools.pairwise(steady):
        points.append((points[-1][0] + max(0, round((after - before) / pitch)), after))
    for _ in range(3):
        if len({cell for cell, _ in points}) < 2:
            break
        mean_cell = sum(cell for cell, _ in points) / len(points)
        mean_center = sum(center for _, center in points) / len(points)
        spread = sum((cell - mean_cell) ** 2 for cell, _ in points)
        fitted = sum((cell - mean_cell) * (center - mean_center) for cell, center in points) / spread
        if fitted <= 1:  # no line of glyphs after all: keep the rough pitch
            break
        pitch, origin = fitted, mean_center - fitted * mean_cell
        points = [(cell, center) for cell, center in points if abs(center - origin - pitch * cell) < 0.2 * pitch]
    return origin, pitch, [round((glyph.center - origin) / pitch) for glyph in glyphs]


def _cells(line: _Line) -> tuple[float, float, int, list[tuple[int, _Glyph]]] | None:
    """The cell grid of a line on an MRZ pitch (origin, pitch, length) and each glyph's cell; None
    when the line is not as long as an MRZ line."""
    glyphs = [glyph for glyph in line.glyphs if glyph.char in ALPHABET]
    if len(glyphs) < min(LINE_LENGTHS) - 8:
        return None
    steps = [b.center - a.center for a, b in itertools.pairwise(glyphs) if b.center > a.center]
    if not steps:
        return None
    rough = median(steps)
    regular = [step for step in steps if 0.75 * rough <= step <= 1.3 * rough]
    if len(regular) < len(steps) // 2:
        return None
    origin, pitch, cells = _fit_pitch(glyphs, median(regular))
    origin, cells = origin + pitch * cells[0], [cell - cells[0] for cell in cells]
    count = cells[-1] + 1
    length = min(LINE_LENGTHS, key=lambda n: abs(n - count))
    if abs(length - count) > 2 or pitch <= 4:
        return None
    return origin, pitch, length, list(zip(cells, glyphs, strict=True))


def _align(line: _Line, ink: Image.Image, ocr_b_font: Path | None, stretch: float = 1.0) -> str | None:
    """The line re-read cell by cell on its pitch, or None when it is not a line of MRZ length."""
    grid = _cells(line)
    if grid is None:
        return None
    origin, pitch, length, placed = grid
    templates = _templates(ocr_b_font, stretch) if ocr_b_font else None
    scale = _COMPARE_PITCH * stretch / pitch
    chosen: dict[int, _Glyph] = {}
    for cell, glyph in placed:
        if glyph.char == FILLER and glyph.x1 - glyph.x0 > 1.5 * pitch:
            # Tesseract sometimes boxes a run of fillers as one: each cell it covers is a filler.
            for covered in range(round((glyph.x0 - origin) / pitch), round((glyph.x1 - origin) / pitch) + 1):
                chosen.setdefault(covered, glyph)
            continue
        current = chosen.get(cell)
        if abs(glyph.center - (origin + pitch * cell)) <= 0.4 * pitch and (
            current is None or glyph.confidence > current.confidence
        ):
            chosen[cell] = glyph
    top, bottom, margin = line.bbox[1], line.bbox[3] + 1, 0.06 * pitch
    text = []
    for cell in range(length):
        centre = origin + pitch * cell
        ink_of_cell = ink.crop((round(centre - pitch / 2 + margin), top, round(centre + pitch / 2 - margin), bottom))
        read = chosen.get(cell)
        char = read.char if read is not None and read.x1 - read.x0 <= 1.5 * pitch else FILLER
        if templates is not None:
            char = _closest(ink_of_cell, char, templates, scale)
        elif char != FILLER and _is_chevron(ink_of_cell):
            char = FILLER
        text.append(char)
    return "".join(text)


# -- OCR-B's glyphs ---------------------------------------------------------------------------------------

#: Cells and OCR-B's glyphs are compared at this pitch, without scaling each glyph to a box: a
#: digit is taller than a letter in OCR-B, which is what tells 0 from O.
_COMPARE_PITCH = 32
_COMPARE_BOX = (56, 44)
#: How much better OCR-B's best glyph must fit a cell than Tesseract's character to replace it.
_CLEARLY_BETTER = 0.7


def _main_glyph(cell: Image.Image) -> Image.Image:
    """The cell without the tips of its neighbours: the ink columns around its middle, up to the
    first blank column on either side."""
    columns = cell.resize((cell.width, 1), Image.Resampling.BOX).tobytes()
    inked = [value > 0 for value in columns]
    middle = cell.width // 2
    if not any(inked):
        return cell
    if not inked[middle]:
        middle = min((i for i, on in enumerate(inked) if on), key=lambda i: abs(i - middle))
    left = right = middle
    while left > 0 and inked[left - 1]:
        left -= 1
    while right < cell.width - 1 and inked[right + 1]:
        right += 1
    if left == 0 and right == cell.width - 1:
        return cell
    blank = Image.new("L", cell.size, 0)
    blank.paste(cell.crop((left, 0, right + 1, cell.height)), (left, 0))
    return blank


def _normalized(ink: Image.Image, scale: float) -> int | None:
    """A glyph's ink scaled by ``scale``, centred in the comparison box, as the bits of an integer
    (one per pixel: the distance between two glyphs is a popcount)."""
    box = ink.getbbox()
    if box is None:
        return None
    glyph = ink.crop(box)
    size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    glyph = glyph.resize(size, Image.Resampling.BILINEAR)
    out = Image.new("L", _COMPARE_BOX, 0)
    out.paste(glyph, ((_COMPARE_BOX[0] - glyph.width) // 2, (_COMPARE_BOX[1] - glyph.height) // 2))
    return int.from_bytes(out.point(lambda level: 1 if level > 127 else 0).tobytes(), "big")


@lru_cache(maxsize=8)
def _templates(font_path: Path, stretch: float) -> dict[str, int]:
    """Every MRZ character drawn in OCR-B at the comparison pitch, stretched sideways like the image."""
    font = ImageFont.truetype(str(font_path), 100)
    font = ImageFont.truetype(str(font_path), round(_COMPARE_PITCH * 100 / font.getlength(FILLER)))
    templates = {}
    for char in WHITELIST:
        canvas = Image.new("L", (_COMPARE_PITCH * 3, _COMPARE_PITCH * 3), 0)
        ImageDraw.Draw(canvas).text((_COMPARE_PITCH, _COMPARE_PITCH // 2), char, font=font, fill=255)
        canvas = canvas.resize((round(canvas.width * stretch), canvas.height), Image.Resampling.BILINEAR)
        glyph = _normalized(canvas.point(lambda level: 255 if level > 127 else 0), 1.0)
        if glyph is not None:
            templates[char] = glyph
    return templates


def _closest(ink: Image.Image, read: str, templates: dict[str, int], scale: float) -> str:
    """OCR-B's character for this cell when it fits clearly better than what Tesseract read."""
    glyph = _normalized(_main_glyph(ink), scale)
    if glyph is None:
        return FILLER if read not in templates else read
    distances = {char: (glyph ^ template).bit_count() for char, template in templates.items()}
    best = min(distances, key=distances.__getitem__)
    if best == read or read not in distances or distances[best] < _CLEARLY_BETTER * distances[read]:
        return best
    return read

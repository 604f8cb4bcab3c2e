"""Identity document photos made safe: type by content, full decode, no metadata, nothing hidden.

``sanitize_image`` takes the uploaded bytes (never the file name nor the declared type) and, in
order, each step refusing with an ``ImageRejection`` reason:

1. size: more than ``max_bytes`` -> ``too_large``;
2. type by magic bytes: JPEG or PNG; another image format -> ``unsupported_type``; anything
   else (PDF, ZIP, HTML, text, nothing) -> ``not_an_image``;
3. structure: the JPEG segments / PNG chunks are walked to the image's end (EOI / IEND, PNG
   CRCs checked): cut short -> ``truncated``; bytes after the end -> ``polyglot`` (a ZIP, an
   HTML page or a PDF appended); HTML, scripts, PDF or ZIP headers inside metadata segments
   -> ``polyglot``. One exception: a JPEG whose Multi-Picture Format index (APP2 "MPF")
   announces more images may be followed by complete JPEG images, which is how phones store
   HDR gain maps and depth maps; they are checked the same way, then dropped;
4. pixels: more than ``max_pixels`` (as the JPEG frame header or the PNG IHDR declares it)
   -> ``too_many_pixels`` before any decoding (Pillow's own decompression bomb guard and a
   check of the decoded size stay as second lines);
5. decoding in full with Pillow, restricted to its JPEG and PNG decoders: failure ->
   ``truncated``; animations -> ``unsupported_type``;
6. re-encoding: EXIF orientation applied, colours converted to sRGB when an ICC profile says
   otherwise, then written anew (JPEG quality 90, or PNG) with no metadata at all: no EXIF
   (so no GPS position, no camera serial), no XMP, no comments, no ICC profile, no text chunks.

Motion photos (a video appended to the JPEG) are refused as ``polyglot``: the person can
export a still photo, or take a screenshot.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from sesame.domain.images import JPEG, PNG, ImageRejected, ImageRejection, SanitizedImage

#: 40 million pixels: a 48 MP phone photo is 8000 x 6000; an ID card needs far fewer.
DEFAULT_MAX_PIXELS = 40_000_000
JPEG_QUALITY = 90
#: At most this many JPEG images in one Multi-Picture file (primary, gain map, depth...).
MAX_JPEG_PARTS = 4

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Other image formats: recognised to say "not this type" rather than "not an image".
_OTHER_IMAGES = (b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00", b"\xff\x0a", b"8BPS")
_ISO_BMFF_IMAGES = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis", b"jxl ")
#: Signs of another file type or active content inside an image's metadata.
_FOREIGN = (
    b"<script",
    b"<html",
    b"<body",
    b"<iframe",
    b"<svg",
    b"<!doctype",
    b"<?php",
    b"javascript:",
    b"%pdf-",
    b"pk\x03\x04",
    b"pk\x05\x06",
    b"rar!\x1a\x07",
    b"7z\xbc\xaf",
)


def sanitize_image(data: bytes, *, max_bytes: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> SanitizedImage:
    """The image in ``data``, re-encoded without metadata; raises ``ImageRejected``."""
    if max_bytes <= 0 or max_pixels <= 0:
        raise ValueError("max_bytes and max_pixels must be positive")
    if len(data) > max_bytes:
        raise ImageRejected(ImageRejection.TOO_LARGE, f"{len(data)} bytes")
    media_type = _sniff(data)
    layout = _check_jpeg(data) if media_type == JPEG else _check_png(data)
    _check_metadata(layout.metadata)
    if layout.width * layout.height > max_pixels:
        raise ImageRejected(ImageRejection.TOO_MANY_PIXELS, f"{layout.width}x{layout.height}")
    return _reencode(data, media_type, max_pixels)


class PillowImageSanitizer:
    """The ``ImageSanitizer`` port (``sanitize_image`` with a pixel limit chosen once)."""

    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels

    def sanitize(self, data: bytes, *, max_bytes: int) -> SanitizedImage:
        return sanitize_image(data, max_bytes=max_bytes, max_pixels=self.max_pixels)


# -- 2. type -------------------------------------------------------------------------------------


def _sniff(data: bytes) -> str:
    if data.startswith(_JPEG_MAGIC):
        return JPEG
    if data.startswith(_PNG_MAGIC):
        return PNG
    if data.startswith(_OTHER_IMAGES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise ImageRejected(ImageRejection.UNSUPPORTED_TYPE)
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_BMFF_IMAGES:
        raise ImageRejected(ImageRejection.UNSUPPORTED_TYPE, "HEIC/AVIF")
    if data.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        raise ImageRejected(ImageRejection.UNSUPPORTED_TYPE, "JPEG XL")
    raise ImageRejected(ImageRejection.NOT_AN_IMAGE)


# -- 3. structure --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Layout:
    """What walking the file's structure found: its metadata, and the size its header declares."""

    metadata: list[bytes] = field(default_factory=list)
    width: int = 0
    height: int = 0


#: Start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _check_jpeg(data: bytes) -> _Layout:
    """Walk the JPEG to its end, then any Multi-Picture parts that its MPF index announces."""
    layout = _Layout()
    end = _jpeg_end(data, 0, layout)
    if end == len(data):
        return layout
    if not any(segment.startswith(b"MPF\x00") for segment in layout.metadata):
        raise ImageRejected(ImageRejection.POLYGLOT, f"{len(data) - end} bytes after the image")
    for _ in range(MAX_JPEG_PARTS - 1):
        if not data.startswith(_JPEG_MAGIC, end):
            raise ImageRejected(ImageRejection.POLYGLOT, f"{len(data) - end} bytes after the images")
        end = _jpeg_end(data, end, _Layout(metadata=layout.metadata))
        if end == len(data):
            return layout
    raise ImageRejected(ImageRejection.POLYGLOT, "too many images in one file")


def _jpeg_end(data: bytes, start: int, layout: _Layout) -> int:
    """Offset just after the EOI of the JPEG that starts at ``start`` (ITU T.81 Annex B)."""
    size = len(data)
    pos = start + 2
    while True:
        if pos >= size:
            raise ImageRejected(ImageRejection.TRUNCATED, "no end of image")
        if data[pos] != 0xFF:
            raise ImageRejected(ImageRejection.TRUNCATED, f"no marker at {pos}")
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise ImageRejected(ImageRejection.TRUNCATED, "no end of image")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            continue
        if marker in (0x00, 0xD8):
            raise ImageRejected(ImageRejection.TRUNCATED, f"unexpected marker {marker:#x}")
        if pos + 2 > size:
            raise ImageRejected(ImageRejection.TRUNCATED, "segment cut")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > size:
            raise ImageRejected(ImageRejection.TRUNCATED, "segment cut")
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            layout.metadata.append(data[pos + 2 : pos + length])
        elif marker in _SOF_MARKERS and length >= 8 and not layout.width:
            layout.height, layout.width = struct.unpack(">HH", data[pos + 3 : pos + 7])
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data up to the next real marker
            pos = _entropy_end(data, pos)


def _entropy_end(data: bytes, pos: int) -> int:
    size = len(data)
    while True:
        found = data.find(b"\xff", pos)
        if found < 0 or found + 1 >= size:
            raise ImageRejected(ImageRejection.TRUNCATED, "scan data cut")
        following = data[found + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart marker
            pos = found + 2
        elif following == 0xFF:  # fill byte before a marker
            pos = found + 1
        else:
            return found


def _check_png(data: bytes) -> _Layout:
    """Walk the PNG's chunks (CRCs checked) to IEND; its chunks other than image data."""
    layout = _Layout()
    size = len(data)
    pos = len(_PNG_MAGIC)
    first = True
    while True:
        if pos + 8 > size:
            raise ImageRejected(ImageRejection.TRUNCATED, "chunk header cut")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or not kind.isalpha() or (first and kind != b"IHDR"):
            raise ImageRejected(ImageRejection.TRUNCATED, "damaged chunk")
        if end > size:
            raise ImageRejected(ImageRejection.TRUNCATED, "chunk cut")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise ImageRejected(ImageRejection.TRUNCATED, f"bad CRC in {kind!r}")
        if kind in (b"acTL", b"fcTL", b"fdAT"):
            raise ImageRejected(ImageRejection.UNSUPPORTED_TYPE, "animated PNG")
        if first:
            if length != 13:
                raise ImageRejected(ImageRejection.TRUNCATED, "damaged header")
            layout.width, layout.height = struct.unpack(">II", data[pos + 8 : pos + 16])
        elif kind != b"IDAT":
            layout.metadata.append(data[pos + 8 : end - 4])
        first = False
        pos = end
        if kind == b"IEND":
            if pos != size:
                raise ImageRejected(ImageRejection.POLYGLOT, f"{size - pos} bytes after the image")
            return layout


def _check_metadata(segments: list[bytes]) -> None:
    for segment in segments:
        lowered = segment.lower()
        for sign in _FOREIGN:
            if sign in lowered:
                raise ImageRejected(ImageRejection.POLYGLOT, f"{sign!r} in metadata")


# -- 4-6. pixels, decoding, re-encoding -----------------------------------------------------------


def _reencode(data: bytes, media_type: str, max_pixels: int) -> SanitizedImage:
    pillow_format = "JPEG" if media_type == JPEG else "PNG"
    try:
        with warnings.catch_warnings():
            # Pillow's other warnings (a malformed MPO index...) change nothing: the pixels decide.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise ImageRejected(ImageRejection.TRUNCATED, "empty image")
                if width * height > max_pixels:
                    raise ImageRejected(ImageRejection.TOO_MANY_PIXELS, f"{width}x{height}")
                if getattr(image, "is_animated", False):
                    raise ImageRejected(ImageRejection.UNSUPPORTED_TYPE, "animated")
                image.load()
                upright = ImageOps.exif_transpose(image)
                clean = _to_srgb(upright, image.info.get("icc_profile"))
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(ImageRejection.TOO_MANY_PIXELS, str(error)) from error
    except UnidentifiedImageError as error:
        raise ImageRejected(ImageRejection.NOT_AN_IMAGE, str(error)) from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, MemoryError) as error:
        raise ImageRejected(ImageRejection.TRUNCATED, f"{type(error).__name__}: {error}") from error

    if media_type == JPEG and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    elif media_type == PNG and (clean.mode not in ("1", "L", "LA", "RGB", "RGBA", "P") or "transparency" in clean.info):
        clean = clean.convert(
            "RGBA" if clean.mode in ("P", "PA", "LA", "RGBA") or "transparency" in clean.info else "RGB"
        )
    clean.info = {}  # what PNG writing would copy from the source (ICC profile, text, dpi)
    out = io.BytesIO()
    if media_type == JPEG:
        clean.save(out, "JPEG", quality=JPEG_QUALITY)
    else:
        clean.save(out, "PNG")
    content = out.getvalue()
    return SanitizedImage(
        content=content,
        media_type=media_type,
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """The pixels in sRGB (the profile is about to be dropped with the other metadata)."""
    if image.mode == "CMYK" and not icc_profile:
        return image.convert("RGB")
    if not icc_profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image.copy() if image.mode != "CMYK" else image.convert("RGB")
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        target = ImageCms.createProfile("sRGB")
        mode = "RGBA" if image.mode == "RGBA" else "L" if image.mode == "L" else "RGB"
        if mode == "L":
            return image.copy()
        converted = ImageCms.profileToProfile(image, source, target, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken profile: keep the pixels as they are rather than refuse a readable photo.
        return image.convert("RGB") if image.mode == "CMYK" else image.copy()
    return converted if converted is not None else image.copy()

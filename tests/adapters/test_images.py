"""Identity document photos: judged by content, decoded in full, re-encoded without metadata.

Every bad input is built here from real images that Pillow writes: nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms

from sesame.adapters.images import PillowImageSanitizer, sanitize_image
from sesame.domain.images import JPEG, PNG, ImageRejected, ImageRejection

MB = 1024 * 1024
LIMIT = 3 * MB
#: EXIF tags: Orientation, Make, Model, BodySerialNumber, GPS IFD pointer.
ORIENTATION, MAKE, MODEL, SERIAL, GPS_IFD = 0x0112, 0x010F, 0x0110, 0xA431, 0x8825


def _photo(width: int = 120, height: int = 80) -> Image.Image:
    """Left half red, right half blue: orientation changes are visible in the pixels."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    return image


def _exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "Canon"
    exif[MODEL] = "EOS 5D"
    exif[SERIAL] = "SN-0042-1337"
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}  # Paris
    return exif


def _jpeg(image: Image.Image | None = None, **options: object) -> bytes:
    out = io.BytesIO()
    (image or _photo()).save(out, "JPEG", quality=92, **options)
    return out.getvalue()


def _png(image: Image.Image | None = None, **options: object) -> bytes:
    out = io.BytesIO()
    (image or _photo()).save(out, "PNG", **options)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _reason(data: bytes, **options: int) -> ImageRejection:
    with pytest.raises(ImageRejected) as raised:
        sanitize_image(data, max_bytes=options.pop("max_bytes", LIMIT), **options)
    return raised.value.reason


# -- what is accepted ----------------------------------------------------------------------------


def test_a_jpeg_comes_out_as_a_clean_jpeg() -> None:
    data = _jpeg(exif=_exif().tobytes())
    image = sanitize_image(data, max_bytes=LIMIT)
    assert image.media_type == JPEG == "image/jpeg"
    assert (image.width, image.height) == (120, 80)
    assert image.sha256 == hashlib.sha256(image.content).hexdigest()
    assert image.extension == ".jpg"
    with Image.open(io.BytesIO(image.content)) as out:
        assert out.format == "JPEG"
        assert out.size == (120, 80)
        out.load()


def test_exif_gps_and_every_other_metadata_are_stripped() -> None:
    data = _jpeg(exif=_exif().tobytes(), comment=b"shot at home, 12 rue des Lilas")
    assert b"SN-0042-1337" in data and b"Lilas" in data  # the upload has them
    image = sanitize_image(data, max_bytes=LIMIT)
    with Image.open(io.BytesIO(image.content)) as out:
        assert dict(out.getexif()) == {}
        assert out.getexif().get_ifd(GPS_IFD) == {}
        assert "exif" not in out.info
        assert "comment" not in out.info
        assert "icc_profile" not in out.info
    assert b"SN-0042-1337" not in image.content
    assert b"Canon" not in image.content
    assert b"Lilas" not in image.content
    assert b"Exif" not in image.content


def test_the_exif_orientation_is_applied_before_it_is_dropped() -> None:
    # Orientation 6: the camera was turned; viewers rotate 90° clockwise to show it upright.
    data = _jpeg(exif=_exif(orientation=6).tobytes())
    image = sanitize_image(data, max_bytes=LIMIT)
    assert (image.width, image.height) == (80, 120)
    with Image.open(io.BytesIO(image.content)) as out:
        top = out.convert("RGB").getpixel((40, 10))
        bottom = out.convert("RGB").getpixel((40, 110))
        assert ORIENTATION not in out.getexif()
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 > top[2]  # the red half is now on top
    assert bottom[2] > 150 > bottom[0]


def test_a_png_stays_png_without_its_text_chunks_nor_exif() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Marie Dupont, 12 rue des Lilas")
    image_in = _photo().convert("RGBA")
    data = _png(image_in, pnginfo=info, exif=_exif().tobytes())
    image = sanitize_image(data, max_bytes=LIMIT)
    assert image.media_type == PNG and image.extension == ".png"
    with Image.open(io.BytesIO(image.content)) as out:
        assert out.format == "PNG"
        assert out.mode == "RGBA"
        assert dict(out.getexif()) == {}
        assert "Author" not in out.info
    assert b"Lilas" not in image.content
    assert b"eXIf" not in image.content and b"tEXt" not in image.content


def test_a_jpeg_named_png_is_judged_by_its_bytes() -> None:
    # The sanitizer never sees a name nor a declared type: what the bytes are decides.
    image = PillowImageSanitizer().sanitize(_jpeg(), max_bytes=LIMIT)
    assert image.media_type == JPEG


def test_progressive_and_grey_jpegs_and_palette_pngs_are_accepted() -> None:
    assert sanitize_image(_jpeg(progressive=True), max_bytes=LIMIT).media_type == JPEG
    assert sanitize_image(_jpeg(_photo().convert("L")), max_bytes=LIMIT).width == 120
    palette = sanitize_image(_png(_photo().convert("P", palette=Image.Palette.ADAPTIVE)), max_bytes=LIMIT)
    with Image.open(io.BytesIO(palette.content)) as out:
        assert out.convert("RGB").getpixel((10, 10)) == (220, 20, 20)


def test_a_cmyk_jpeg_with_an_icc_profile_comes_out_rgb_without_the_profile() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _jpeg(_photo().convert("CMYK"))
    image = sanitize_image(data, max_bytes=LIMIT)
    with Image.open(io.BytesIO(image.content)) as out:
        assert out.mode == "RGB"
    tagged = sanitize_image(_jpeg(icc_profile=srgb), max_bytes=LIMIT)
    with Image.open(io.BytesIO(tagged.content)) as out:
        assert "icc_profile" not in out.info


def test_a_multi_picture_jpeg_keeps_only_its_primary_image() -> None:
    # Phones store HDR gain maps as further JPEGs, announced by an APP2 "MPF" segment.
    primary = _jpeg()
    mpf = b"\xff\xe2" + struct.pack(">H", 2 + 8) + b"MPF\x00II*\x00"
    gain_map = _jpeg(_photo(60, 40))
    image = sanitize_image(primary[:2] + mpf + primary[2:] + gain_map, max_bytes=LIMIT)
    assert (image.width, image.height) == (120, 80)
    assert b"MPF" not in image.content


# -- what is refused ---------------------------------------------------------------------------


def test_too_large() -> None:
    data = _jpeg()
    assert _reason(data, max_bytes=len(data) - 1) is ImageRejection.TOO_LARGE
    assert sanitize_image(data, max_bytes=len(data)).media_type == JPEG


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40,
        b"<!doctype html><html><script>alert(1)</script></html>",
        b"just some text, named passport.jpg",
    ],
    ids=["empty", "pdf", "zip", "html", "text"],
)
def test_not_an_image(data: bytes) -> None:
    assert _reason(data) is ImageRejection.NOT_AN_IMAGE


def test_something_prepended_to_a_jpeg_is_not_an_image() -> None:
    assert _reason(b"PK\x03\x04" + _jpeg()) is ImageRejection.NOT_AN_IMAGE
    assert _reason(b"<html><body>hi</body></html>" + _jpeg()) is ImageRejection.NOT_AN_IMAGE


def test_a_one_pixel_gif_is_an_unsupported_type() -> None:
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    assert out.getvalue().startswith(b"GIF8")
    assert _reason(out.getvalue()) is ImageRejection.UNSUPPORTED_TYPE


@pytest.mark.parametrize("pillow_format", ["WEBP", "BMP", "TIFF"])
def test_other_image_formats_are_unsupported(pillow_format: str) -> None:
    out = io.BytesIO()
    _photo().save(out, pillow_format)
    assert _reason(out.getvalue()) is ImageRejection.UNSUPPORTED_TYPE


def test_an_animated_png_is_unsupported() -> None:
    out = io.BytesIO()
    frames = [_photo(), _photo().rotate(180)]
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    assert b"acTL" in out.getvalue()
    assert _reason(out.getvalue()) is ImageRejection.UNSUPPORTED_TYPE


def test_a_truncated_jpeg() -> None:
    data = _jpeg(_photo(400, 300))
    for cut in (len(data) - 2, len(data) // 2, 200, 4):
        assert _reason(data[:cut]) is ImageRejection.TRUNCATED, cut


def test_a_truncated_or_damaged_png() -> None:
    data = _png(_photo(400, 300))
    assert _reason(data[:-12]) is ImageRejection.TRUNCATED  # no IEND
    assert _reason(data[: len(data) // 2]) is ImageRejection.TRUNCATED
    damaged = bytearray(data)
    damaged[60] ^= 0xFF  # inside the first IDAT: its CRC no longer matches
    assert _reason(bytes(damaged)) is ImageRejection.TRUNCATED


def test_a_png_with_a_zip_appended_is_a_polyglot() -> None:
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(document.cookie)</script>")
    polyglot = _png() + archive.getvalue()
    with zipfile.ZipFile(io.BytesIO(polyglot)) as check:  # it really is a valid ZIP too
        assert check.namelist() == ["payload.html"]
    assert _reason(polyglot) is ImageRejection.POLYGLOT


def test_a_jpeg_with_html_appended_is_a_polyglot() -> None:
    assert _reason(_jpeg() + b"<html><script>alert(1)</script></html>") is ImageRejection.POLYGLOT


def test_a_jpeg_with_a_pdf_appended_is_a_polyglot() -> None:
    assert _reason(_jpeg() + b"%PDF-1.4\n%%EOF\n") is ImageRejection.POLYGLOT


def test_a_second_jpeg_without_a_multi_picture_index_is_a_polyglot() -> None:
    assert _reason(_jpeg() + _jpeg()) is ImageRejection.POLYGLOT


def test_html_hidden_in_a_jpeg_comment_is_a_polyglot() -> None:
    assert _reason(_jpeg(comment=b"<script>fetch('/steal')</script>")) is ImageRejection.POLYGLOT


def test_a_zip_hidden_in_a_png_text_chunk_is_a_polyglot() -> None:
    data = _png()
    hidden = _png_chunk(b"tEXt", b"Comment\x00PK\x03\x04payload")
    iend = data.rindex(b"IEND") - 4
    assert _reason(data[:iend] + hidden + data[iend:]) is ImageRejection.POLYGLOT


def test_a_png_bomb_header_is_refused_before_decoding() -> None:
    # A 20000 x 20000 PNG whose pixels would take 1.2 GB: the header alone decides.
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 60001))
        + _png_chunk(b"IEND", b"")
    )
    assert len(bomb) < 1000
    assert _reason(bomb) is ImageRejection.TOO_MANY_PIXELS


def test_a_jpeg_with_too_many_pixels_is_refused() -> None:
    data = _jpeg(_photo(400, 300))
    assert _reason(data, max_pixels=400 * 300 - 1) is ImageRejection.TOO_MANY_PIXELS
    assert sanitize_image(data, max_bytes=LIMIT, max_pixels=400 * 300).width == 400
    # A JPEG header that claims 20000 x 20000 (the frame header patched): refused unread.
    sof = data.index(b"\xff\xc0")
    patched = data[: sof + 5] + struct.pack(">HH", 20000, 20000) + data[sof + 9 :]
    assert _reason(patched) is ImageRejection.TOO_MANY_PIXELS


def test_rejections_carry_a_code_for_the_page() -> None:
    with pytest.raises(ImageRejected) as raised:
        sanitize_image(b"GIF89a", max_bytes=LIMIT)
    assert raised.value.reason.value == "unsupported_type"
    assert raised.value.details == {"reason": "unsupported_type"}
    assert raised.value.code == "image_rejected"

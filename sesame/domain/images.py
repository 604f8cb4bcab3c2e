"""Uploaded images of identity documents, once made safe: what the enrolment keeps of an upload.

An upload is untrusted bytes. ``sesame.ports.ImageSanitizer`` turns them into a
:class:`SanitizedImage` (a JPEG or PNG decoded in full and re-encoded without metadata) or
refuses them with one :class:`ImageRejection` reason, which the page shows as a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sesame.domain.errors import InvalidInput

JPEG = "image/jpeg"
PNG = "image/png"
#: The types an identity document photo may have (seed 001: "JPG or PNG").
ACCEPTED_MEDIA_TYPES = frozenset({JPEG, PNG})


class ImageRejection(StrEnum):
    #: More bytes than the policy allows (seed 001: 3 MB).
    TOO_LARGE = "too_large"
    #: Not an image at all (a PDF, a ZIP, text), or empty.
    NOT_AN_IMAGE = "not_an_image"
    #: An image, but not JPEG or PNG (GIF, WebP, HEIC, TIFF...), or an animation.
    UNSUPPORTED_TYPE = "unsupported_type"
    #: Cut short: the upload did not finish, or the file is damaged.
    TRUNCATED = "truncated"
    #: Something else hides in the file (data after the image's end, a ZIP, HTML, a script).
    POLYGLOT = "polyglot"
    #: Too many pixels to decode safely (a "decompression bomb").
    TOO_MANY_PIXELS = "too_many_pixels"


class ImageRejected(InvalidInput):
    """The upload is refused; ``reason`` says why."""

    code = "image_rejected"

    def __init__(self, reason: ImageRejection, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason), reason=str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SanitizedImage:
    """A re-encoded image: no EXIF, no GPS, no comments, upright, and nothing after its end."""

    content: bytes = field(repr=False)
    media_type: str
    width: int
    height: int
    #: SHA-256 of ``content`` (hex): names this exact image in evidence and logs.
    sha256: str

    @property
    def extension(self) -> str:
        return ".png" if self.media_type == PNG else ".jpg"

"""The app's icons, drawn with Pillow in the tenant's colours (no binary file in the repository).

A key on a full-bleed square: "maskable" (the key stays within the safe zone, the central 80 %),
so launchers may crop the icon to a circle or a squircle.
"""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO

from PIL import Image, ImageDraw

SIZES = (192, 512)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@lru_cache(maxsize=32)
def icon_png(size: int, background: str, foreground: str) -> bytes:
    """A ``size`` x ``size`` PNG: a key in ``foreground`` on ``background`` (``#rrggbb`` each)."""
    if size not in SIZES:
        raise ValueError(f"icons are {SIZES} pixels")
    scale = 4  # drawn large, then reduced: smooth edges without anti-aliasing primitives
    big = size * scale
    image = Image.new("RGB", (big, big), _rgb(background))
    draw = ImageDraw.Draw(image)
    ink = _rgb(foreground)
    unit = big / 100
    # The bow of the key: a ring.
    cx, cy, outer, inner = 38 * unit, 50 * unit, 17 * unit, 8 * unit
    draw.ellipse((cx - outer, cy - outer, cx + outer, cy + outer), fill=ink)
    draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=_rgb(background))
    # The blade and its two teeth.
    draw.rectangle((cx + outer - 2 * unit, cy - 4 * unit, 78 * unit, cy + 4 * unit), fill=ink)
    draw.rectangle((66 * unit, cy + 4 * unit, 71 * unit, cy + 14 * unit), fill=ink)
    draw.rectangle((74 * unit, cy + 4 * unit, 78 * unit, cy + 11 * unit), fill=ink)
    small = image.resize((size, size), Image.Resampling.LANCZOS)
    out = BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()

"""A readable name for a browser's User-Agent header: "Firefox" on "Windows", for the sessions list.

Deliberately simple (an ordered list of markers, no database of devices): it only has to let a
person recognise their own browsers. The header is client input, so nothing here is trusted
for security; unknown values give ``None`` and the page says "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

#: (marker, name), first match wins. Order matters: Edge and Opera also say "Chrome", Chrome
#: also says "Safari", and iOS browsers say "like Mac OS X".
BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS: tuple[tuple[str, str], ...] = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
#: Headers longer than this are not looked at past it (sessions store 300 characters anyway).
MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Device:
    browser: str | None
    system: str | None

    @property
    def known(self) -> bool:
        return self.browser is not None or self.system is not None


def _first(header: str, markers: tuple[tuple[str, str], ...]) -> str | None:
    return next((name for marker, name in markers if marker in header), None)


def describe_user_agent(header: str) -> Device:
    """The browser and operating system named by ``header`` (either may be ``None``)."""
    text = header[:MAX_LENGTH]
    return Device(browser=_first(text, BROWSERS), system=_first(text, SYSTEMS))

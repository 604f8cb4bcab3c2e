"""Translations of the web pages: French by default, English available.

The catalogs are the ``.po`` files in ``i18n/<lang>/LC_MESSAGES/``, compiled in memory when
first used (no ``.mo`` file in the repository, no build step). The request's language is held
in a contextvar that :func:`gettext` and the Jinja2 ``_()`` read. Messages are written in
English in the code and templates; ``sesame i18n extract`` collects them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

from sesame.domain.tenants import Languages

CATALOG_DIR = Path(__file__).with_name("i18n")
DOMAIN = "messages"
#: Languages we have a catalog for; a tenant may offer a subset.
SUPPORTED_LOCALES: tuple[str, ...] = ("fr", "en")
DEFAULT_LOCALE = "fr"
#: Each language named in itself, as the switcher shows it.
LANGUAGE_NAMES: Mapping[str, str] = {"fr": "Français", "en": "English"}
LANG_QUERY = "lang"
LANG_COOKIE = "sesame_lang"
#: Dates and times are shown in French time: the customers are in France.
DISPLAY_TIMEZONE = ZoneInfo("Europe/Paris")
# An Accept-Language header is client input: look at its first entries only.
_MAX_ACCEPT_ENTRIES = 16

_current_locale: ContextVar[str] = ContextVar("sesame_locale", default=DEFAULT_LOCALE)


# -- catalogs ------------------------------------------------------------------------------------


def _compile(locale: str) -> Translations:
    with (CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@lru_cache(maxsize=1)
def catalogs() -> Mapping[str, Translations]:
    """Every supported language's translations, compiled once per process."""
    return {locale: _compile(locale) for locale in SUPPORTED_LOCALES}


# -- the current language --------------------------------------------------------------------------


def get_locale() -> str:
    return _current_locale.get()


@contextlib.contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Translate into ``locale`` inside the block."""
    token = _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current_locale.reset(token)


def set_locale(locale: str) -> None:
    """Make ``locale`` the language of the rest of this request (its task's context)."""
    _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)


def gettext(message: str) -> str:
    return catalogs()[get_locale()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogs()[get_locale()].ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return str(catalogs()[get_locale()].pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return catalogs()[get_locale()].npgettext(context, singular, plural, n)


#: ``_("Text")`` in Python code: translated now, into the current request's language.
_ = gettext


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet (module-level constants)."""
    return message


# -- choosing the language -----------------------------------------------------------------------


def available_locales(languages: Languages | None) -> tuple[str, ...]:
    """The languages a page may be shown in: the tenant's, among those we have a catalog for."""
    if languages is None:
        return SUPPORTED_LOCALES
    offered = tuple(code for code in languages.available if code in SUPPORTED_LOCALES)
    return offered or (DEFAULT_LOCALE,)


def default_locale(languages: Languages | None, available: Sequence[str]) -> str:
    if languages is not None and languages.default in available:
        return languages.default
    return DEFAULT_LOCALE if DEFAULT_LOCALE in available else available[0]


def parse_accept_language(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (q=0 ones dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, entry in enumerate(header.split(",")[:_MAX_ACCEPT_ENTRIES]):
        tag, _sep, params = entry.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip().lower()))
    return [tag for _q, _p, tag in sorted(weighted)]


def negotiate(
    *,
    query: str | None,
    cookie: str | None,
    accept_language: str | None,
    available: Sequence[str],
    default: str,
) -> str:
    """Pick a language: ``?lang=``, else the cookie, else ``Accept-Language``, else ``default``."""
    for explicit in (query, cookie):
        if explicit is not None and explicit in available:
            return explicit
    if accept_language:
        chosen = negotiate_locale(parse_accept_language(accept_language), list(available), sep="-")
        if chosen is not None:
            return chosen
    return default


def requested_language(request: Request) -> str | None:
    """The ``?lang=`` of this request when it names a language we have, else None."""
    asked = request.query_params.get(LANG_QUERY)
    return asked if asked in SUPPORTED_LOCALES else None


def locale_for(request: Request, languages: Languages | None = None) -> str:
    """The language of this request's page, within ``languages`` when the tenant is known."""
    available = available_locales(languages)
    return negotiate(
        query=request.query_params.get(LANG_QUERY),
        cookie=request.cookies.get(LANG_COOKIE),
        accept_language=request.headers.get("accept-language"),
        available=available,
        default=default_locale(languages, available),
    )


def apply_locale(request: Request, locale: str) -> None:
    """Record the request's language (``request.state.locale``) and make it current."""
    request.state.locale = locale
    set_locale(locale)


def request_locale(request: Request) -> str:
    """The language chosen for this request (by the middleware, refined once the tenant is known)."""
    locale = getattr(request.state, "locale", None)
    return locale if isinstance(locale, str) else get_locale()


# -- formatting ----------------------------------------------------------------------------------


def _babel_locale() -> Locale:
    try:
        return Locale.parse(get_locale())
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def format_datetime(value: datetime, format: str = "medium") -> str:
    """A date and time in the current language, in French time (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return babel_dates.format_datetime(value, format, tzinfo=DISPLAY_TIMEZONE, locale=_babel_locale())


def format_date(value: date, format: str = "long") -> str:
    """A date in the current language ("12 mars 2025"); a datetime is first moved to French time."""
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(DISPLAY_TIMEZONE).date()
    return babel_dates.format_date(value, format, locale=_babel_locale())


def format_number(value: float | int) -> str:
    """A number with the current language's separators ("1 234,5" in French)."""
    return babel_numbers.format_decimal(value, locale=_babel_locale())

"""Jinja2 pages: the environment, and :func:`render`, which gives every page what the layout needs.

Pages get the tenant and its branding, the language and the switcher's links, ``csrf_input()``,
the correlation id (shown as a reference on error pages) and ``static_url()``. The tenant's
colours reach the page through a small stylesheet (``theme_css``), since the Content Security
Policy allows no inline style.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sesame import __version__
from sesame.config import Settings
from sesame.domain.tenants import Branding, Tenant
from sesame.web import csrf, deps, i18n

TEMPLATE_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "/static"
WHITE = "#ffffff"
BLACK = "#000000"
#: WCAG 2 AA for normal text.
MIN_TEXT_CONTRAST = 4.5
#: Link colour on the white page when the tenant's own colour is too light to read.
FALLBACK_LINK_COLOR = "#1f3a93"


# -- colours (WCAG 2 contrast) -------------------------------------------------------------------


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (always at least 4.58:1)."""
    return WHITE if contrast_ratio(background, WHITE) >= contrast_ratio(background, BLACK) else BLACK


def theme_css(branding: Branding) -> str:
    """The tenant's colours as CSS custom properties (colours are validated ``#rrggbb``)."""
    primary = branding.primary_color
    link = primary if contrast_ratio(primary, WHITE) >= MIN_TEXT_CONTRAST else FALLBACK_LINK_COLOR
    return (
        ":root {\n"
        f"  --brand-bg: {primary};\n"
        f"  --brand-fg: {text_color_on(primary)};\n"
        f"  --brand-accent: {branding.accent_color};\n"
        f"  --brand-accent-fg: {text_color_on(branding.accent_color)};\n"
        f"  --brand-link: {link};\n"
        "}\n"
    )


# -- environment ---------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def environment(strict: bool) -> Environment:
    """The pages' environment; ``strict`` (dev mode, tests) makes an undefined variable an error."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined if strict else Undefined,
        extensions=["jinja2.ext.i18n"],
        auto_reload=strict,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext
    )
    env.filters["format_datetime"] = i18n.format_datetime
    env.filters["format_date"] = i18n.format_date
    env.filters["format_number"] = i18n.format_number
    return env


def static_url(path: str) -> str:
    """URL of a file under ``sesame/web/static``; the version busts caches on upgrade."""
    return f"{STATIC_PREFIX}/{path.lstrip('/')}?v={__version__}"


def theme_url(tenant: Tenant) -> str:
    # The policy's update time changes the URL whenever the colours may have changed.
    return f"{STATIC_PREFIX}/theme/{tenant.slug}.css?v={int(tenant.updated_at.timestamp())}"


@dataclass(frozen=True, slots=True)
class LanguageLink:
    code: str
    label: str
    url: str
    current: bool


def _language_links(request: Request, available: tuple[str, ...], current: str) -> list[LanguageLink]:
    # Keep the other query parameters (a flow id, say): switching language must not lose the page.
    kept = [(key, value) for key, value in request.query_params.multi_items() if key != i18n.LANG_QUERY]
    path = deps.local_path(request.url.path)
    return [
        LanguageLink(
            code,
            i18n.LANGUAGE_NAMES.get(code, code),
            f"{path}?{urlencode([*kept, (i18n.LANG_QUERY, code)])}",
            code == current,
        )
        for code in available
    ]


def _tenant(request: Request) -> Tenant | None:
    tenant = getattr(request.state, "tenant", None)
    return tenant if isinstance(tenant, Tenant) else None


def base_context(request: Request) -> dict[str, Any]:
    """What every page's layout uses."""
    settings: Settings = request.app.state.container.settings
    tenant = _tenant(request)
    locale = i18n.request_locale(request)
    available = i18n.available_locales(tenant.policy.languages if tenant else None)
    return {
        "request": request,
        "tenant": tenant,
        "brand": tenant.policy.branding if tenant else Branding(),
        "theme_url": theme_url(tenant) if tenant else None,
        "home_url": f"/{tenant.slug}" if tenant else "/",
        "locale": locale,
        "languages": _language_links(request, available, locale),
        "csrf_input": partial(csrf.csrf_input, request),  # called by forms: sets the cookie only then
        "correlation_id": getattr(request.state, "correlation_id", ""),
        "dev_mode": settings.dev_mode,
        "static_url": static_url,
    }


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """Render template ``name`` in the request's language, with the layout's context added."""
    settings: Settings = request.app.state.container.settings
    full = base_context(request)
    full.update(context or {})
    with i18n.use_locale(full["locale"]):
        html = environment(settings.dev_mode).get_template(name).render(full)
    return HTMLResponse(html, status_code=status_code)


# -- static files ----------------------------------------------------------------------------------


async def theme_stylesheet(request: Request) -> Response:
    """``/static/theme/{tenant}.css``: the tenant's colours; its URL changes with the policy."""
    tenant = await deps.load_tenant(request, str(request.path_params["tenant"]))
    return Response(
        theme_css(tenant.policy.branding),
        media_type="text/css",
        headers={"cache-control": "public, max-age=86400"},
    )


def static_routes() -> list[BaseRoute]:
    """``/static``: the files of ``sesame/web/static`` and each tenant's theme stylesheet."""
    return [
        Route(f"{STATIC_PREFIX}/theme/{{tenant}}.css", theme_stylesheet, methods=["GET"], name="theme"),
        Mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static"),
    ]

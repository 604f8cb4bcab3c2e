"""The app's own routes under ``/app``: the choice of service, the app shell of each tenant, its
web app manifest, the service worker (scope ``/app/``), its script and style, and its icons.

The shell holds no personal data: the service worker may cache it, so the app opens without a
network and says so. Everything the person does goes through the device API in JSON.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame import __version__
from sesame.domain.tenants import Tenant
from sesame.services.devices import offers_app
from sesame.web.deps import get_container, get_tenant
from sesame.web.i18n import gettext, request_locale
from sesame.web.phone.icons import SIZES, icon_png
from sesame.web.templating import render, text_color_on

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).with_name("static")
#: The files the app serves itself, with their media types (nothing else under /app/static).
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
SERVICE_WORKER = "sw.js"
APP_SCOPE = "/app/"


def static_url(name: str) -> str:
    return f"/app/static/{name}?v={__version__}"


def _unavailable(request: Request) -> Response:
    return render(request, "app_login/unavailable.html", status_code=404)


@router.get("/app", name="phone_app_root")
async def root() -> Response:
    return RedirectResponse(APP_SCOPE, status_code=308)


@router.get(APP_SCOPE, name="phone_app_index")
async def index(request: Request) -> Response:
    """Which service's app to open (an installed app starts on its own service)."""
    tenants = await run_in_threadpool(get_container(request).tenants.list)
    offered = [tenant for tenant in tenants if offers_app(tenant)]
    return render(
        request,
        "phone/index.html",
        {"services": offered, "manifest_url": "/app/manifest.webmanifest", "app_css": static_url("app.css")},
    )


@router.get("/app/{tenant}/", name="phone_app")
async def shell(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """The app of one service: activation, then the requests to approve (plain JS, app.js)."""
    if not offers_app(tenant):
        return _unavailable(request)
    response = render(
        request,
        "phone/app.html",
        {
            "api_url": f"/{tenant.slug}/api/device",
            "manifest_url": f"/app/{tenant.slug}/manifest.webmanifest",
            "app_js": static_url("app.js"),
            "app_css": static_url("app.css"),
            "service_worker_url": f"/app/{SERVICE_WORKER}",
            "icon_url": f"/app/{tenant.slug}/icon-192.png",
        },
    )
    # The shell is the same for everyone (no personal data): the service worker keeps a copy.
    response.headers["cache-control"] = "no-cache"
    return response


def _manifest(name: str, start_url: str, theme: str, icons: str, lang: str) -> dict[str, object]:
    return {
        "name": name,
        "short_name": name[:12],
        "lang": lang,
        "start_url": start_url,
        "scope": APP_SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": theme,
        "icons": [
            {"src": f"{icons}-{size}.png", "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any maskable"}
            for size in SIZES
        ],
    }


_MANIFEST_TYPE = "application/manifest+json"


@router.get("/app/manifest.webmanifest", name="phone_app_manifest")
async def manifest(request: Request) -> Response:
    body = _manifest(gettext("Sésame app"), APP_SCOPE, "#1f3a93", "/app/icon", _lang(request))
    return JSONResponse(body, media_type=_MANIFEST_TYPE, headers={"cache-control": "public, max-age=3600"})


@router.get("/app/{tenant}/manifest.webmanifest", name="phone_app_tenant_manifest")
async def tenant_manifest(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    brand = tenant.policy.branding
    body = _manifest(
        brand.display_name or tenant.name,
        f"/app/{tenant.slug}/",
        brand.primary_color,
        f"/app/{tenant.slug}/icon",
        _lang(request),
    )
    return JSONResponse(body, media_type=_MANIFEST_TYPE, headers={"cache-control": "public, max-age=3600"})


def _lang(request: Request) -> str:
    return request_locale(request)


def _png(size: int, background: str) -> Response:
    if size not in SIZES:
        return Response(status_code=404)
    content = icon_png(size, background, text_color_on(background))
    return Response(content, media_type="image/png", headers={"cache-control": "public, max-age=86400"})


@router.get("/app/icon-{size}.png", name="phone_app_icon")
async def icon(size: int) -> Response:
    return _png(size, "#1f3a93")


@router.get("/app/{tenant}/icon-{size}.png", name="phone_app_tenant_icon")
async def tenant_icon(size: int, tenant: Tenant = Depends(get_tenant)) -> Response:
    return _png(size, tenant.policy.branding.primary_color)


@router.get(f"/app/{SERVICE_WORKER}", name="phone_app_service_worker")
async def service_worker() -> Response:
    """Served from /app/ so that its scope is the app (and nothing else of the site)."""
    source = (STATIC_DIR / SERVICE_WORKER).read_text(encoding="utf-8").replace("__VERSION__", __version__)
    return Response(
        source,
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "no-cache", "service-worker-allowed": APP_SCOPE},
    )


@router.get("/app/static/{name}", name="phone_app_static")
async def static(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return Response(status_code=404)
    content = (STATIC_DIR / name).read_bytes()
    return Response(content, media_type=media_type, headers={"cache-control": "public, max-age=86400"})

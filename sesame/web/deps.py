"""FastAPI dependencies shared by the routers: the container, the tenant of the URL, the client.

Tenants are read through a small in-process cache with a short lifetime (a read cache, as
DESIGN.md allows): a policy change reaches every worker within :data:`TENANT_CACHE_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.tenants import SLUG_RE, Tenant
from sesame.web import i18n
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_

TENANT_CACHE_SECONDS = 10.0


class TenantCache:
    """Tenants by slug, each kept for ``ttl`` seconds. Unknown slugs are not remembered."""

    def __init__(self, ttl: float = TENANT_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Tenant]] = {}

    def get(self, slug: str) -> Tenant | None:
        entry = self._entries.get(slug)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, tenant: Tenant) -> None:
        self._entries[tenant.slug] = (self._clock() + self._ttl, tenant)

    def clear(self) -> None:
        self._entries.clear()


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def tenant_cache(request: Request) -> TenantCache:
    """The app's tenant cache (one per app, so tests with several apps do not share one)."""
    cache = getattr(request.app.state, "tenant_cache", None)
    if not isinstance(cache, TenantCache):
        cache = TenantCache()
        request.app.state.tenant_cache = cache
    return cache


def unknown_tenant() -> ErrorPage:
    return ErrorPage(
        404,
        "unknown_tenant",
        N_("This service does not exist"),
        N_("Check the address you typed, or choose a service from the home page."),
        action_url="/",
        action_label=N_("Go to the home page"),
    )


async def load_tenant(request: Request, slug: str) -> Tenant:
    """The tenant ``slug`` (cached), or a friendly 404 page."""
    if not SLUG_RE.fullmatch(slug):  # not even a possible slug: no need to ask the database
        raise unknown_tenant()
    cache = tenant_cache(request)
    tenant = cache.get(slug)
    if tenant is None:
        tenant = await run_in_threadpool(get_container(request).tenants.find, slug)
        if tenant is None:
            raise unknown_tenant()
        cache.put(tenant)
    return tenant


async def get_tenant(tenant: str, request: Request) -> Tenant:
    """Dependency for routes under ``/{tenant}``: loads it, sets ``request.state.tenant``, and
    narrows the page's language to the tenant's languages."""
    found = await load_tenant(request, tenant)
    request.state.tenant = found
    # Async on purpose: a sync dependency runs in a worker thread, and the language set here
    # (a contextvar) would not reach the route.
    i18n.apply_locale(request, i18n.locale_for(request, found.policy.languages))
    return found


def local_path(path: str) -> str:
    """``path`` as a link on this site: ``//evil.example`` would be another site, for a browser."""
    return "/" + path.lstrip("/\\")


def client_ip(request: Request) -> str:
    """The client's address (uvicorn has already applied trusted proxy headers)."""
    return request.client.host if request.client else "unknown"

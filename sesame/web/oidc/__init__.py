"""Protocol endpoints of the OpenID Connect provider, one module per endpoint (routes into sesame.oidc).

What they share: the tenant of the URL from the app's tenant cache (no database on the hot
path), and JSON errors in the shape of RFC 6749 §5.2, never an HTML page, for clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sesame.bootstrap import Container
from sesame.domain.tenants import SLUG_RE, Tenant
from sesame.web.deps import tenant_cache

JSON = "application/json"

Endpoint = Callable[[Request], Awaitable[Response]]


#: Every protocol route by (its path after ``/{tenant}/``, method): what the protocol lane
#: (sesame/web/oidc/lane.py) serves without the pages' middleware.
LANE_ROUTES: dict[tuple[str, str], Route] = {}
TENANT_PREFIX = "/{tenant}/"


def add_protocol_route(router: APIRouter, path: str, endpoint: Endpoint, methods: Sequence[str]) -> None:
    """Add ``endpoint`` as a plain Starlette route: no FastAPI dependency resolution nor
    validation on the paths clients call most. It names its route in the scope, which FastAPI
    does only for its own routes, so that the access log and metrics show the path template.
    The protocol lane serves the same endpoint for these (path, method) pairs."""
    if not path.startswith(TENANT_PREFIX):
        raise ValueError(f"a protocol route is under /{{tenant}}/: {path}")
    route = Route(path, endpoint, methods=list(methods))
    for method in methods:
        LANE_ROUTES[(path[len(TENANT_PREFIX) :], method)] = route

    async def named(request: Request) -> Response:
        request.scope["route"] = route
        return await endpoint(request)

    router.add_route(path, named, methods=list(methods), include_in_schema=False, name=endpoint.__name__)


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def find_tenant(request: Request) -> Tenant | None:
    """The tenant of the URL's ``{tenant}`` (cached per app), or None when there is no such tenant."""
    slug = request.path_params.get("tenant", "")
    if not SLUG_RE.fullmatch(slug):  # not even a possible slug: no need to ask the database
        return None
    cache = tenant_cache(request)
    tenant = cache.get(slug)
    if tenant is None:
        tenant = await run_in_threadpool(container_of(request).tenants.find, slug)
        if tenant is not None:
            cache.put(tenant)
    return tenant


def json_error(status: int, error: str, description: str, *, headers: Mapping[str, str] | None = None) -> Response:
    """An error as RFC 6749 §5.2 shapes it: ``{"error": ..., "error_description": ...}``."""
    body = orjson.dumps({"error": error, "error_description": description})
    return Response(body, status_code=status, media_type=JSON, headers=dict(headers or {}))


def unknown_tenant(*, headers: Mapping[str, str] | None = None) -> Response:
    return json_error(404, "not_found", "there is no such issuer on this server", headers=headers)


def document_response(
    request: Request, body: bytes, etag: str, media_type: str, headers: Mapping[str, str]
) -> Response:
    """A public document served as bytes serialised once, with its ``ETag``; a 304 without a body
    when the client's copy is current (``If-None-Match``, RFC 9110 §13.1.2, weak comparison)."""
    all_headers = {**headers, "ETag": etag}
    asked = request.headers.get("if-none-match")
    if asked and any(tag.strip().removeprefix("W/") in (etag, "*") for tag in asked.split(",")):
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type=media_type, headers=all_headers)

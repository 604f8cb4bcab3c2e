"""``GET /{tenant}/.well-known/openid-configuration``: the tenant's provider metadata (Discovery 1.0 §4).

A public document: any origin may read it (``Access-Control-Allow-Origin: *``, for browser-based
clients), caches may keep it a few minutes, and it is served as bytes serialised once, with an
``ETag`` so that a client revalidating its copy gets a bodiless 304.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.discovery import MAX_AGE, ProviderMetadataCache
from sesame.web.oidc import JSON, add_protocol_route, container_of, document_response, find_tenant, unknown_tenant

PATH = "/{tenant}/.well-known/openid-configuration"
HEADERS = {
    "Cache-Control": f"public, max-age={int(MAX_AGE.total_seconds())}",
    "Access-Control-Allow-Origin": "*",
}

router = APIRouter()


def _documents(request: Request) -> ProviderMetadataCache:
    """The app's documents (one cache per app: tests with several apps do not share one)."""
    documents = getattr(request.app.state, "provider_metadata", None)
    if not isinstance(documents, ProviderMetadataCache):
        documents = ProviderMetadataCache(container_of(request).settings.base_url)
        request.app.state.provider_metadata = documents
    return documents


async def openid_configuration(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant(headers={"Access-Control-Allow-Origin": "*"})
    body, etag = _documents(request).document(tenant)
    return document_response(request, body, etag, JSON, HEADERS)


add_protocol_route(router, PATH, openid_configuration, ["GET"])

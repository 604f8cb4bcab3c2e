"""``GET /{tenant}/jwks``: the tenant's published public keys (RFC 7517 §5), the ``jwks_uri``.

Served from the per-process KeySet (sesame.services.signing_keys), whose serialised document
is made once per change: the database is read at most once per cache lifetime per worker.
A tenant without a key yet gets its first one here (DESIGN: keys are made on first use).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.jwks import MAX_AGE, MEDIA_TYPE
from sesame.web.oidc import add_protocol_route, container_of, document_response, find_tenant, unknown_tenant

PATH = "/{tenant}/jwks"
HEADERS = {
    "Cache-Control": f"public, max-age={int(MAX_AGE.total_seconds())}",
    "Access-Control-Allow-Origin": "*",
}

router = APIRouter()


async def jwks(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant(headers={"Access-Control-Allow-Origin": "*"})
    container = container_of(request)
    keys = container.signing_keys.cached_keyset(tenant.id)
    if keys is None:
        keys = await run_in_threadpool(container.signing_keys.keyset, tenant)
    body, etag = keys.jwks_document(container.clock.now())
    return document_response(request, body, etag, MEDIA_TYPE, HEADERS)


add_protocol_route(router, PATH, jwks, ["GET"])

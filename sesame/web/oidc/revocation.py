"""``POST /{tenant}/revoke``: token revocation (RFC 7009), see :mod:`sesame.oidc.revocation`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.revocation import revoke
from sesame.oidc.token.errors import OAuthError
from sesame.web.oidc import add_protocol_route, find_tenant, unknown_tenant
from sesame.web.oidc.client_requests import NO_STORE, audit_origin, error_response, provider_of, read_form

PATH = "/{tenant}/revoke"

router = APIRouter()


async def revocation(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant()
    try:
        form = await read_form(request)
        await run_in_threadpool(
            revoke, provider_of(request), tenant, form, request.headers.get("authorization"), **audit_origin(request)
        )
    except OAuthError as error:
        return error_response(error)
    # RFC 7009 §2.2: "The content of the response body is ignored by the client"
    return Response(b"", status_code=200, headers=NO_STORE)


add_protocol_route(router, PATH, revocation, ["POST"])

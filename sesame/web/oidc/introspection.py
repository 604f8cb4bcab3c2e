"""``POST /{tenant}/introspect``: token introspection (RFC 7662), see :mod:`sesame.oidc.introspection`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.introspection import introspect
from sesame.oidc.token.errors import OAuthError
from sesame.web.oidc import add_protocol_route, find_tenant, unknown_tenant
from sesame.web.oidc.client_requests import audit_origin, error_response, json_response, provider_of, read_form

PATH = "/{tenant}/introspect"

router = APIRouter()


async def introspection(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant()
    try:
        form = await read_form(request)
        body = await run_in_threadpool(
            introspect,
            provider_of(request),
            tenant,
            form,
            request.headers.get("authorization"),
            **audit_origin(request),
        )
    except OAuthError as error:
        return error_response(error)
    return json_response(body)


add_protocol_route(router, PATH, introspection, ["POST"])

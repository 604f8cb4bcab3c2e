"""``POST /{tenant}/introspect``: token introspection (RFC 7662), see :mod:`sesame.oidc.introspection`.

The client's authentication and the token's signature are checked on the event loop when the
client and keys are cached, and the token's state too when that read never blocks (SQLite);
otherwise (a refresh token, PostgreSQL, a client not cached) the work goes to a worker thread.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc import introspection
from sesame.oidc.token.errors import OAuthError
from sesame.web.oidc import add_protocol_route, find_tenant, unknown_tenant
from sesame.web.oidc.client_requests import (
    audit_origin,
    error_response,
    json_response,
    on_loop_first,
    provider_of,
    read_form,
)

PATH = "/{tenant}/introspect"

router = APIRouter()


async def introspect(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant()
    try:
        form = await read_form(request)
        authorization = request.headers.get("authorization")
        origin = audit_origin(request)
        if "client_assertion" in form:  # its jti goes to the shared counters: a thread at once
            presented = await run_in_threadpool(
                introspection.present, provider_of(request), tenant, form, authorization, **origin
            )
        else:
            presented = await on_loop_first(request, introspection.present, tenant, form, authorization, **origin)
        body = presented.answer
        if body is None:  # the token's state: on the loop when that read never blocks (SQLite)
            body = await on_loop_first(request, introspection.answer, tenant, presented)
    except OAuthError as error:
        return error_response(error)
    return json_response(body)


add_protocol_route(router, PATH, introspect, ["POST"])

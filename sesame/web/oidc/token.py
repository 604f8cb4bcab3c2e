"""``POST /{tenant}/token``: the token endpoint (RFC 6749 §3.2), see :mod:`sesame.oidc.token`.

A request of a cached client runs on the event loop as far as it can (ADR 0006, ADR 0010): a
client_credentials token (an HMAC and a signature, nothing written), and on SQLite a code or
refresh token exchange too (its reads and its one short write transaction never wait on the
network, and the write turn is taken only if it is free at once). Anything else goes to a worker
thread: PostgreSQL, CIBA, a client or key not cached yet, a busy write turn; and a
private_key_jwt assertion, whose ``jti`` is remembered in the shared counters.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.token import endpoint
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

PATH = "/{tenant}/token"

router = APIRouter()


async def token(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant()
    try:
        form = await read_form(request)
        authorization = request.headers.get("authorization")
        if "client_assertion" in form:  # its jti goes to the shared counters: never on the loop
            body = await run_in_threadpool(
                endpoint.token, provider_of(request), tenant, form, authorization, **audit_origin(request)
            )
        else:
            body = await on_loop_first(request, endpoint.token, tenant, form, authorization, **audit_origin(request))
    except OAuthError as error:
        return error_response(error)
    return json_response(body)


add_protocol_route(router, PATH, token, ["POST"])

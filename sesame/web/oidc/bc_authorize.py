"""``POST /{tenant}/bc-authorize``: the backchannel authentication endpoint of CIBA (poll mode),
see :mod:`sesame.oidc.ciba`.

A client's server calls it with a form, authenticated as at the token endpoint; the answer is
JSON (CIBA §7.3, or an error of §13). The work (client authentication, the request to the
person's app, the audit) runs in a worker thread: it writes.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc import ciba
from sesame.oidc.token.errors import OAuthError
from sesame.web.oidc import add_protocol_route, find_tenant, unknown_tenant
from sesame.web.oidc.client_requests import audit_origin, error_response, json_response, provider_of, read_form

PATH = "/{tenant}/bc-authorize"

router = APIRouter()


async def bc_authorize(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant()
    try:
        form = await read_form(request)
        body = await run_in_threadpool(
            lambda: ciba.backchannel_authentication(
                provider_of(request),
                tenant,
                form,
                request.headers.get("authorization"),
                user_agent=request.headers.get("user-agent", ""),
                **audit_origin(request),
            )
        )
    except OAuthError as error:
        return error_response(error)
    return json_response(body)


add_protocol_route(router, PATH, bc_authorize, ["POST"])

"""``GET`` and ``POST /{tenant}/userinfo``: the UserInfo endpoint (OpenID Connect Core §5.3).

The access token comes in the ``Authorization: Bearer`` header, or on POST in the form body's
``access_token`` (RFC 6750 §2.2); errors carry the ``WWW-Authenticate: Bearer`` challenge. The
token's signature is checked on the event loop when the keys are cached, and so are its state
(revoked, grant) and the person's claims when those reads never block (SQLite); otherwise
(PostgreSQL, the verified identity's claims) the work runs in a worker thread.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc import userinfo as oidc_userinfo
from sesame.oidc.token.errors import OAuthError
from sesame.web.oidc import add_protocol_route, find_tenant, unknown_tenant
from sesame.web.oidc.client_requests import (
    error_response,
    is_form,
    json_response,
    on_loop_first,
    read_form,
)

PATH = "/{tenant}/userinfo"

router = APIRouter()


async def userinfo(request: Request) -> Response:
    tenant = await find_tenant(request)
    if tenant is None:
        return unknown_tenant()
    try:
        # RFC 6750 §2.2: the form body, only on POST with the form content type
        form = await read_form(request) if request.method == "POST" and is_form(request) else None
        token = oidc_userinfo.presented_token(request.headers.get("authorization"), form, realm=tenant.slug)
        claims = await on_loop_first(request, oidc_userinfo.decoded, tenant, token)
        grant = await on_loop_first(request, oidc_userinfo.live_grant, tenant, claims)
        body = await on_loop_first(request, oidc_userinfo.release, tenant, claims, grant)
    except OAuthError as error:
        return error_response(error)
    return json_response(body)


add_protocol_route(router, PATH, userinfo, ["GET", "POST"])

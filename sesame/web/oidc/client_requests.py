"""What the endpoints that clients call with a form share: the form read once, the OAuth errors.

RFC 6749 §3.2 (``application/x-www-form-urlencoded`` only, each parameter at most once, empty
ones as if omitted), §5.1 (``Cache-Control: no-store``) and §5.2 (JSON errors). The protocol work
itself runs in the thread pool (database, signatures); the handlers only translate HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.token.context import Provider
from sesame.oidc.token.errors import INVALID_REQUEST, OAuthError
from sesame.web.oidc import JSON, container_of

FORM = "application/x-www-form-urlencoded"
#: Far more than any request of these endpoints needs (an RSA-4096 client assertion is ~1 KB).
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 32
#: RFC 6749 §5.1: responses with tokens (and, here, with claims or errors) are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def provider_of(request: Request) -> Provider:
    """The app's :class:`Provider`, built once (its caches are the container's, per process)."""
    provider = getattr(request.app.state, "oidc_provider", None)
    if not isinstance(provider, Provider):
        container = container_of(request)
        provider = Provider(
            uow=container.uow,
            clock=container.clock,
            keyed=container.keyed,
            counters=container.counters,
            find_client=container.oidc_clients.find,
            signer=container.signing_keys.signer,
            keyset=container.signing_keys.keyset,
            base_url=container.settings.base_url,
        )
        request.app.state.oidc_provider = provider
    return provider


def is_form(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == FORM


async def read_form(request: Request) -> dict[str, str]:
    """The request's form parameters, or ``OAuthError``: another content type or a malformed
    body is ``invalid_request`` (400), a body over :data:`MAX_FORM_BYTES` 413."""
    if not is_form(request):
        raise OAuthError(INVALID_REQUEST, f"the request body must be {FORM}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _too_large()
    return parse_form(bytes(body))


def parse_form(body: bytes) -> dict[str, str]:
    """RFC 6749 §3.2: parameters "MUST NOT be included more than once"; empty ones are omitted."""
    try:
        pairs = parse_qsl(body.decode("ascii"), errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as error:
        raise OAuthError(INVALID_REQUEST, "the form could not be read") from error
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError(INVALID_REQUEST, f"{name[:40]} is repeated")
        form[name] = value
    return form


def _too_large() -> OAuthError:
    return OAuthError(INVALID_REQUEST, f"the request body is larger than {MAX_FORM_BYTES} bytes", status=413)


def json_response(body: Mapping[str, Any], *, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=NO_STORE)


def error_response(error: OAuthError) -> Response:
    """RFC 6749 §5.2 (and RFC 6750 §3: the ``WWW-Authenticate`` challenge it carries)."""
    return Response(
        orjson.dumps(error.body()), status_code=error.status, media_type=JSON, headers={**NO_STORE, **error.headers}
    )


def audit_origin(request: Request) -> dict[str, str]:
    """The ``ip`` and ``correlation_id`` keyword arguments of the protocol functions."""
    client = request.client
    return {
        "ip": client.host if client else "",
        "correlation_id": str(getattr(request.state, "correlation_id", "")),
    }

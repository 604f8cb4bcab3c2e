"""What the endpoints that clients call with a form share: the form read once, the OAuth errors.

RFC 6749 §3.2 (``application/x-www-form-urlencoded`` only, each parameter at most once, empty
ones as if omitted), §5.1 (``Cache-Control: no-store``) and §5.2 (JSON errors). The protocol work
itself runs on the event loop when it needs nothing that waits (:func:`on_loop_first`), else in
the thread pool; the handlers only translate HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sesame.oidc.issuance_audit import ClientTokenTally
from sesame.oidc.token.context import NeedsIO, Provider
from sesame.oidc.token.errors import INVALID_REQUEST, OAuthError
from sesame.web.oidc import JSON, container_of

FORM = "application/x-www-form-urlencoded"
#: Far more than any request of these endpoints needs (an RSA-4096 client assertion is ~1 KB).
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 32
#: RFC 6749 §5.1: responses with tokens (and, here, with claims or errors) are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Providers:
    """The app's :class:`Provider` (``full``), and the same with caches only (``cached``: it
    raises :class:`NeedsIO` instead of waiting, so that the handlers may run it on the event loop)."""

    full: Provider
    cached: Provider


def providers_of(request: Request) -> Providers:
    """Built once per app (its caches are the container's, per process)."""
    providers = getattr(request.app.state, "oidc_providers", None)
    if not isinstance(providers, Providers):
        container = container_of(request)
        tally = ClientTokenTally(container.uow, container.clock)
        tally.start()
        full = Provider(
            uow=container.uow,
            clock=container.clock,
            keyed=container.keyed,
            counters=container.counters,
            find_client=container.oidc_clients.find,
            signer=container.signing_keys.signer,
            keyset=container.signing_keys.keyset,
            base_url=container.settings.base_url,
            tally=tally,
            reads=container.protocol_reads,
            writes=container.protocol_writes,
        )
        cached = full.cache_only(
            container.oidc_clients.cached, container.signing_keys.cached_signer, container.signing_keys.cached_keyset
        )
        providers = request.app.state.oidc_providers = Providers(full=full, cached=cached)
    return providers


def provider_of(request: Request) -> Provider:
    """The app's full :class:`Provider`."""
    return providers_of(request).full


async def on_loop_first(request: Request, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``work(provider, *args, **kwargs)`` on the event loop with the cache-only provider, which
    is all a request needs when the client and keys are cached and nothing is written (a
    client_credentials token, a token's signature); when it needs more (:class:`NeedsIO`), the
    whole call again in a worker thread with the full provider. ``work`` writes nothing before
    it needs IO, so running it twice is safe."""
    providers = providers_of(request)
    try:
        return work(providers.cached, *args, **kwargs)
    except NeedsIO:
        return await run_in_threadpool(work, providers.full, *args, **kwargs)


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
    client = request.scope.get("client")
    state = request.scope.get("state") or {}
    return {"ip": client[0] if client else "", "correlation_id": str(state.get("correlation_id", ""))}

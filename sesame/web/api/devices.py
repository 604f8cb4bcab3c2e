"""The device API of the phone app (``/{tenant}/api/device/...``), JSON in and out.

Activation: ``activation`` (email and password: the tenant's login), ``activation/code`` (the
SMS code sent to the verified mobile), ``activation/resend``, then ``register`` (the public key
and the 4-digit code). An activated device then proves itself by signatures only, never a
stored bearer secret: ``pending`` carries its signature over the time, ``decision`` its
signature over the request it answers (see ``sesame.domain.devices`` for the exact bytes).

Errors are JSON ``{"error", "message", "correlation_id", ...}`` with a stable ``error`` code:
not JSON (415), too large (413), malformed (400), invalid fields (422, with ``details``).
No cookie authenticates anything here, so there is no CSRF token: another site cannot send
``application/json`` cross-origin without a CORS preflight, which this API never grants.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.devices import ApprovalRequest, Decision, Device, app_policy
from sesame.domain.tenants import Tenant
from sesame.services.app_login import service_name
from sesame.services.approvals import DecisionOutcome, DecisionStatus, DeviceAnswer
from sesame.services.devices import ACTIVATION_CODE_DIGITS, DeviceError, offers_app
from sesame.web.deps import get_container, get_tenant
from sesame.web.i18n import N_, gettext
from sesame.web.session import request_context

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

router = APIRouter(tags=["device"])
log = structlog.get_logger("sesame.web.api.devices")

PREFIX = "/{tenant}/api/device"
#: A public key, a signature and a few ids: a few hundred bytes.
BODY_MAX_BYTES = 16 * 1024


# -- bodies ---------------------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivationIn(_In):
    """The tenant's login: the activation then sends a code to the identity's verified mobile."""

    email: str = Field(min_length=1, max_length=254, examples=["marie.dupont@example.fr"])
    password: str = Field(min_length=1, max_length=1024)


class ActivationOut(BaseModel):
    activation_id: str
    #: Sent back with the next steps; valid until ``expires_at``, single use.
    activation_token: str
    mobile_masked: str = Field(examples=["+33 6 •• •• •• 78"])
    code_length: int = ACTIVATION_CODE_DIGITS
    code_expires_at: datetime
    expires_at: datetime


class ActivationStepIn(_In):
    activation_id: str = Field(min_length=1, max_length=64)
    activation_token: str = Field(min_length=1, max_length=64)


class CodeIn(ActivationStepIn):
    code: str = Field(min_length=1, max_length=32, description="The 6-digit code received by SMS.")


class CodeOut(BaseModel):
    verified: bool


class ResendOut(BaseModel):
    code_expires_at: datetime


class PublicKeyIn(BaseModel):
    """An EC P-256 public key as a JWK (what WebCrypto's ``exportKey("jwk")`` gives)."""

    model_config = ConfigDict(extra="allow")

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str = Field(min_length=43, max_length=44)
    y: str = Field(min_length=43, max_length=44)


class RegisterIn(ActivationStepIn):
    public_key: PublicKeyIn
    pin: str = Field(min_length=1, max_length=16, description="The 4-digit secret code chosen by the person.")
    label: str = Field(default="", max_length=100, examples=["Téléphone de Marie"])


class DeviceOut(BaseModel):
    device_id: str
    label: str
    status: str
    tenant: str
    service: str


class PendingIn(_In):
    """The device's signature over ``{"action":"pending","device_id","tenant","timestamp"}``."""

    device_id: str = Field(min_length=1, max_length=64)
    timestamp: int = Field(ge=0, le=10**11, description="Unix time (seconds) when the device signed.")
    signature: str = Field(min_length=1, max_length=100, description="ES256, raw r||s, base64url.")


class PendingRequestOut(BaseModel):
    request_id: str
    kind: str
    service: str
    #: ``enter``: ask the person the number the website shows; ``compare``: show ``binding_message``.
    binding_mode: str
    binding_message: str | None
    nonce: str
    acr: str | None
    scope: str
    created_at: datetime
    expires_at: datetime


class PendingOut(BaseModel):
    device: DeviceOut
    requests: list[PendingRequestOut]
    server_time: int
    #: How often to ask again while the app is open.
    poll_seconds: int = 3


class DecisionIn(_In):
    """The device's answer, signed over request id, service, binding code, decision and nonce."""

    device_id: str = Field(min_length=1, max_length=64)
    request_id: str = Field(min_length=1, max_length=64)
    decision: Decision
    binding_code: str = Field(default="", max_length=200)
    pin: str | None = Field(default=None, max_length=16, description="The 4-digit code (to approve).")
    signature: str = Field(min_length=1, max_length=100)


class DecisionOut(BaseModel):
    status: str
    request_status: str | None


class ApiErrorOut(BaseModel):
    error: str
    message: str
    correlation_id: str


_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON, or a wrong code (see error).",
    401: "Wrong login, unknown device, or a bad, stale or replayed signature.",
    403: "Refused: account locked, no verified identity, device disabled, wrong 4-digit code.",
    404: "No such tenant, activation or request, or the tenant has no app.",
    409: "Already done: the request was decided, the activation used.",
    410: "Expired: the activation or its code.",
    413: "The body is too large.",
    415: "The body is not application/json.",
    422: "A field is missing or invalid, a trivial 4-digit code, a bad public key, a wrong binding code.",
    429: "Too many attempts or messages: see retry_at.",
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ApiErrorOut, "description": _DESCRIPTIONS[status]} for status in statuses}


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


# -- errors ----------------------------------------------------------------------------------------------

#: Every refusal: its HTTP status and its words (English msgids, translated per request).
_ERRORS: dict[str, tuple[int, str]] = {
    "app_unavailable": (404, N_("This service has no app.")),
    "invalid_credentials": (401, N_("Wrong email address or password.")),
    "suspended": (429, N_("Too many failed attempts: access is suspended for a while.")),
    "throttled": (429, N_("Too many attempts from your connection: please wait a moment.")),
    "locked": (403, N_("Access to this account is locked.")),
    "no_identity": (403, N_("This account has no verified Digital Identity: create one first.")),
    "too_many_sms": (429, N_("Too many codes were sent: please wait before asking again.")),
    "resend_too_soon": (429, N_("Please wait a little before asking for a new code.")),
    "activation_invalid": (404, N_("This activation does not exist: start again.")),
    "activation_expired": (410, N_("This activation has expired: start again.")),
    "activation_used": (409, N_("This activation was used already: start again.")),
    "code_wrong": (400, N_("Wrong code.")),
    "code_expired": (410, N_("This code has expired: ask for a new one.")),
    "code_locked": (429, N_("Too many wrong codes: start the activation again.")),
    "code_not_verified": (409, N_("Type the code received by SMS first.")),
    "invalid_public_key": (422, N_("The device's key could not be used.")),
    "pin_rejected": (422, N_("This secret code is too easy to guess: choose another one.")),
    "too_many_devices": (409, N_("This account has too many active devices: remove one first.")),
    "unknown_device": (401, N_("This device is not known: activate the app again.")),
    "device_disabled": (403, N_("This device has been disabled: activate the app again.")),
    "stale_signature": (401, N_("The device's clock is wrong: set it to the right time.")),
    "bad_signature": (401, N_("The device's signature is not valid.")),
    "replayed_signature": (401, N_("This request was already sent.")),
    "not_found": (404, N_("This request does not exist.")),
    "not_pending": (409, N_("This request was already answered, or has expired.")),
    "binding_mismatch": (422, N_("This is not the number shown on the website: the request is refused.")),
    "pin_required": (422, N_("Type your 4-digit secret code.")),
    "wrong_pin": (403, N_("Wrong secret code.")),
    "account_barred": (403, N_("This account cannot log in at the moment: the request is refused.")),
}


def _error(request: Request, code: str, **extra: Any) -> JSONResponse:
    status, message = _ERRORS.get(code, (400, N_("The information sent could not be used.")))
    body: dict[str, Any] = {
        "error": code,
        "message": gettext(message),
        "correlation_id": str(getattr(request.state, "correlation_id", "")),
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    headers = {}
    retry_at = extra.get("retry_at")
    if status == 429 and isinstance(retry_at, datetime):
        now = get_container(request).clock.now()
        headers["Retry-After"] = str(max(1, int((retry_at - now).total_seconds() + 0.999)))
        body["retry_at"] = retry_at.isoformat()
    return JSONResponse(body, status_code=status, headers=headers)


def _device_error(request: Request, error: DeviceError) -> JSONResponse:
    return _error(
        request,
        error.code,
        retry_at=error.retry_at,
        remaining=error.remaining,
        reason=error.reason,
        server_time=int(get_container(request).clock.now().timestamp()) if error.code == "stale_signature" else None,
    )


def _plain_error(request: Request, status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {
        "error": code,
        "message": gettext(message),
        "correlation_id": str(getattr(request.state, "correlation_id", "")),
    }
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


async def _parse(request: Request, model: type[M]) -> M | JSONResponse:
    """The body as ``model``, or the JSON error to answer (nothing is echoed back: a password)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _plain_error(request, 415, "unsupported_media_type", N_("Send application/json."))
    raw = await request.body()
    if len(raw) > BODY_MAX_BYTES:
        return _plain_error(request, 413, "payload_too_large", N_("What you sent is too large."))
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _plain_error(request, 400, "malformed_json", N_("The body is not valid JSON."))
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        details = [{"loc": ["body", *e["loc"]], "type": e["type"]} for e in error.errors()]
        return _plain_error(
            request, 422, "invalid_input", N_("A field is missing or invalid: see the details."), details
        )


async def _call(request: Request, work: Callable[..., T], /, *args: Any) -> T | JSONResponse:
    """``work(*args)`` (a device service call) in the thread pool, or its refusal as JSON."""
    try:
        return await run_in_threadpool(work, *args)
    except DeviceError as error:
        return _device_error(request, error)


def _device_out(tenant: Tenant, device: Device) -> DeviceOut:
    return DeviceOut(
        device_id=device.id,
        label=device.label,
        status=device.status.value,
        tenant=tenant.slug,
        service=service_name(tenant),
    )


def _pending_out(request: ApprovalRequest) -> PendingRequestOut:
    return PendingRequestOut(
        request_id=request.id,
        kind=request.kind.value,
        service=request.service_name,
        binding_mode=request.binding_mode.value,
        binding_message=request.binding_message,  # None when the person must type the number
        nonce=request.nonce,
        acr=request.acr_requested,
        scope=request.scope,
        created_at=request.created_at,
        expires_at=request.expires_at,
    )


def _app_offered(request: Request, tenant: Tenant) -> JSONResponse | None:
    return None if offers_app(tenant) else _error(request, "app_unavailable")


# -- activation -----------------------------------------------------------------------------------------


@router.post(
    f"{PREFIX}/activation",
    status_code=201,
    response_model=ActivationOut,
    summary="Start activating the app: the tenant's login, then a code by SMS to the verified mobile",
    responses=_responses(400, 401, 403, 404, 413, 415, 422, 429),
    openapi_extra=_body_schema(ActivationIn),
)
async def start_activation(request: Request, tenant: Tenant = Depends(get_tenant)) -> Any:
    if (refused := _app_offered(request, tenant)) is not None:
        return refused
    body = await _parse(request, ActivationIn)
    if isinstance(body, JSONResponse):
        return body
    container: Container = get_container(request)
    started = await _call(
        request, container.devices.start_activation, tenant, body.email, body.password, request_context(request)
    )
    if isinstance(started, JSONResponse):
        return started
    out = ActivationOut(
        activation_id=started.activation_id,
        activation_token=started.token,
        mobile_masked=started.mobile_masked,
        code_expires_at=started.code_expires_at,
        expires_at=started.expires_at,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.post(
    f"{PREFIX}/activation/code",
    response_model=CodeOut,
    summary="Check the activation code received by SMS",
    responses=_responses(400, 404, 410, 413, 415, 422, 429),
    openapi_extra=_body_schema(CodeIn),
)
async def verify_code(request: Request, tenant: Tenant = Depends(get_tenant)) -> Any:
    body = await _parse(request, CodeIn)
    if isinstance(body, JSONResponse):
        return body
    container: Container = get_container(request)
    done = await _call(
        request,
        container.devices.verify_code,
        tenant,
        body.activation_id,
        body.activation_token,
        body.code,
        request_context(request),
    )
    if isinstance(done, JSONResponse):
        return done
    return CodeOut(verified=True)


@router.post(
    f"{PREFIX}/activation/resend",
    response_model=ResendOut,
    summary="Send a new activation code (after a short wait; the tries made so far still count)",
    responses=_responses(403, 404, 410, 413, 415, 422, 429),
    openapi_extra=_body_schema(ActivationStepIn),
)
async def resend_code(request: Request, tenant: Tenant = Depends(get_tenant)) -> Any:
    body = await _parse(request, ActivationStepIn)
    if isinstance(body, JSONResponse):
        return body
    container: Container = get_container(request)
    expires = await _call(
        request,
        container.devices.resend_code,
        tenant,
        body.activation_id,
        body.activation_token,
        request_context(request),
    )
    if isinstance(expires, JSONResponse):
        return expires
    return ResendOut(code_expires_at=expires)


@router.post(
    f"{PREFIX}/register",
    status_code=201,
    response_model=DeviceOut,
    summary="Register the device's public key and its 4-digit code: the app is activated",
    responses=_responses(403, 404, 409, 410, 413, 415, 422),
    openapi_extra=_body_schema(RegisterIn),
)
async def register(request: Request, tenant: Tenant = Depends(get_tenant)) -> Any:
    body = await _parse(request, RegisterIn)
    if isinstance(body, JSONResponse):
        return body
    container: Container = get_container(request)
    device = await _call(
        request,
        container.devices.register,
        tenant,
        body.activation_id,
        body.activation_token,
        body.public_key.model_dump(),
        body.pin,
        body.label,
        request_context(request),
    )
    if isinstance(device, JSONResponse):
        return device
    return JSONResponse(_device_out(tenant, device).model_dump(mode="json"), status_code=201)


# -- an activated device ----------------------------------------------------------------------------------


@router.post(
    f"{PREFIX}/pending",
    response_model=PendingOut,
    summary="The requests waiting for this device (signed by the device over the time)",
    responses=_responses(401, 403, 413, 415, 422),
    openapi_extra=_body_schema(PendingIn),
)
async def pending(request: Request, tenant: Tenant = Depends(get_tenant)) -> Any:
    body = await _parse(request, PendingIn)
    if isinstance(body, JSONResponse):
        return body
    container: Container = get_container(request)
    device = await _call(
        request, container.devices.authenticate_device, tenant, body.device_id, body.timestamp, body.signature
    )
    if isinstance(device, JSONResponse):
        return device
    waiting = await run_in_threadpool(container.approvals.pending_for_device, tenant, device)
    return PendingOut(
        device=_device_out(tenant, device),
        requests=[_pending_out(item) for item in waiting],
        server_time=int(container.clock.now().timestamp()),
        poll_seconds=3,
    )


@router.post(
    f"{PREFIX}/decision",
    response_model=DecisionOut,
    summary="Approve (with the 4-digit code) or deny a request, signed by the device",
    responses=_responses(401, 403, 404, 409, 413, 415, 422),
    openapi_extra=_body_schema(DecisionIn),
)
async def decide(request: Request, tenant: Tenant = Depends(get_tenant)) -> Any:
    body = await _parse(request, DecisionIn)
    if isinstance(body, JSONResponse):
        return body
    container: Container = get_container(request)
    answer = DeviceAnswer(
        device_id=body.device_id,
        request_id=body.request_id,
        decision=body.decision,
        binding_code=body.binding_code,
        signature=body.signature,
        pin=body.pin,
    )
    outcome: DecisionOutcome = await run_in_threadpool(
        container.approvals.decide, tenant, answer, request_context(request)
    )
    if outcome.ok:
        return DecisionOut(
            status=outcome.status.value,
            request_status=outcome.request_status.value if outcome.request_status else None,
        )
    extra: dict[str, Any] = {}
    if outcome.status is DecisionStatus.WRONG_PIN:
        extra["remaining"] = outcome.pins_left
        extra["max_failures"] = app_policy(tenant.policy).max_pin_failures
    if outcome.request_status is not None:
        extra["request_status"] = outcome.request_status.value
    return _error(request, outcome.status.value, **extra)

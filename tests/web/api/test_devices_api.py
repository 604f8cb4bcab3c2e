"""The device API over HTTP: activation, registration, the signed listing of pending requests and
signed decisions; every bad request gets a JSON error and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.devices import ApprovalKind, ApprovalRequest, Decision
from sesame.domain.tenants import Tenant
from sesame.services.approvals import NewApproval
from tests.app_support import CTX, MOBILE, PASSWORD, PIN, SoftDevice, identity_of, sms_codes, verified_account

EMAIL = "marie.api@example.fr"
API = "/laposte/api/device"


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def account_id(container: Container, tenant: Tenant) -> int:
    return verified_account(container, tenant, EMAIL)[0].id


def post(client: TestClient, path: str, body: Any) -> Any:
    return client.post(API + path, json=body, headers={"Accept": "application/json"})


def activate_over_http(client: TestClient, container: Container, soft: SoftDevice, pin: str = PIN) -> dict[str, Any]:
    started = post(client, "/activation", {"email": EMAIL, "password": PASSWORD})
    assert started.status_code == 201, started.text
    activation = started.json()
    step = {"activation_id": activation["activation_id"], "activation_token": activation["activation_token"]}
    assert post(client, "/activation/code", {**step, "code": sms_codes(container)[0]}).json() == {"verified": True}
    registered = post(client, "/register", {**step, "public_key": soft.jwk, "pin": pin, "label": "Pixel"})
    assert registered.status_code == 201, registered.text
    soft.device_id = registered.json()["device_id"]
    return registered.json()


def web_request(container: Container, tenant: Tenant, handle: str = "browser-handle-0123456789") -> ApprovalRequest:
    new = NewApproval(kind=ApprovalKind.WEB_LOGIN, service_name="La Poste", handle=handle)
    return container.approvals.create_request(tenant, new, CTX, mobile=MOBILE).request


def listing(soft: SoftDevice, tenant: Tenant, clock: FrozenClock, offset: int = 0) -> dict[str, Any]:
    timestamp, signature = soft.listing(tenant, int(clock.now().timestamp()) + offset)
    return {"device_id": soft.device_id, "timestamp": timestamp, "signature": signature}


def decision(answer: Any) -> dict[str, Any]:
    body = {
        "device_id": answer.device_id,
        "request_id": answer.request_id,
        "decision": answer.decision.value,
        "binding_code": answer.binding_code,
        "signature": answer.signature,
    }
    if answer.pin is not None:
        body["pin"] = answer.pin
    return body


# -- activation ---------------------------------------------------------------------------------------------


def test_activation_over_http(client: TestClient, container: Container, tenant: Tenant, account_id: int) -> None:
    soft = SoftDevice()
    started = post(client, "/activation", {"email": EMAIL, "password": PASSWORD})
    assert started.status_code == 201
    body = started.json()
    assert body["mobile_masked"] == "+33 6 •• •• •• 78" and body["code_length"] == 6
    assert PASSWORD not in started.text
    step = {"activation_id": body["activation_id"], "activation_token": body["activation_token"]}
    code = sms_codes(container)[0]
    wrong = post(client, "/activation/code", {**step, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "code_wrong" and wrong.json()["remaining"] == 4
    assert post(client, "/activation/code", {**step, "code": code}).status_code == 200
    trivial = post(client, "/register", {**step, "public_key": soft.jwk, "pin": "1985", "label": "x"})
    assert trivial.status_code == 422
    assert trivial.json()["error"] == "pin_rejected" and trivial.json()["reason"] == "pin_birth_date"
    registered = post(
        client, "/register", {**step, "public_key": {**soft.jwk, "ext": True}, "pin": PIN, "label": "Pixel 8"}
    )
    assert registered.status_code == 201
    out = registered.json()
    assert out["device_id"].startswith("dv_") and out["label"] == "Pixel 8" and out["status"] == "active"
    assert out["tenant"] == "laposte" and out["service"] == "La Poste"
    identity = identity_of(container, account_id)
    assert identity is not None and identity.usable_for_eidas2
    again = post(client, "/register", {**step, "public_key": soft.jwk, "pin": PIN, "label": "x"})
    assert again.status_code == 409 and again.json()["error"] == "activation_used"


def test_refusals_of_the_activation(client: TestClient, container: Container, tenant: Tenant, account_id: int) -> None:
    wrong = post(client, "/activation", {"email": EMAIL, "password": "Not-The-Password-1"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_credentials"
    assert "Not-The-Password-1" not in wrong.text
    other = client.post("/poste-ch/api/device/activation", json={"email": EMAIL, "password": PASSWORD})
    assert other.status_code == 404 and other.json()["error"] == "app_unavailable"
    unknown = post(client, "/activation/code", {"activation_id": "da_x", "activation_token": "t", "code": "123456"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "activation_invalid"
    assert sms_codes(container) == []


def test_the_sms_resend_waits(client: TestClient, container: Container, clock: FrozenClock, account_id: int) -> None:
    body = post(client, "/activation", {"email": EMAIL, "password": PASSWORD}).json()
    step = {"activation_id": body["activation_id"], "activation_token": body["activation_token"]}
    early = post(client, "/activation/resend", step)
    assert early.status_code == 429 and early.json()["error"] == "resend_too_soon"
    assert early.headers["retry-after"] == "60"
    clock.advance(seconds=61)
    assert post(client, "/activation/resend", step).status_code == 200
    assert len(sms_codes(container)) == 2


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (b"email=a&password=b", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"{not json", "application/json", 400, "malformed_json"),
        (b'{"email": "a@example.fr"}', "application/json", 422, "invalid_input"),
        (b'{"email": "a@example.fr", "password": "p", "admin": true}', "application/json", 422, "invalid_input"),
        (
            json.dumps({"email": "a@example.fr", "password": "x" * 20000}).encode(),
            "application/json",
            413,
            "payload_too_large",
        ),
    ],
)
def test_bad_bodies_get_json_errors(
    client: TestClient,
    container: Container,
    account_id: int,
    content: bytes,
    content_type: str,
    status: int,
    error: str,
) -> None:
    response = client.post(API + "/activation", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error
    assert "x" * 100 not in response.text and '"p"' not in response.text
    assert sms_codes(container) == []


def test_a_key_that_is_not_p256_is_refused(client: TestClient, container: Container, account_id: int) -> None:
    body = post(client, "/activation", {"email": EMAIL, "password": PASSWORD}).json()
    step = {"activation_id": body["activation_id"], "activation_token": body["activation_token"]}
    post(client, "/activation/code", {**step, "code": sms_codes(container)[0]})
    jwk = SoftDevice().jwk
    rsa = post(client, "/register", {**step, "public_key": {**jwk, "kty": "RSA"}, "pin": PIN})
    assert rsa.status_code == 422 and rsa.json()["error"] == "invalid_input"
    off_curve = {**jwk, "y": jwk["x"]}
    refused = post(client, "/register", {**step, "public_key": off_curve, "pin": PIN})
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_public_key"


# -- an activated device -----------------------------------------------------------------------------------------


def test_pending_requests_are_listed_for_a_signed_call_only(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account_id: int
) -> None:
    soft = SoftDevice()
    activate_over_http(client, container, soft)
    request = web_request(container, tenant)
    signed = listing(soft, tenant, clock)
    listed = post(client, "/pending", signed)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["device"]["device_id"] == soft.device_id and body["server_time"] == int(clock.now().timestamp())
    [item] = body["requests"]
    assert item["request_id"] == request.id and item["service"] == "La Poste" and item["nonce"] == request.nonce
    assert item["binding_mode"] == "enter" and item["binding_message"] is None
    # The app is not told the number to match: no field carries it (a date may contain its digits).
    assert "binding_code" not in item and request.binding_code not in [str(value) for value in item.values()]
    replay = post(client, "/pending", signed)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed_signature"
    stale = post(client, "/pending", listing(soft, tenant, clock, offset=-3600))
    assert stale.status_code == 401 and stale.json()["error"] == "stale_signature"
    assert stale.json()["server_time"] == int(clock.now().timestamp())
    forged = SoftDevice()
    forged.device_id = soft.device_id
    bad = post(client, "/pending", listing(forged, tenant, clock, offset=1))
    assert bad.status_code == 401 and bad.json()["error"] == "bad_signature"


def test_approving_and_the_refusals_of_a_decision(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, account_id: int
) -> None:
    soft = SoftDevice()
    activate_over_http(client, container, soft)
    request = web_request(container, tenant)
    forged = SoftDevice()
    forged.device_id = soft.device_id
    bad = post(client, "/decision", decision(forged.answer(request)))
    assert bad.status_code == 401 and bad.json()["error"] == "bad_signature"
    wrong_pin = post(client, "/decision", decision(soft.answer(request, pin="9513")))
    assert wrong_pin.status_code == 403
    assert wrong_pin.json()["error"] == "wrong_pin" and wrong_pin.json()["remaining"] == 9
    # Nothing echoes the code typed; the random correlation id aside (32 hex digits hold "9513"
    # about once in two thousand answers).
    assert "9513" not in wrong_pin.text.replace(wrong_pin.json()["correlation_id"], "")
    no_pin = post(client, "/decision", decision(soft.answer(request, pin=None)))
    assert no_pin.status_code == 422 and no_pin.json()["error"] == "pin_required"
    answer = decision(soft.answer(request))
    approved = post(client, "/decision", answer)
    assert approved.status_code == 200 and approved.json() == {"status": "approved", "request_status": "approved"}
    replay = post(client, "/decision", answer)
    assert replay.status_code == 409 and replay.json()["error"] == "not_pending"
    assert replay.json()["request_status"] == "approved"


def test_a_wrong_number_refuses_the_request(
    client: TestClient, container: Container, tenant: Tenant, account_id: int
) -> None:
    soft = SoftDevice()
    activate_over_http(client, container, soft)
    request = web_request(container, tenant)
    wrong = "00" if request.binding_code != "00" else "01"
    response = post(client, "/decision", decision(soft.answer(request, binding_code=wrong)))
    assert response.status_code == 422 and response.json()["error"] == "binding_mismatch"
    assert response.json()["request_status"] == "denied"


def test_denying_and_a_disabled_device(
    client: TestClient, container: Container, tenant: Tenant, account_id: int, clock: FrozenClock
) -> None:
    soft = SoftDevice()
    activate_over_http(client, container, soft)
    first = web_request(container, tenant)
    denied = post(client, "/decision", decision(soft.answer(first, Decision.DENY, binding_code="", pin=None)))
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    second = web_request(container, tenant, "another-browser-handle-0123")
    for _ in range(9):
        post(client, "/decision", decision(soft.answer(second, pin="9513")))
    last = post(client, "/decision", decision(soft.answer(second, pin="9513")))
    assert last.status_code == 403 and last.json()["error"] == "device_disabled"
    listed = post(client, "/pending", listing(soft, tenant, clock))
    assert listed.status_code == 403 and listed.json()["error"] == "device_disabled"
    clock.advance(minutes=1)
    identity = identity_of(container, account_id)
    assert identity is not None and not identity.usable_for_eidas2


def test_no_csrf_token_is_needed_and_no_cookie_is_set(
    client: TestClient, container: Container, account_id: int
) -> None:
    response = post(client, "/activation", {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 201
    assert "set-cookie" not in {key.lower() for key in response.headers}


def test_the_device_api_is_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    for path in ("activation", "activation/code", "activation/resend", "register", "pending", "decision"):
        assert f"/{{tenant}}/api/device/{path}" in schema["paths"], path
    register = schema["paths"]["/{tenant}/api/device/register"]["post"]
    assert "requestBody" in register and "422" in register["responses"]
    assert "/{tenant}/login/app" not in schema["paths"], "pages stay out of the API schema"

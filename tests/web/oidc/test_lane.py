"""The protocol endpoints' lane: what clients call goes straight to its handler, with the headers,
ids, metrics and logs every response has, and nothing a page needs (no language, no cookies)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.tenants import Tenant
from sesame.web.app import create_app
from sesame.web.middleware import CONTENT_SECURITY_POLICY
from sesame.web.oidc import LANE_ROUTES, TENANT_PREFIX
from sesame.web.oidc.lane import ProtocolLane

from ..conftest import BASE_URL

PROTOCOL_GETS = ["/laposte/jwks", "/laposte/.well-known/openid-configuration", "/laposte/userinfo"]


def machine(container: Container) -> tuple[str, str]:
    """A client_credentials client of laposte: (client_id, its Basic authorization)."""
    tenant = container.tenants.find("laposte")
    assert tenant is not None
    client, secret = container.oidc_clients.create(tenant, "Batch", grant_types=["client_credentials"])
    raw = f"{client.client_id}:{secret}".encode()
    return client.client_id, "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize("path", PROTOCOL_GETS)
def test_protocol_answers_carry_the_security_headers_and_an_id(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"X-Request-ID": "rp-trace-0001"})
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"].startswith("max-age=")  # served over https here
    assert response.headers["x-request-id"] == "rp-trace-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", client.get(path).headers["x-request-id"])


def test_no_cookie_and_no_language_on_the_lane(client: TestClient) -> None:
    """A client is not a browser: ``?lang=`` sets no cookie there, and no CSRF cookie is made."""
    response = client.get("/laposte/jwks?lang=en")
    assert response.status_code == 200 and "set-cookie" not in response.headers
    page = client.get("/laposte?lang=en")  # a page, for contrast: the language is remembered
    assert "sesame_lang=en" in page.headers.get("set-cookie", "")


def test_the_token_endpoint_works_through_the_lane(container: Container, client: TestClient) -> None:
    client_id, basic = machine(container)
    response = client.post(
        "/laposte/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic}
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "set-cookie" not in response.headers
    described = client.post(
        "/laposte/introspect", data={"token": response.json()["access_token"]}, headers={"Authorization": basic}
    )
    assert described.json()["active"] is True and described.json()["client_id"] == client_id


def test_other_methods_go_through_the_full_stack(client: TestClient) -> None:
    head = client.head("/laposte/jwks")  # HEAD is Starlette's, with its GET route
    assert head.status_code == 200 and head.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    wrong = client.get("/laposte/token")
    assert wrong.status_code == 405 and wrong.headers["x-content-type-options"] == "nosniff"


def test_metrics_count_protocol_requests_by_route_template(container: Container, client: TestClient) -> None:
    _client_id, basic = machine(container)
    client.post("/laposte/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic})
    client.post("/laposte/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic eDp5"})
    text = client.get("/metrics").text
    assert re.search(r'sesame_http_requests_total\{method="POST",route="/\{tenant\}/token",status="200"\} \d', text)
    assert re.search(r'sesame_http_requests_total\{method="POST",route="/\{tenant\}/token",status="401"\} \d', text)
    assert 'route="/laposte/token"' not in text


def test_failures_are_logged_successes_are_not(
    settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    container = build_container(settings.model_copy(update={"log_json": True}), clock=clock)
    container.tenants.create("laposte", "La Poste")
    _client_id, basic = machine(container)
    try:
        with TestClient(create_app(container), base_url=BASE_URL) as client:
            ok = client.post(
                "/laposte/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic}
            )
            refused = client.post(
                "/laposte/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic eDp5"}
            )
    finally:
        container.close()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "sesame.access"]
    assert [(line["route"], line["status"]) for line in access] == [("/{tenant}/token", 401)]
    assert access[0]["correlation_id"] == refused.headers["x-request-id"] != ok.headers["x-request-id"]
    assert "eDp5" not in json.dumps(lines)


def test_an_unexpected_failure_is_a_json_500_with_every_header() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    async def pages(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the lane's own paths never reach the rest of the app")

    lane = ProtocolLane(pages, routes={("broken", "GET"): Route("/{tenant}/broken", broken)}, hsts=False)
    response = TestClient(lane, raise_server_exceptions=False).get("/laposte/broken")
    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "error_description": "the server met an unexpected error"}
    assert (
        response.headers["x-content-type-options"] == "nosniff" and "strict-transport-security" not in response.headers
    )
    assert "a bug" not in response.text


def test_no_other_route_has_the_shape_of_a_lane_path(app: FastAPI) -> None:
    """The lane takes ``/{anything}/token`` (and the others) before routing: a page or API route
    of that shape would never be reached. Register it elsewhere, or make it a protocol route."""
    paths = _route_paths(app.routes)
    assert "/{tenant}/token" in paths and "/{tenant}/account" in paths  # every router was walked
    suffixes = {suffix for suffix, _method in LANE_ROUTES}
    shadowed = [
        path
        for path in paths
        if len(parts := path.split("/", 2)) == 3 and parts[2] in suffixes and not path.startswith(TENANT_PREFIX)
    ]
    assert shadowed == []
    assert {suffix for suffix, _ in LANE_ROUTES} >= {
        "token",
        "introspect",
        "revoke",
        "userinfo",
        "jwks",
        ".well-known/openid-configuration",
    }


def _route_paths(routes: Any) -> list[str]:
    paths: list[str] = []
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            paths.append(route.path)
        inner = getattr(route, "original_router", None) or getattr(route, "app", None)
        if inner is not None and hasattr(inner, "routes"):
            prefix = getattr(route, "path", "") if type(route).__name__ == "Mount" else ""
            paths.extend(prefix + p for p in _route_paths(inner.routes))
    return paths


def test_counted_issuances_are_written_when_the_app_shuts_down(container: Container, app: FastAPI) -> None:
    _client_id, basic = machine(container)
    with TestClient(app, base_url=BASE_URL) as client:
        for _ in range(3):
            client.post("/laposte/token", data={"grant_type": "client_credentials"}, headers={"Authorization": basic})
        laposte: Tenant | None = container.tenants.find("laposte")
        assert laposte is not None and "oidc.client_tokens_issued" not in _types(container, laposte)
    counted = [r.event for r in _chain(container, laposte) if r.event.type == "oidc.client_tokens_issued"]
    assert [e.details["count"] for e in counted] == [3]


def _chain(container: Container, tenant: Tenant) -> Any:
    with container.uow(readonly=True) as uow:
        return uow.audit.chain(tenant.id)


def _types(container: Container, tenant: Tenant) -> list[str]:
    return [r.event.type for r in _chain(container, tenant)]

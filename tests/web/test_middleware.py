"""The middleware stack: security headers, correlation ids, body limit, access log, metrics, static files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import build_container
from sesame.config import Settings
from sesame.services.demo import load_demo
from sesame.web.app import create_app
from sesame.web.middleware import CONTENT_SECURITY_POLICY, cookies_secure
from sesame.web.templating import contrast_ratio, text_color_on, theme_css

from .conftest import BASE_URL


@contextmanager
def other_app(settings: Settings, clock: FrozenClock, **changes: object) -> Iterator[FastAPI]:
    """The app with other settings (over the same test database)."""
    container = build_container(settings.model_copy(update=changes), clock=clock)
    load_demo(container.tenants)
    try:
        yield create_app(container)
    finally:
        container.close()


def _echo_router() -> APIRouter:
    """A test-only route that reads the whole body (no CSRF check: not a page)."""
    router = APIRouter()

    @router.post("/_test/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @router.post("/api/_test/echo")
    async def api_echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return router


# -- security headers ------------------------------------------------------------------------------


def test_pages_carry_the_security_headers(client: TestClient) -> None:
    response = client.get("/laposte")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "form-action" not in csp  # it would block the redirect to an OAuth client after a login
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] in {"same-origin", "strict-origin-when-cross-origin"}
    assert "geolocation=()" in response.headers["permissions-policy"]
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/healthz", "/does/not/exist", "/static/css/sesame.css", "/api/nothing"])
def test_every_response_carries_them(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_only_html_is_no_store(client: TestClient) -> None:
    assert "no-store" not in client.get("/static/css/sesame.css").headers.get("cache-control", "")
    assert client.get("/does/not/exist").headers["cache-control"] == "no-store"


def test_no_hsts_when_served_over_plain_http(settings: Settings, clock: FrozenClock) -> None:
    with (
        other_app(settings, clock, base_url="http://127.0.0.1:8000") as app,
        TestClient(app, base_url="http://127.0.0.1:8000") as client,
    ):
        response = client.get("/laposte")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_cookies_are_secure_over_https_and_on_loopback_only(settings: Settings) -> None:
    assert cookies_secure(settings)
    assert cookies_secure(settings.model_copy(update={"base_url": "http://127.0.0.1:8000"}))
    assert cookies_secure(settings.model_copy(update={"base_url": "http://localhost:8000"}))
    assert not cookies_secure(settings.model_copy(update={"base_url": "http://192.168.1.20:8000"}))


# -- correlation id --------------------------------------------------------------------------------


def test_a_correlation_id_is_generated(client: TestClient) -> None:
    first = client.get("/laposte").headers["x-request-id"]
    second = client.get("/laposte").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_sane_incoming_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/laposte", headers={"X-Request-ID": "lb-7f3a9c21.0001"})
    assert response.headers["x-request-id"] == "lb-7f3a9c21.0001"


@pytest.mark.parametrize("incoming", ["short", "<script>alert(1)</script>", "a" * 200, "id with spaces 123"])
def test_an_insane_incoming_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/laposte", headers={"X-Request-ID": incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


# -- body size limit -------------------------------------------------------------------------------


@pytest.fixture
def small_limit_client(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with other_app(settings, clock, max_upload_bytes=2048) as app:
        app.router.routes[0:0] = _echo_router().routes
        with TestClient(app, base_url=BASE_URL) as client:
            yield client


def test_a_body_declared_too_large_is_refused_with_a_clear_page(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/_test/echo", content=b"a" * 4096)
    assert response.status_code == 413
    assert "Votre envoi est trop volumineux" in response.text
    assert "limités à 2\u00a0ko" in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-request-id"] in response.text


def test_the_limit_is_said_in_the_visitor_language(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/_test/echo", content=b"a" * 4096, headers={"accept-language": "en"})
    assert response.status_code == 413
    assert "2 kB at most" in response.text


def test_a_streamed_body_going_over_the_limit_is_refused(small_limit_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"a" * 1024

    response = small_limit_client.post("/_test/echo", content=chunks())
    assert "content-length" not in response.request.headers  # sent chunked: only counting can catch it
    assert response.status_code == 413
    assert "trop volumineux" in response.text


def test_the_api_gets_a_json_413(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/api/_test/echo", content=b"{}" + b" " * 4096)
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "payload_too_large"
    assert body["correlation_id"] == response.headers["x-request-id"]


def test_a_body_under_the_limit_goes_through(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/_test/echo", content=b"a" * 2048)
    assert response.status_code == 200
    assert response.json() == {"size": 2048}


# -- access log and metrics ------------------------------------------------------------------------


def test_the_access_log_has_no_query_string(
    settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    with other_app(settings, clock, log_json=True) as app, TestClient(app, base_url=BASE_URL) as client:
        response = client.get("/laposte?code=SECRET-CODE-123&state=xyz")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "sesame.access"]
    assert len(access) == 1
    line = access[0]
    assert line["event"] == "request"
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/laposte", "/{tenant}", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["correlation_id"] == response.headers["x-request-id"]
    assert "SECRET-CODE-123" not in json.dumps(lines)


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/laposte")
    client.get("/banque")
    text = client.get("/metrics").text
    assert re.search(r'sesame_http_requests_total\{method="GET",route="/\{tenant\}",status="200"\} \d', text)
    assert 'route="/laposte"' not in text
    assert "sesame_http_request_duration_seconds_bucket" in text
    client.get("/no/such/page/here")
    assert 'route="<unmatched>",status="404"' in client.get("/metrics").text


# -- static files and the tenant's colours -------------------------------------------------------------


def test_static_files_are_served(client: TestClient) -> None:
    response = client.get("/static/css/sesame.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text


def test_the_theme_stylesheet_has_the_tenant_colours(client: TestClient) -> None:
    page = client.get("/laposte").text
    theme = re.search(r'href="(/static/theme/laposte\.css\?v=\d+)"', page)
    assert theme, "the page links its tenant's stylesheet"
    response = client.get(theme.group(1))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "--brand-bg: #003da5;" in response.text
    assert "--brand-fg: #ffffff;" in response.text
    assert client.get("/static/theme/nobody.css").status_code == 404


def test_header_text_is_black_or_white_by_contrast() -> None:
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert text_color_on("#003da5") == "#ffffff"  # La Poste blue
    assert text_color_on("#ffc83d") == "#000000"  # La Poste yellow
    assert text_color_on("#ffffff") == "#000000"
    assert text_color_on("#1a1a1a") == "#ffffff"
    for color in ("#777777", "#ff0000", "#00ff00", "#0000ff", "#808000", "#f5a300"):
        assert contrast_ratio(color, text_color_on(color)) >= 4.5


def test_a_light_primary_colour_is_not_used_for_links() -> None:
    from sesame.domain.tenants import Branding

    light = theme_css(Branding(primary_color="#ffcc00"))
    assert "--brand-fg: #000000;" in light
    assert "--brand-link: #1f3a93;" in light

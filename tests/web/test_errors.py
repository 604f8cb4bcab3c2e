"""Errors: friendly pages in the visitor's language for people, JSON with a correlation id for the API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from sesame.domain.errors import FlowExpired, InvalidInput, NotFound
from sesame.domain.tenants import Tenant
from sesame.web.deps import get_tenant
from sesame.web.errors import wants_json

from .conftest import BASE_URL


def _failing_router() -> APIRouter:
    router = APIRouter()

    @router.get("/_test/boom")
    @router.get("/api/_test/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    @router.get("/_test/number")
    @router.get("/api/_test/number")
    async def number(n: int) -> dict[str, int]:
        return {"n": n}

    @router.get("/_test/expired")
    async def expired() -> None:
        raise FlowExpired("flow abc expired at 12:00")

    @router.get("/{tenant}/_test/expired")
    async def tenant_expired(tenant: Tenant = Depends(get_tenant)) -> None:
        raise FlowExpired(f"flow of {tenant.slug} expired")

    @router.get("/api/_test/missing")
    async def missing() -> None:
        raise NotFound("no client 42")

    @router.get("/api/_test/invalid")
    async def invalid() -> None:
        raise InvalidInput("bad slug", field="slug")

    return router


@pytest.fixture
def failing(app: FastAPI) -> Iterator[TestClient]:
    app.router.routes[0:0] = _failing_router().routes
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def test_unknown_tenant_gets_a_french_404_page_with_the_reference(client: TestClient) -> None:
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in response.text
    assert "Ce service n’existe pas" in response.text
    reference = response.headers["x-request-id"]
    assert f"Référence\u00a0: {reference}" in response.text
    assert 'href="/"' in _main(response.text)


def test_an_impossible_slug_is_a_404_too(client: TestClient) -> None:
    assert client.get("/NOT_A_SLUG").status_code == 404
    assert "Ce service n’existe pas" in client.get("/NOT_A_SLUG").text


def test_the_404_page_is_in_english_when_asked(client: TestClient) -> None:
    response = client.get("/nowhere", headers={"accept-language": "en-GB,en;q=0.8"})
    assert response.status_code == 404
    assert '<html lang="en">' in response.text
    assert "This service does not exist" in response.text
    assert "Reference: " in response.text


def test_an_unknown_page_is_a_friendly_404(client: TestClient) -> None:
    response = client.get("/laposte/no/such/page")
    assert response.status_code == 404
    assert "Page introuvable" in response.text


def test_api_errors_are_json_with_the_correlation_id(client: TestClient) -> None:
    response = client.get("/api/nothing/here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "not_found"
    assert body["message"]
    assert body["correlation_id"] == response.headers["x-request-id"]


def test_a_client_asking_for_json_gets_json(client: TestClient) -> None:
    response = client.get("/nowhere", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_tenant"


def test_a_wrong_method_is_a_405_page_with_allow(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "Cette action n’est pas possible ici" in response.text
    assert "GET" in response.headers["allow"]


def test_bad_input_is_a_400_page_not_a_list_of_pydantic_errors(failing: TestClient) -> None:
    # The input is not hexadecimal, so it cannot turn up inside the correlation id shown on the page.
    response = failing.get("/_test/number?n=not-a-number")
    assert response.status_code == 400
    assert "Les informations envoyées n’ont pas pu être traitées" in response.text
    assert "int_parsing" not in response.text and "not-a-number" not in _main(response.text)


def test_bad_api_input_is_a_422_without_echoing_the_input(failing: TestClient) -> None:
    response = failing.get("/api/_test/number?n=secret-value")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["correlation_id"] == response.headers["x-request-id"]
    assert body["details"][0]["loc"] == ["query", "n"]
    assert "secret-value" not in response.text


def test_an_unexpected_error_is_a_500_page_that_reveals_nothing(
    failing: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = failing.get("/_test/boom")
    assert response.status_code == 500
    assert "Un problème est survenu de notre côté" in response.text
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    reference = response.headers["x-request-id"]
    assert reference in response.text
    # Our middleware still ran: security headers on the 500 too.
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # The log has the exception and the correlation id, to find it from the reference.
    log = capsys.readouterr().err
    failed = [line for line in log.splitlines() if "request.failed" in line]
    assert failed and reference in failed[0]
    assert "RuntimeError" in log


def test_an_unexpected_api_error_is_a_json_500(failing: TestClient) -> None:
    response = failing.get("/api/_test/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert body["correlation_id"] == response.headers["x-request-id"]
    assert "hunter2" not in json.dumps(body)


def test_domain_errors_have_a_sane_default_status(failing: TestClient) -> None:
    expired = failing.get("/_test/expired")
    assert expired.status_code == 410
    assert "Cette étape a expiré" in expired.text
    assert "12:00" not in expired.text  # the technical message is for the log only
    missing = failing.get("/api/_test/missing")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    invalid = failing.get("/api/_test/invalid")
    assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_input")


def test_error_pages_of_a_tenant_use_its_branding(failing: TestClient) -> None:
    response = failing.get("/banque/_test/expired")
    assert response.status_code == 410
    assert "/static/theme/banque.css" in response.text
    assert "La Banque Postale" in response.text


@pytest.mark.parametrize(
    ("path", "accept", "expected"),
    [
        ("/api/x", "", True),
        ("/api", "text/html", True),
        ("/apiary", "", False),
        ("/laposte", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("/laposte", "application/json", True),
        ("/laposte", "application/json;q=0.5, text/html", False),
        ("/laposte", "*/*", False),
    ],
)
def test_who_wants_json(path: str, accept: str, expected: bool) -> None:
    from starlette.requests import Request

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"accept", accept.encode())] if accept else [],
        "server": ("testserver", 443),
        "scheme": "https",
    }
    assert wants_json(Request(scope)) is expected

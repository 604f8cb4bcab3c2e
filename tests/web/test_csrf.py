"""CSRF protection of HTML forms: the cookie, the token bound to it, the friendly refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient

from sesame.config import Settings
from sesame.web.csrf import browser_token, cookie_name, csrf_input, csrf_protect

from .conftest import BASE_URL

COOKIE = "__Host-sesame_csrf"  # the test server is https://testserver
TOKEN_RE = re.compile(r'<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]+)">')


def _form_router() -> APIRouter:
    """A page with a form, and its handler, protected like every page router."""
    router = APIRouter(dependencies=[Depends(csrf_protect)])

    @router.get("/_test/form", response_class=HTMLResponse)
    async def show(request: Request) -> HTMLResponse:
        return HTMLResponse(f'<form method="post">{csrf_input(request)}<input name="name"></form>')

    @router.post("/_test/form", response_class=PlainTextResponse)
    async def submit(name: str = Form("")) -> PlainTextResponse:
        return PlainTextResponse(f"ok {name}")

    @router.post("/_test/upload", response_class=PlainTextResponse)
    async def upload(request: Request) -> PlainTextResponse:
        form = await request.form()
        return PlainTextResponse(f"ok {len(form)} fields")

    @router.get("/_test/browser", response_class=PlainTextResponse)
    async def browser(request: Request) -> PlainTextResponse:
        return PlainTextResponse(browser_token(request))

    return router


@pytest.fixture
def form_app(app: FastAPI) -> FastAPI:
    app.router.routes[0:0] = _form_router().routes  # before the tenant catch-alls
    return app


@pytest.fixture
def browser(form_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(form_app, base_url=BASE_URL) as client:
        yield client


def _open_form(client: TestClient) -> str:
    response = client.get("/_test/form")
    assert response.status_code == 200
    match = TOKEN_RE.search(response.text)
    assert match
    return match.group(1)


def test_the_page_with_a_form_sets_the_cookie(browser: TestClient) -> None:
    response = browser.get("/_test/form")
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    assert "domain=" not in set_cookie.lower()  # __Host- cookies are host-only


def test_pages_without_a_form_set_no_cookie(browser: TestClient) -> None:
    assert "set-cookie" not in browser.get("/laposte").headers
    assert "set-cookie" not in browser.get("/healthz").headers


def test_the_right_token_is_accepted(browser: TestClient) -> None:
    token = _open_form(browser)
    response = browser.post("/_test/form", data={"csrf_token": token, "name": "Camille"})
    assert response.status_code == 200
    assert response.text == "ok Camille"  # the Form() parameter still works after the check read the form


def test_a_multipart_form_is_checked_too(browser: TestClient) -> None:
    token = _open_form(browser)
    files = {"document": ("recto.png", b"\x89PNG fake", "image/png")}
    assert browser.post("/_test/upload", data={"csrf_token": token}, files=files).text == "ok 2 fields"
    assert browser.post("/_test/upload", data={"csrf_token": "nope"}, files=files).status_code == 403


def test_a_post_without_token_is_refused_with_a_friendly_page(browser: TestClient) -> None:
    _open_form(browser)
    response = browser.post("/_test/form?flow=abc", data={"name": "Camille"})
    assert response.status_code == 403
    assert "Votre session a expiré ou le formulaire a été envoyé deux fois" in response.text
    assert 'href="/_test/form?flow=abc"' in response.text  # a link back to the form


def test_a_wrong_token_is_refused(browser: TestClient) -> None:
    token = _open_form(browser)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert browser.post("/_test/form", data={"csrf_token": forged}).status_code == 403
    assert browser.post("/_test/form", data={"csrf_token": "é" * 10}).status_code == 403


def test_a_post_without_the_cookie_is_refused(browser: TestClient) -> None:
    token = _open_form(browser)
    browser.cookies.clear()
    assert browser.post("/_test/form", data={"csrf_token": token}).status_code == 403


def test_the_token_is_bound_to_the_browser_cookie(form_app: FastAPI) -> None:
    with TestClient(form_app, base_url=BASE_URL) as alice, TestClient(form_app, base_url=BASE_URL) as mallory:
        alice_token = _open_form(alice)
        mallory_token = _open_form(mallory)
        assert alice_token != mallory_token
        # Mallory's own valid token does not work with Alice's cookie, and the other way round.
        assert alice.post("/_test/form", data={"csrf_token": mallory_token}).status_code == 403
        assert mallory.post("/_test/form", data={"csrf_token": alice_token}).status_code == 403
        assert alice.post("/_test/form", data={"csrf_token": alice_token}).status_code == 200


def test_a_json_post_to_a_page_is_refused(browser: TestClient) -> None:
    _open_form(browser)
    assert browser.post("/_test/form", json={"name": "x"}).status_code == 403


def test_the_token_stays_valid_while_the_cookie_does(browser: TestClient) -> None:
    first = _open_form(browser)
    assert _open_form(browser) == first  # same cookie, same token: two tabs both work


def test_browser_token_is_the_cookie(browser: TestClient) -> None:
    fresh = browser.get("/_test/browser")
    assert fresh.headers["set-cookie"].startswith(f"{COOKIE}={fresh.text};")
    assert browser.get("/_test/browser").text == fresh.text  # the browser sent it back


def test_a_malformed_cookie_is_replaced(browser: TestClient) -> None:
    response = browser.get("/_test/browser", headers={"cookie": f"{COOKIE}=short"})
    assert response.text != "short"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", response.text)


def test_the_cookie_has_no_host_prefix_over_plain_http(settings: Settings) -> None:
    assert cookie_name(settings) == COOKIE
    assert cookie_name(settings.model_copy(update={"base_url": "http://127.0.0.1:8000"})) == "sesame_csrf"

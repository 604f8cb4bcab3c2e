"""The reference flow in the web: start, steps, errors, expiry, other browser, other node."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.web.app import create_app

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    container.tenants.create("acme", "ACME")
    with TestClient(create_app(container), base_url="https://testserver") as client:
        yield client


def _start(client: TestClient) -> tuple[str, str]:
    """Start a flow; returns (flow URL, CSRF token of its form)."""
    response = client.get("/acme/hello", follow_redirects=False)
    assert response.status_code == 303
    url = response.headers["location"]
    assert re.fullmatch(r"/acme/hello/[A-Za-z0-9_-]{43}", url)
    page = client.get(url)
    assert page.status_code == 200
    match = CSRF_RE.search(page.text)
    assert match, "the form carries a CSRF token"
    return url, match.group(1)


def test_whole_journey_in_french(client: TestClient) -> None:
    url, token = _start(client)
    response = client.post(url, data={"csrf_token": token, "step": "ask_name", "name": "Marie Curie"})
    assert response.status_code == 200 and "Marie Curie" in response.text  # followed the 303
    assert 'data-flow-state="confirm"' in response.text
    response = client.post(url, data={"csrf_token": token, "step": "confirm", "action": "confirm"})
    assert 'data-flow-state="done"' in response.text
    assert "Bonjour, Marie Curie" in response.text


def test_invalid_input_is_explained_and_changes_nothing(client: TestClient) -> None:
    url, token = _start(client)
    response = client.post(url, data={"csrf_token": token, "step": "ask_name", "name": ""})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text and 'role="alert"' in response.text
    response = client.post(url, data={"csrf_token": token, "step": "ask_name", "name": "x" * 500})
    assert response.status_code == 400
    assert 'data-flow-state="ask_name"' in client.get(url).text


def test_missing_or_wrong_csrf_token(client: TestClient) -> None:
    url, token = _start(client)
    for data in ({"name": "Eve"}, {"csrf_token": token[:-2] + "xx", "name": "Eve"}):
        response = client.post(url, data=data)
        assert response.status_code == 403
    assert 'data-flow-state="ask_name"' in client.get(url).text


def test_double_submit_is_harmless(client: TestClient) -> None:
    url, token = _start(client)
    # Names with a space: the page's random tokens (flow id, CSRF) are base64url, where a bare "Bob"
    # turns up about once in three thousand pages.
    client.post(url, data={"csrf_token": token, "step": "ask_name", "name": "Ana Lopez"})
    response = client.post(url, data={"csrf_token": token, "step": "ask_name", "name": "Bob Morane"})
    assert response.status_code == 200
    assert "Ana Lopez" in response.text and "Bob Morane" not in response.text


def test_expired_flow_offers_a_fresh_start(client: TestClient, clock: FrozenClock) -> None:
    url, token = _start(client)
    clock.advance(hours=2)
    for response in (
        client.get(url),
        client.post(url, data={"csrf_token": token, "step": "ask_name", "name": "Late"}),
    ):
        assert response.status_code == 410
        assert "expiré" in response.text
        assert 'href="/acme/hello"' in response.text


@pytest.mark.parametrize("flow_id", ["unknown", "A" * 43, "%2e%2e", "x" * 300])
def test_unknown_flow_offers_a_fresh_start(client: TestClient, flow_id: str) -> None:
    response = client.get(f"/acme/hello/{flow_id}")
    assert response.status_code == 404
    assert 'href="/acme/hello"' in response.text


def test_flow_of_another_browser(client: TestClient, container: Container) -> None:
    url, _ = _start(client)
    with TestClient(client.app, base_url="https://testserver") as other:
        _, other_token = _start(other)  # a valid CSRF token of its own
        response = other.post(url, data={"csrf_token": other_token, "step": "ask_name", "name": "Mallory"})
    assert response.status_code == 403
    assert "autre navigateur" in response.text
    assert 'data-flow-state="ask_name"' in client.get(url).text


def test_unknown_tenant(client: TestClient) -> None:
    assert client.get("/nobody/hello").status_code == 404


def test_journey_started_on_one_node_finishes_on_another(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    url, token = _start(client)
    client.post(url, data={"csrf_token": token, "step": "ask_name", "name": "Node One"})
    second_node = build_container(settings, clock=clock)  # another process: its own engine and caches
    try:
        with TestClient(create_app(second_node), base_url="https://testserver") as node_two:
            node_two.cookies = client.cookies
            response = node_two.post(url, data={"csrf_token": token, "step": "confirm", "action": "confirm"})
            assert "Bonjour, Node One" in response.text
    finally:
        second_node.close()


def test_english(client: TestClient) -> None:
    url, _ = _start(client)
    page = client.get(url + "?lang=en")
    assert "Your name" in page.text and 'lang="en"' in page.text

"""The dev inbox pages: list, message, HTML preview under its own policy, PDF, JSON; dev mode only."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.services import outbox
from sesame.web.app import create_app

ADDRESS = "M. Jean Dupont\n12 rue des Lilas\n75011 Paris"


@pytest.fixture
def queued(container: Container, client: TestClient) -> dict[str, int]:
    """An email, an SMS and a letter, from the demo tenants (the client fixture loaded them)."""
    now = container.clock.now()
    laposte, banque = container.tenants.get("laposte"), container.tenants.get("banque")
    with container.uow() as uow:
        ids = {
            "email": outbox.queue_email(
                uow, laposte, "welcome", "en", "zoe@example.org",
                {"name": "<b>Zoé</b>", "login_url": "https://testserver/laposte/login"}, now=now,
            ),
            "sms": outbox.queue_sms(uow, laposte, "code", "fr", "+33612345678", {"code": "318604"}, now=now,
                                    sensitive=True),
            "letter": outbox.queue_letter(
                uow, banque, "generic", "fr", ADDRESS,
                {"subject": "Votre code provisoire", "body": "Votre numéro client : 0123456789. Code : 552211."},
                now=now, sensitive=True,
            ),
        }  # fmt: skip
        uow.commit()
    return ids


def test_empty_inbox(client: TestClient) -> None:
    response = client.get("/_dev/outbox")
    assert response.status_code == 200
    assert "No message yet" in response.text
    assert client.get("/_dev/outbox.json").json() == []


def test_list_newest_first(client: TestClient, queued: dict[str, int]) -> None:
    response = client.get("/_dev/outbox")
    assert response.status_code == 200
    text = response.text
    assert text.index(f'href="/_dev/outbox/{queued["letter"]}"') < text.index(f'href="/_dev/outbox/{queued["email"]}"')
    assert "Welcome to La Poste" in text and "Votre code provisoire" in text and "318604 est votre code" in text
    assert "+33612345678" in text and "M. Jean Dupont" in text and "pending" in text
    assert '<link rel="stylesheet" href="/_dev/outbox.css">' in text
    css = client.get("/_dev/outbox.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    only_bank = client.get("/_dev/outbox", params={"tenant": "banque"}).text
    assert "Votre code provisoire" in only_bank and "Welcome to La Poste" not in only_bank


def test_json_gives_codes_and_letter_texts(client: TestClient, queued: dict[str, int]) -> None:
    messages = client.get("/_dev/outbox.json").json()
    assert [m["id"] for m in messages] == [queued["letter"], queued["sms"], queued["email"]]
    letter, sms, mail = messages
    assert sms["text"].startswith("318604 est votre code La Poste") and sms["tenant"] == "laposte"
    assert "Code : 552211." in letter["text"] and letter["recipient"] == ADDRESS
    assert letter["pdf_url"] == f"/_dev/outbox/{queued['letter']}.pdf" and letter["has_pdf"] is True
    assert mail["html_url"] == f"/_dev/outbox/{queued['email']}/html" and mail["pdf_url"] is None
    assert "https://testserver/laposte/login" in mail["text"]
    by_tenant = client.get("/_dev/outbox.json", params={"tenant": "banque", "limit": 5}).json()
    assert [m["id"] for m in by_tenant] == [queued["letter"]]
    assert client.get("/_dev/outbox.json", params={"tenant": "nope"}).status_code == 404


def test_message_page_escapes_and_frames_the_html(client: TestClient, queued: dict[str, int]) -> None:
    page = client.get(f"/_dev/outbox/{queued['email']}")
    assert page.status_code == 200
    assert "&lt;b&gt;Zoé&lt;/b&gt;" in page.text and "<b>Zoé</b>" not in page.text
    assert f'<iframe src="/_dev/outbox/{queued["email"]}/html" sandbox' in page.text
    preview = client.get(f"/_dev/outbox/{queued['email']}/html")
    assert preview.status_code == 200
    policy = preview.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert "&lt;b&gt;Zoé&lt;/b&gt;" in preview.text  # the template escaped the name
    assert client.get(f"/_dev/outbox/{queued['sms']}/html").status_code == 404


def test_letter_page_and_pdf(client: TestClient, queued: dict[str, int]) -> None:
    page = client.get(f"/_dev/outbox/{queued['letter']}")
    assert page.status_code == 200
    assert "Code : 552211." in page.text and f'href="/_dev/outbox/{queued["letter"]}.pdf"' in page.text
    pdf = client.get(f"/_dev/outbox/{queued['letter']}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/_dev/outbox/{queued['sms']}.pdf").status_code == 404


def test_unknown_message_is_404(client: TestClient) -> None:
    assert client.get("/_dev/outbox/999999").status_code == 404


def test_not_served_outside_dev_mode(settings: Settings, clock: FrozenClock) -> None:
    container = build_container(settings.model_copy(update={"dev_mode": False}), clock=clock)
    try:
        with TestClient(create_app(container), base_url="https://testserver") as client:
            for path in ("/_dev/outbox", "/_dev/outbox.json", "/_dev/outbox/1", "/_dev/outbox/1.pdf"):
                assert client.get(path).status_code == 404, path
    finally:
        container.close()


def test_the_app_worker_delivers_what_the_inbox_lists(settings: Settings, clock: FrozenClock) -> None:
    """With SESAME_OUTBOX_WORKER on, the app's lifespan runs the worker: queued becomes sent."""
    configured = settings.model_copy(update={"outbox_worker": True, "outbox_poll_seconds": 0.05})
    container = build_container(configured, clock=clock)
    try:
        with TestClient(create_app(container), base_url="https://testserver") as client:
            message_id = outbox.send_test(container.uow, clock, to="ops@example.org")
            status = None
            deadline = time.monotonic() + 30  # generous: a loaded CI machine delivers later
            while time.monotonic() < deadline:
                (listed,) = client.get("/_dev/outbox.json").json()
                status = listed["status"]
                if status == "sent":
                    break
                time.sleep(0.05)
            assert (listed["id"], status) == (message_id, "sent")
    finally:
        container.close()

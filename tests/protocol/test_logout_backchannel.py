"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0), through the outbox.

When a browser session ends (``/{tenant}/logout``, the end-session endpoint, or a password
reset), each client with a grant of that session and a ``backchannel_logout_uri`` gets a logout
token, queued in the same transaction; the outbox worker POSTs it to a real HTTP server here,
including one that is down at first and receives it on a later attempt.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.errors import InvalidInput
from sesame.domain.messages import Channel, DeliveryStatus, OutboundMessage
from sesame.domain.tenants import Tenant
from sesame.oidc.logout import BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME
from sesame.services.context import RequestContext
from sesame.services.outbox import queue, queue_http_form
from sesame.services.outbox_worker import DeliveryReport, deliver_due
from sesame.services.sessions import end_everything
from tests.protocol.logout_support import (
    ISSUER,
    Partner,
    app,
    backchannel_messages,
    browser,
    claims_of,
    csrf_token,
    laposte,
    live_sessions,
    log_in_at,
    logout_token_of,
    refresh,
    register,
    sign_in,
    verified,
)

__all__ = ["app", "browser", "laposte"]  # fixtures


class Receiver:
    """A partner's back-channel logout endpoint: a real HTTP server on 127.0.0.1, bound at once but
    listening only once :meth:`start` is called (until then, connections are refused: "down")."""

    def __init__(self, status: int = 200) -> None:
        self.tokens: list[str] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
                receiver.tokens.extend(parse_qs(body).get("logout_token", []))
                self.send_response(receiver.status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.server.server_activate()  # listen() now: the partner is up
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    up = Receiver()
    up.start()
    yield up
    up.close()


@pytest.fixture
def down() -> Iterator[Receiver]:
    sleeping = Receiver()
    yield sleeping
    sleeping.close()


def deliver(container: Container) -> DeliveryReport:
    return asyncio.run(deliver_due(container, owner="test-worker"))


def log_out(browser: TestClient) -> None:
    page = browser.get("/laposte/logout")
    response = browser.post("/laposte/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303


def with_backchannel(container: Container, laposte: Tenant, name: str, url: str) -> Partner:
    return register(container, laposte, name, backchannel_logout_uri=url)


# -- queued with the session's end --------------------------------------------------------------------


def test_logging_out_queues_one_token_per_client_with_a_backchannel_uri(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    first = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    second = with_backchannel(container, laposte, "Impots", "https://impots.example/bc")
    quiet = register(container, laposte, "No back-channel")
    log_in_at(browser)
    for partner in (first, second, second, quiet):  # two grants of the same client: one token
        sign_in(browser, partner)

    log_out(browser)

    messages = backchannel_messages(container)
    assert sorted(m.recipient for m in messages) == ["https://ameli.example/bc", "https://impots.example/bc"]
    assert all(m.status is DeliveryStatus.PENDING and m.sensitive and m.tenant_id == laposte.id for m in messages)
    audiences = {m.recipient: verified(browser, logout_token_of(m))[1]["aud"] for m in messages}
    assert audiences == {"https://ameli.example/bc": first.client_id, "https://impots.example/bc": second.client_id}
    with container.uow(readonly=True) as uow:
        record = uow.audit.chain(laposte.id)[-1]
    assert record.event.type == "logout"
    assert record.event.details["backchannel_logouts"] == 2 and record.event.details["grants_revoked"] == 4


def test_no_token_when_no_client_was_signed_in_to(browser: TestClient, container: Container, laposte: Tenant) -> None:
    with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    log_in_at(browser)
    log_out(browser)
    assert backchannel_messages(container) == []


def test_another_session_of_the_same_person_is_not_logged_out(
    app: Any, browser: TestClient, container: Container, laposte: Tenant
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    log_in_at(browser)
    sign_in(browser, partner)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as other_browser:
        log_in_at(other_browser)
        log_out(other_browser)
    assert backchannel_messages(container) == []
    assert len(live_sessions(container, laposte)) == 1


def test_the_end_session_endpoint_queues_them_too(browser: TestClient, container: Container, laposte: Tenant) -> None:
    partner = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    log_in_at(browser)
    signed = sign_in(browser, partner)

    browser.get(f"/laposte/end-session?id_token_hint={signed.id_token}")

    (message,) = backchannel_messages(container)
    assert message.recipient == "https://ameli.example/bc"


# -- delivered, and what the client receives ---------------------------------------------------------------


def test_the_worker_posts_a_logout_token_that_verifies_with_the_jwks(
    browser: TestClient, container: Container, clock: FrozenClock, laposte: Tenant, receiver: Receiver
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", receiver.url)
    log_in_at(browser)
    id_token = claims_of(browser, sign_in(browser, partner).id_token)
    log_out(browser)

    report = deliver(container)

    assert (report.claimed, report.sent) == (1, 1)
    (token,) = receiver.tokens
    header, claims = verified(browser, token)
    assert header["typ"] == "logout+jwt" and header["alg"] == "ES256"
    now = int(clock.now().timestamp())
    assert claims["iss"] == ISSUER
    assert claims["aud"] == partner.client_id
    assert claims["iat"] == now and claims["exp"] == now + int(LOGOUT_TOKEN_LIFETIME.total_seconds())
    assert claims["sub"] == id_token["sub"] and claims["sid"] == id_token["sid"]
    assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert len(claims["jti"]) >= 22
    assert "nonce" not in claims
    (message,) = backchannel_messages(container)
    assert message.status is DeliveryStatus.SENT
    assert message.body_text is not None  # dev mode keeps it for the dev inbox


def test_each_token_has_its_own_jti(
    browser: TestClient, container: Container, laposte: Tenant, receiver: Receiver
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", receiver.url)
    for _ in range(2):
        log_in_at(browser)
        sign_in(browser, partner)
        log_out(browser)
    deliver(container)
    jtis = {verified(browser, token)[1]["jti"] for token in receiver.tokens}
    assert len(receiver.tokens) == 2 and len(jtis) == 2


def test_a_client_that_is_down_receives_it_later(
    browser: TestClient, container: Container, clock: FrozenClock, laposte: Tenant, down: Receiver
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", down.url)
    log_in_at(browser)
    sid = claims_of(browser, sign_in(browser, partner).id_token)["sid"]
    log_out(browser)

    first = deliver(container)
    (message,) = backchannel_messages(container)
    assert (first.claimed, first.retried) == (1, 1)
    assert message.status is DeliveryStatus.PENDING and message.attempts == 1
    assert message.last_error is not None and "unreachable" in message.last_error
    assert deliver(container).claimed == 0  # not before its retry time

    down.start()  # the partner is back
    clock.advance(seconds=60)
    second = deliver(container)

    assert (second.claimed, second.sent) == (1, 1)
    (token,) = down.tokens
    claims = verified(browser, token)[1]
    assert claims["sid"] == sid and claims["exp"] > int(clock.now().timestamp())


def test_an_error_answer_is_retried(
    browser: TestClient, container: Container, clock: FrozenClock, laposte: Tenant, receiver: Receiver
) -> None:
    receiver.status = 500
    partner = with_backchannel(container, laposte, "Ameli", receiver.url)
    log_in_at(browser)
    sign_in(browser, partner)
    log_out(browser)

    assert deliver(container).retried == 1
    receiver.status = 200
    clock.advance(seconds=60)
    assert deliver(container).sent == 1
    assert len(receiver.tokens) == 2  # the same token, posted again


def test_outside_dev_mode_the_token_is_scrubbed_once_delivered(
    browser: TestClient,
    container: Container,
    settings: Settings,
    clock: FrozenClock,
    laposte: Tenant,
    receiver: Receiver,
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", receiver.url)
    log_in_at(browser)
    sign_in(browser, partner)
    log_out(browser)

    production = build_container(settings.model_copy(update={"dev_mode": False}), clock=clock)
    try:
        assert deliver(production).sent == 1
    finally:
        production.close()

    (message,) = backchannel_messages(container)
    assert message.status is DeliveryStatus.SENT and message.body_text is None


def test_the_dev_inbox_shows_them(browser: TestClient, container: Container, laposte: Tenant) -> None:
    partner = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    log_in_at(browser)
    sign_in(browser, partner)
    log_out(browser)
    (message,) = backchannel_messages(container)

    listing = browser.get("/_dev/outbox")
    detail = browser.get(f"/_dev/outbox/{message.id}")
    as_json = browser.get("/_dev/outbox.json")

    assert listing.status_code == 200 and "https://ameli.example/bc" in listing.text
    assert detail.status_code == 200 and "logout_token" in detail.text
    assert any(entry["channel"] == "http" for entry in as_json.json())


# -- grants: the session's die, offline ones live on ---------------------------------------------------


def test_the_session_grants_are_revoked_and_offline_ones_kept(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    online_rp = register(container, laposte, "Online")
    offline_rp = register(container, laposte, "Offline")
    log_in_at(browser)
    online = sign_in(browser, online_rp, scope="openid profile")
    offline = sign_in(browser, offline_rp, scope="openid offline_access")

    log_out(browser)

    assert refresh(browser, online).json()["error"] == "invalid_grant"
    userinfo = browser.get("/laposte/userinfo", headers={"Authorization": f"Bearer {online.access_token}"})
    assert userinfo.status_code == 401
    kept = refresh(browser, offline)
    assert kept.status_code == 200, kept.text


def test_end_everything_revokes_every_grant_and_tells_the_clients(
    browser: TestClient, container: Container, clock: FrozenClock, laposte: Tenant, receiver: Receiver
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", receiver.url)
    log_in_at(browser)
    online = sign_in(browser, partner, scope="openid profile")
    offline = sign_in(browser, partner, scope="openid offline_access")
    session = live_sessions(container, laposte)[0]

    with container.uow() as uow:  # as a password reset does
        ended = end_everything(
            uow, session.account_id, clock.now(), "password_reset", logouts=container.backchannel_logouts
        )
        uow.commit()

    assert (ended.sessions, ended.grants, ended.backchannel_logouts) == (1, 2, 2)
    assert refresh(browser, online).status_code == 400 and refresh(browser, offline).status_code == 400
    deliver(container)
    claims = sorted((verified(browser, token)[1] for token in receiver.tokens), key=lambda c: "sid" in c)
    # The offline grant has no session: its token names the person only (every session of theirs ends).
    assert "sid" not in claims[0] and claims[0]["sub"] == claims[1]["sub"]
    assert claims[1]["sid"] == claims_of(browser, online.id_token)["sid"]


def test_end_everything_without_logouts_still_revokes(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    partner = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    log_in_at(browser)
    offline = sign_in(browser, partner, scope="openid offline_access")
    session = live_sessions(container, laposte)[0]
    with container.uow() as uow:
        ended = end_everything(uow, session.account_id, container.clock.now(), "account_locked")
        uow.commit()
    assert (ended.grants, ended.backchannel_logouts) == (1, 0)
    assert refresh(browser, offline).status_code == 400
    assert backchannel_messages(container) == []


# -- the outbox's HTTP channel ---------------------------------------------------------------------------


def test_an_http_message_goes_to_an_http_url(container: Container, laposte: Tenant) -> None:
    now = container.clock.now()
    with container.uow() as uow:
        for url in ("ftp://rp.example/bc", "rp.example/bc", "https://", "https://rp.example/" + "x" * 500):
            with pytest.raises(InvalidInput, match="URL"):
                queue_http_form(uow, laposte, "backchannel_logout", url, {"logout_token": "t"}, now=now)


@pytest.mark.parametrize("body", ["not json", "[1]", '{"logout_token": 1}'])
def test_an_http_message_body_is_a_json_object_of_strings(container: Container, body: str) -> None:
    message = OutboundMessage(None, Channel.HTTP, "https://rp.example/bc", "backchannel_logout", "", "", body)
    with container.uow() as uow, pytest.raises(InvalidInput, match="form fields"):
        queue(uow, message, container.clock.now())


def test_an_http_message_is_sensitive_by_default(container: Container, laposte: Tenant) -> None:
    now = container.clock.now()
    with container.uow() as uow:
        message_id = queue_http_form(uow, laposte, "backchannel_logout", "https://rp.example/bc", {"a": "b"}, now=now)
        stored = uow.outbox.get(message_id)
    assert stored is not None and stored.sensitive and stored.channel is Channel.HTTP
    assert stored.body_text == '{"a": "b"}'


def test_a_lock_by_support_tells_the_partner_services(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    """The account services pass the back-channel logouts to end_everything (lock, forced change,
    password change and reset, the bank's "secure my access" all go through it)."""
    partner = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    log_in_at(browser)
    sign_in(browser, partner)

    container.accounts.lock(laposte, "marie.dupont@example.fr", "fraud", RequestContext(actor="cli"))

    assert [m.recipient for m in backchannel_messages(container)] == ["https://ameli.example/bc"]


def test_withdrawing_consent_from_the_account_page_tells_that_service_only(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    """Withdrawing a connected service revokes its grants like a logout does, and queues its
    logout token through the outbox in the same transaction; other services stay signed in."""
    withdrawn = with_backchannel(container, laposte, "Ameli", "https://ameli.example/bc")
    kept = with_backchannel(container, laposte, "Impots", "https://impots.example/bc")
    log_in_at(browser)
    id_token = claims_of(browser, sign_in(browser, withdrawn).id_token)
    sign_in(browser, kept)
    account = browser.get("/laposte/account")

    response = browser.post(
        "/laposte/account/services/withdraw",
        data={"csrf_token": csrf_token(account.text), "client_id": withdrawn.client_id},
    )

    assert response.status_code == 303
    (message,) = backchannel_messages(container)
    assert message.recipient == "https://ameli.example/bc" and message.status is DeliveryStatus.PENDING
    header, claims = verified(browser, logout_token_of(message))
    assert header["typ"] == "logout+jwt"
    assert claims["aud"] == withdrawn.client_id and claims["sub"] == id_token["sub"]
    assert claims["sid"] == id_token["sid"] and claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    with container.uow(readonly=True) as uow:
        record = [r for r in uow.audit.chain(laposte.id) if r.event.type == "oidc.consent.withdrawn"][-1]
    assert record.event.details["backchannel_logouts"] == 1 and record.event.details["grants_revoked"] == 1
    assert len(live_sessions(container, laposte)) == 1  # the person stays logged in at Sésame

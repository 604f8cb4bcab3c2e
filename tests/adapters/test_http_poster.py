"""The HTTP form poster (the outbox's HTTP channel) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from sesame.adapters.http_poster import HttpDeliveryError, HttpxPoster


class Partner:
    """A tiny partner service: records each request, answers with ``status`` after ``delay`` seconds."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        self.location: str | None = None
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                partner.requests.append(
                    {
                        "path": self.path,
                        "form": parse_qs(self.rfile.read(length).decode()),
                        "content_type": self.headers.get("Content-Type"),
                    }
                )
                time.sleep(partner.delay)
                self.send_response(partner.status)
                if partner.location:
                    self.send_header("Location", partner.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def partner() -> Iterator[Partner]:
    partner = Partner()
    thread = threading.Thread(target=partner.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield partner
    partner.server.shutdown()
    partner.server.server_close()
    thread.join()


async def test_posts_the_fields_as_a_form(partner: Partner) -> None:
    await HttpxPoster().post_form(f"{partner.url}/backchannel-logout?x=1", {"logout_token": "a.b.c", "é": "ü"})
    (request,) = partner.requests
    assert request["path"] == "/backchannel-logout?x=1"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {"logout_token": ["a.b.c"], "é": ["ü"]}


@pytest.mark.parametrize("status", [200, 204])
async def test_any_2xx_is_a_success(partner: Partner, status: int) -> None:
    partner.status = status
    await HttpxPoster().post_form(partner.url, {"a": "b"})
    assert len(partner.requests) == 1


@pytest.mark.parametrize("status", [400, 500, 503])
async def test_an_error_answer_raises_so_the_worker_retries(partner: Partner, status: int) -> None:
    partner.status = status
    with pytest.raises(HttpDeliveryError, match=f"answered HTTP {status}") as raised:
        await HttpxPoster().post_form(partner.url, {"logout_token": "secret.token.value"})
    assert "secret" not in str(raised.value)


async def test_a_redirect_is_not_followed_and_fails(partner: Partner) -> None:
    partner.status, partner.location = 302, "/elsewhere"
    with pytest.raises(HttpDeliveryError, match="HTTP 302"):
        await HttpxPoster().post_form(partner.url, {"a": "b"})
    assert [r["path"] for r in partner.requests] == ["/"]


async def test_a_partner_that_is_down_raises() -> None:
    with socket.socket() as closed:  # bound, never listening: refused, and no other test can take the port
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/logout?token=hidden"
        with pytest.raises(HttpDeliveryError, match="unreachable") as raised:
            await HttpxPoster().post_form(url, {"a": "b"})
    assert "hidden" not in str(raised.value)
    assert raised.value.__cause__ is None


async def test_a_slow_partner_times_out(partner: Partner) -> None:
    partner.delay = 5.0  # far beyond the timeout: a loaded machine's delays cannot bridge the gap
    started = time.monotonic()
    with pytest.raises(HttpDeliveryError, match="ReadTimeout"):
        await HttpxPoster(timeout=0.2).post_form(partner.url, {"a": "b"})
    assert time.monotonic() - started < 4.0  # the timeout ended the wait, not the partner's answer


async def test_the_default_timeout_is_about_ten_seconds() -> None:
    assert "timeout=10.0" in repr(HttpxPoster())


@pytest.mark.parametrize("url", ["ftp://partner.example/logout", "/relative", "mailto:a@b.example"])
async def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(HttpDeliveryError, match="http"):
        await HttpxPoster().post_form(url, {"a": "b"})

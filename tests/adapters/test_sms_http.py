"""The HTTP SMS sender against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sesame.adapters.sms_http import HttpSmsSender, SmsProviderError
from sesame.domain.messages import SmsMessage


class Provider:
    """A tiny SMS provider: records each request, answers with ``status``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                provider.requests.append(
                    {
                        "path": self.path,
                        "body": json.loads(self.rfile.read(length)),
                        "authorization": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"),
                    }
                )
                self.send_response(provider.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]


@pytest.fixture
def provider() -> Iterator[Provider]:
    provider = Provider()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()
    thread.join()


async def test_posts_json(provider: Provider) -> None:
    await HttpSmsSender(f"http://127.0.0.1:{provider.port}/send").send_sms(SmsMessage("+33612345678", "Code 123456"))
    (request,) = provider.requests
    assert request["path"] == "/send"
    assert request["body"] == {"to": "+33612345678", "text": "Code 123456"}
    assert request["content_type"] == "application/json"
    assert request["authorization"] is None


async def test_credentials_in_the_url_become_basic_auth(provider: Provider) -> None:
    await HttpSmsSender(f"http://acct:k3y@127.0.0.1:{provider.port}/send").send_sms(SmsMessage("+33612345678", "t"))
    assert provider.requests[0]["authorization"] == "Basic YWNjdDprM3k="  # acct:k3y


async def test_non_2xx_raises_so_the_worker_retries(provider: Provider) -> None:
    provider.status = 503
    sender = HttpSmsSender(f"http://acct:k3y@127.0.0.1:{provider.port}/send")
    with pytest.raises(SmsProviderError, match="HTTP 503") as raised:
        await sender.send_sms(SmsMessage("+33612345678", "t"))
    assert "k3y" not in str(raised.value)


async def test_unreachable_provider_raises_without_the_secret() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SmsProviderError, match="unreachable") as raised:
        await HttpSmsSender(f"http://acct:k3y@127.0.0.1:{port}/send", timeout=5).send_sms(SmsMessage("+331", "t"))
    assert "k3y" not in str(raised.value) and raised.value.__cause__ is None


def test_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpSmsSender("ftp://sms.example/send")

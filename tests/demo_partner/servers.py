"""Real servers for the demo partner's tests: Sésame and the partner, each under uvicorn in a thread
on its own free 127.0.0.1 port, and an HTTP client that counts loopback as secure, as browsers do.

Used by tests/demo_partner/ and by the end-to-end browser test.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from sesame.services.demo_partner import ensure_demo_partner
from sesame_demo_partner.app import create_app as create_partner_app
from sesame_demo_partner.config import PartnerSettings
from tests.live_servers import Sesame, bound_socket, serving, url_of
from tests.live_servers import sesame_server as live_sesame

__all__ = [
    "Partner",
    "Sesame",
    "bound_socket",
    "browser_like_client",
    "partner_server",
    "serving",
    "sesame_server",
    "url_of",
]


@contextlib.contextmanager
def sesame_server(var_dir: Path, *, outbox_worker: bool = False) -> Iterator[Sesame]:
    """Sésame as ``make run`` serves it (dev mode, demo tenants and accounts), on a free port."""
    with live_sesame(var_dir, demo_accounts=True, outbox_worker=outbox_worker) as sesame:
        yield sesame


@dataclass(frozen=True)
class Partner:
    url: str
    settings: PartnerSettings
    client_id: str


@contextlib.contextmanager
def partner_server(sesame: Sesame, var_dir: Path) -> Iterator[Partner]:
    """The demo partner on a free port, registered at laposte as ``sesame demo load`` does it."""
    sock = bound_socket()
    url = url_of(sock)
    registered = ensure_demo_partner(
        sesame.container.oidc_clients, sesame.container.tenants, var_dir=var_dir, base_url=sesame.url, partner_url=url
    )
    settings = PartnerSettings(issuer=sesame.issuer, url=url, client_file=registered.client_file)
    with serving(create_partner_app(settings), sock, "demo-partner"):
        yield Partner(url, settings, registered.client_id)


class LoopbackIsSecure(httpx.HTTPTransport):
    """Browsers count http://127.0.0.1 as a secure origin and keep its Secure cookies; Python's
    cookie jar does not. On loopback, the Secure attribute is dropped as the answer arrives."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.host != "127.0.0.1" or "set-cookie" not in response.headers:
            return response
        headers = [
            (name, re.sub(r";\s*Secure(?=;|$)", "", value, flags=re.I) if name.lower() == "set-cookie" else value)
            for name, value in response.headers.multi_items()
        ]
        return httpx.Response(
            response.status_code, headers=headers, stream=response.stream, extensions=response.extensions
        )


def browser_like_client() -> httpx.Client:
    """An HTTP client that keeps cookies like a browser (Secure ones on loopback included) and
    follows no redirect by itself (the tests follow them and look at each step)."""
    return httpx.Client(follow_redirects=False, timeout=15.0, transport=LoopbackIsSecure())

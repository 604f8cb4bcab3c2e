"""Form POSTs to partner services over HTTP (the outbox's HTTP channel: back-channel logout).

One ``application/x-www-form-urlencoded`` POST per message, no redirect followed, about ten
seconds at most; anything but a 2xx answer raises, so the outbox worker retries later.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "Sesame-Outbox/1"


class HttpDeliveryError(RuntimeError):
    """The partner refused or could not be reached (the text names the host, never the fields)."""


class HttpxPoster:
    """The :class:`~sesame.ports.HttpPoster` on ``httpx.AsyncClient``.

    A client per POST: these are rare (one per logout and partner), and a client kept across
    calls would be tied to the event loop of its first use (a CLI pass, a test, the server).
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"HttpxPoster(timeout={self._timeout})"

    async def post_form(self, url: str, fields: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpDeliveryError("the recipient is not an http:// or https:// URL")
        host = parts.hostname
        try:
            # No redirect followed: Back-Channel Logout §2.8 wants the answer of the registered URI.
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(
                    url, data=dict(fields), headers={"user-agent": USER_AGENT, "cache-control": "no-store"}
                )
        except httpx.HTTPError as error:
            # httpx's message may quote the URL (with its query): keep only the kind of failure.
            raise HttpDeliveryError(f"{host} unreachable ({type(error).__name__})") from None
        if not response.is_success:
            raise HttpDeliveryError(f"{host} answered HTTP {response.status_code}")

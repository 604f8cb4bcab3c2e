"""SMS through an HTTP provider: one JSON POST ``{"to": ..., "text": ...}`` per message.

Credentials, when the provider needs them, go in the URL (``https://user:key@sms.example/send``)
and become HTTP Basic auth. Any answer other than 2xx raises, so the outbox worker retries.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from sesame.domain.messages import SmsMessage

DEFAULT_TIMEOUT_SECONDS = 15.0


class SmsProviderError(RuntimeError):
    """The provider refused or failed the message (the text says how, never the URL's secrets)."""


class HttpSmsSender:
    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("SMS URL must be an http:// or https:// URL")
        self._url = url
        self._host = parts.hostname
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"HttpSmsSender({self._host})"

    async def send_sms(self, message: SmsMessage) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json={"to": message.to, "text": message.text})
        except httpx.HTTPError as error:
            # httpx's text can hold the full URL, with its credentials: keep only the kind of failure.
            raise SmsProviderError(f"SMS provider {self._host} unreachable ({type(error).__name__})") from None
        if not response.is_success:
            raise SmsProviderError(f"SMS provider {self._host} answered HTTP {response.status_code}")

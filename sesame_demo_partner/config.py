"""The partner's settings (environment variables) and its registration at Sésame (a JSON file).

``sesame demo load`` registers the client "Démo partenaire" at the laposte tenant and writes
its identifier and secret to ``var/demo-partner.json``; the partner reads that file whenever it
starts a login, so loading the demo again (which may rotate the secret) needs no restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_ISSUER = "http://127.0.0.1:8000/laposte"
DEFAULT_URL = "http://127.0.0.1:8001"
CLIENT_FILE_NAME = "demo-partner.json"


class NotRegistered(Exception):
    """The registration file is missing or unusable: ``sesame demo load`` has not run yet."""


@dataclass(frozen=True, slots=True)
class PartnerSettings:
    #: Sésame's issuer for the tenant the partner works with (``{base_url}/{tenant}``).
    issuer: str = DEFAULT_ISSUER
    #: The partner's own public URL (its redirect URIs are under it); it also listens there.
    url: str = DEFAULT_URL
    client_file: Path = Path("var") / CLIENT_FILE_NAME
    #: Scopes asked at login.
    scope: str = "openid profile email"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PartnerSettings:
        """``SESAME_PARTNER_ISSUER``, ``SESAME_PARTNER_URL``, ``SESAME_PARTNER_CLIENT_FILE`` (default:
        ``demo-partner.json`` in ``SESAME_VAR_DIR``, itself ``var`` by default)."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("SESAME_VAR_DIR") or "var")
        return cls(
            issuer=(env.get("SESAME_PARTNER_ISSUER") or DEFAULT_ISSUER).rstrip("/"),
            url=(env.get("SESAME_PARTNER_URL") or DEFAULT_URL).rstrip("/"),
            client_file=Path(env.get("SESAME_PARTNER_CLIENT_FILE") or var_dir / CLIENT_FILE_NAME),
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.url}/"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.url}/backchannel-logout"

    @property
    def secure_cookies(self) -> bool:
        return self.url.startswith("https://")

    @property
    def bind(self) -> tuple[str, int]:
        """Where to listen: the host and port of :attr:`url`."""
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True, slots=True)
class Registration:
    """The partner's client at Sésame, as ``sesame demo load`` wrote it."""

    client_id: str
    client_secret: str


def load_registration(path: Path) -> Registration:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Registration(client_id=str(document["client_id"]), client_secret=str(document["client_secret"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NotRegistered(f"{path}: {type(error).__name__}") from None

"""The demo partner's registration: the client "Démo partenaire" at laposte, and the file it reads.

``sesame demo load`` calls :func:`ensure_demo_partner`. A client secret is shown only once, at
creation, so the secret lives in ``var/demo-partner.json`` (mode 0600, like ``var/secret_key``)
and nowhere else. When that file still opens the registered client, nothing changes; when it is
missing, unreadable, holds a secret that no longer matches (another database, another server
secret) or the client's URIs are not the partner's, a new client is created, the file rewritten,
and the old demo clients disabled (their grants revoked with them): a rotation, never a reuse
of a secret that nobody knows any more.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesame.domain.tenants import Tenant
from sesame.oidc.discovery import issuer
from sesame.oidc.models import OidcClient
from sesame.services.oidc_clients import OidcClients
from sesame.services.tenants import TenantService

DEMO_PARTNER_NAME = "Démo partenaire"
DEMO_PARTNER_TENANT = "laposte"
#: Where ``python -m sesame_demo_partner`` listens by default (``make run`` starts it there).
DEMO_PARTNER_URL = "http://127.0.0.1:8001"
CLIENT_FILE_NAME = "demo-partner.json"
SCOPES = ("openid", "profile", "email")


@dataclass(frozen=True, slots=True)
class DemoPartner:
    client_id: str
    #: "created" (first time), "kept" (the file still opens it) or "rotated" (a new client and file).
    result: str
    client_file: Path
    url: str


@dataclass(frozen=True, slots=True)
class _Uris:
    redirect: str
    post_logout: str
    backchannel: str

    @classmethod
    def of(cls, partner_url: str) -> _Uris:
        base = partner_url.rstrip("/")
        return cls(f"{base}/callback", f"{base}/", f"{base}/backchannel-logout")

    def registered_for(self, client: OidcClient) -> bool:
        meta = client.metadata
        return (
            meta.redirect_uris == (self.redirect,)
            and meta.post_logout_redirect_uris == (self.post_logout,)
            and meta.backchannel_logout_uri == self.backchannel
        )


def _saved(path: Path) -> tuple[str, str] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return str(document["client_id"]), str(document["client_secret"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write atomically, readable by this user only (it holds the client secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(temporary, path)


def _still_valid(
    clients: OidcClients, demo: list[OidcClient], saved: tuple[str, str] | None, uris: _Uris
) -> OidcClient | None:
    if saved is None:
        return None
    client_id, secret = saved
    for client in demo:
        if client.client_id == client_id and clients.verify_secret(client, secret) and uris.registered_for(client):
            return client
    return None


def ensure_demo_partner(
    clients: OidcClients,
    tenants: TenantService,
    *,
    var_dir: Path,
    base_url: str,
    partner_url: str = DEMO_PARTNER_URL,
) -> DemoPartner:
    """Register the demo partner at laposte if needed, and keep ``var/demo-partner.json`` in step."""
    tenant: Tenant = tenants.get(DEMO_PARTNER_TENANT)
    path = var_dir / CLIENT_FILE_NAME
    uris = _Uris.of(partner_url)
    demo = [c for c in clients.list(tenant) if c.name == DEMO_PARTNER_NAME and c.enabled]
    kept = _still_valid(clients, demo, _saved(path), uris)
    if kept is not None:
        return DemoPartner(kept.client_id, "kept", path, partner_url)
    client, secret = clients.create(
        tenant,
        DEMO_PARTNER_NAME,
        [uris.redirect],
        post_logout_redirect_uris=[uris.post_logout],
        backchannel_logout_uri=uris.backchannel,
        scopes=SCOPES,
        actor="demo",
    )
    assert secret is not None  # a confidential client (client_secret_basic)
    _write(
        path,
        {
            "issuer": issuer(base_url, tenant.slug),
            "client_id": client.client_id,
            "client_secret": secret,
            "redirect_uri": uris.redirect,
            "post_logout_redirect_uri": uris.post_logout,
            "backchannel_logout_uri": uris.backchannel,
        },
    )
    for old in demo:  # their secret is lost: nobody can use them any more
        clients.disable(tenant, old.client_id, actor="demo")
    return DemoPartner(client.client_id, "rotated" if demo else "created", path, partner_url)

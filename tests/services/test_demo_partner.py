"""The demo partner's registration by ``sesame demo load``: created once, kept, rotated when its secret is lost."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.services.demo import load_demo
from sesame.services.demo_partner import DEMO_PARTNER_NAME, DemoPartner, ensure_demo_partner


@pytest.fixture
def laposte(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


def ensure(container: Container, var_dir: Path, partner_url: str = "http://127.0.0.1:8001") -> DemoPartner:
    return ensure_demo_partner(
        container.oidc_clients,
        container.tenants,
        var_dir=var_dir,
        base_url="http://127.0.0.1:8000",
        partner_url=partner_url,
    )


def enabled_demo_clients(container: Container, laposte: Tenant) -> list[str]:
    return [c.client_id for c in container.oidc_clients.list(laposte) if c.name == DEMO_PARTNER_NAME and c.enabled]


def test_first_load_registers_the_client_and_writes_its_secret(
    container: Container, laposte: Tenant, tmp_path: Path
) -> None:
    partner = ensure(container, tmp_path / "var")

    assert partner.result == "created" and partner.client_file == tmp_path / "var" / "demo-partner.json"
    document = json.loads(partner.client_file.read_text())
    assert stat.S_IMODE(partner.client_file.stat().st_mode) == 0o600
    assert document["client_id"] == partner.client_id
    assert document["issuer"] == "http://127.0.0.1:8000/laposte"
    client = container.oidc_clients.show(laposte, partner.client_id)
    assert container.oidc_clients.verify_secret(client, document["client_secret"])
    assert client.metadata.redirect_uris == ("http://127.0.0.1:8001/callback",)
    assert client.metadata.post_logout_redirect_uris == ("http://127.0.0.1:8001/",)
    assert client.metadata.backchannel_logout_uri == "http://127.0.0.1:8001/backchannel-logout"
    assert not client.metadata.skip_consent  # the demo shows the consent page


def test_loading_again_keeps_it(container: Container, laposte: Tenant, tmp_path: Path) -> None:
    first = ensure(container, tmp_path)
    content = first.client_file.read_text()
    again = ensure(container, tmp_path)
    assert (again.result, again.client_id) == ("kept", first.client_id)
    assert first.client_file.read_text() == content
    assert enabled_demo_clients(container, laposte) == [first.client_id]


@pytest.mark.parametrize("damage", ["delete", "wrong secret", "garbage"])
def test_a_lost_secret_means_a_new_client_and_the_old_one_disabled(
    container: Container, laposte: Tenant, tmp_path: Path, damage: str
) -> None:
    first = ensure(container, tmp_path)
    if damage == "delete":
        first.client_file.unlink()
    elif damage == "wrong secret":
        document = json.loads(first.client_file.read_text())
        first.client_file.write_text(json.dumps({**document, "client_secret": "not-the-secret"}))
    else:
        first.client_file.write_text("{")

    rotated = ensure(container, tmp_path)

    assert rotated.result == "rotated" and rotated.client_id != first.client_id
    assert enabled_demo_clients(container, laposte) == [rotated.client_id]
    assert json.loads(rotated.client_file.read_text())["client_id"] == rotated.client_id


def test_another_partner_url_registers_its_uris(container: Container, laposte: Tenant, tmp_path: Path) -> None:
    ensure(container, tmp_path)
    moved = ensure(container, tmp_path, partner_url="http://127.0.0.1:9001")
    assert moved.result == "rotated"
    client = container.oidc_clients.show(laposte, moved.client_id)
    assert client.metadata.redirect_uris == ("http://127.0.0.1:9001/callback",)

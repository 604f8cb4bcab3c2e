"""Client administration (sesame/services/oidc_clients.py): secrets shown once and stored as keyed
hashes, validation errors for people, tenant isolation, disabling, and the per-process cache."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.errors import InvalidInput, NotFound
from sesame.domain.tenants import Tenant
from sesame.oidc.models import ClientAuthMethod, Grant, GrantType
from sesame.services.oidc_clients import CLIENT_SECRET_PURPOSE
from tests.services.accounts_support import audit_events

REDIRECT = "https://rp.example/callback"
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
EC_PUBLIC = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tie-_t7s5mwfyTi2gb1k3Xi7iQrk",
}


@pytest.fixture
def laposte(container: Container) -> Tenant:
    return container.tenants.create("laposte", "La Poste")


@pytest.fixture
def banque(container: Container) -> Tenant:
    return container.tenants.create("banque", "La Banque Postale")


def test_a_confidential_client_gets_a_strong_secret_stored_as_a_keyed_hash(
    container: Container, laposte: Tenant
) -> None:
    client, secret = container.oidc_clients.create(laposte, "Impots.gouv", [REDIRECT])
    assert secret is not None and URL_SAFE.match(secret) and len(secret) >= 43  # 256 bits
    assert URL_SAFE.match(client.client_id) and len(client.client_id) >= 22
    assert client.token_endpoint_auth_method is ClientAuthMethod.CLIENT_SECRET_BASIC
    stored = container.oidc_clients.show(laposte, client.client_id)
    assert stored.secret_hash is not None and secret not in stored.secret_hash
    assert stored.secret_hash == container.keyed.digest(CLIENT_SECRET_PURPOSE, secret)
    assert container.oidc_clients.verify_secret(stored, secret)
    assert not container.oidc_clients.verify_secret(stored, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert not container.oidc_clients.verify_secret(stored, "")


def test_every_client_has_its_own_id_and_secret(container: Container, laposte: Tenant) -> None:
    made = [container.oidc_clients.create(laposte, f"Service {i}", [REDIRECT]) for i in range(5)]
    assert len({c.client_id for c, _ in made}) == 5
    assert len({s for _, s in made}) == 5


def test_public_and_private_key_jwt_clients_have_no_secret(container: Container, laposte: Tenant) -> None:
    spa, spa_secret = container.oidc_clients.create(laposte, "Mobile app", ["http://127.0.0.1:8765/cb"], public=True)
    assert spa_secret is None and spa.secret_hash is None
    assert spa.token_endpoint_auth_method is ClientAuthMethod.NONE
    assert not container.oidc_clients.verify_secret(spa, "anything")
    keyed, keyed_secret = container.oidc_clients.create(laposte, "Ameli", [REDIRECT], jwks={"keys": [EC_PUBLIC]})
    assert keyed_secret is None and keyed.secret_hash is None
    assert keyed.token_endpoint_auth_method is ClientAuthMethod.PRIVATE_KEY_JWT


def test_the_registration_is_stored_as_given(container: Container, laposte: Tenant) -> None:
    client, _ = container.oidc_clients.create(
        laposte,
        "  Formation  ",
        [REDIRECT, "https://rp.example/other"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        post_logout_redirect_uris=["https://rp.example/bye"],
        backchannel_logout_uri="https://rp.example/backchannel",
        scopes=["openid", "email", "offline_access", "email"],
        auth_method="client_secret_post",
        skip_consent=True,
        access_token_lifetime_seconds=300,
    )
    stored = container.oidc_clients.show(laposte, client.client_id)
    assert stored == client
    assert stored.name == "Formation"
    meta = stored.metadata
    assert meta.redirect_uris == (REDIRECT, "https://rp.example/other")
    assert meta.grant_types == (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN, GrantType.CLIENT_CREDENTIALS)
    assert meta.scopes == ("openid", "email", "offline_access")
    assert (meta.skip_consent, meta.access_token_lifetime_seconds) == (True, 300)
    assert meta.backchannel_logout_uri == "https://rp.example/backchannel"
    assert stored.token_endpoint_auth_method is ClientAuthMethod.CLIENT_SECRET_POST


@pytest.mark.parametrize(
    ("args", "options", "field", "message"),
    [
        (["http://rp.example/cb"], {}, "redirect_uris", "must use https"),
        (["https://rp.example/cb#x"], {}, "redirect_uris", "fragment"),
        ([], {}, "redirect_uris", "at least one redirect URI"),
        ([REDIRECT], {"public": True, "auth_method": "client_secret_basic"}, "token_endpoint_auth_method", "public"),
        ([REDIRECT], {"auth_method": "private_key_jwt"}, "jwks", "public keys"),
        ([REDIRECT], {"auth_method": "magic"}, "auth_method", "unknown auth method"),
        ([REDIRECT], {"grant_types": ["implicit"]}, "grant_types.0", "authorization_code"),
        ([REDIRECT], {"scopes": ["openid", "root"]}, "scopes", "unknown scope"),
        ([REDIRECT], {"access_token_lifetime_seconds": 5}, "access_token_lifetime_seconds", "greater than"),
        ([REDIRECT], {"colour": "blue"}, "colour", "Extra inputs"),
    ],
)
def test_invalid_registrations_are_refused_with_a_clear_message(
    container: Container, laposte: Tenant, args: list[str], options: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        container.oidc_clients.create(laposte, "Bad", args, **options)  # type: ignore[arg-type]
    assert refused.value.details["field"] == field
    assert container.oidc_clients.list(laposte) == []


def test_a_client_needs_a_name(container: Container, laposte: Tenant) -> None:
    with pytest.raises(InvalidInput, match="name"):
        container.oidc_clients.create(laposte, "  ", [REDIRECT])


def test_clients_belong_to_their_tenant(container: Container, laposte: Tenant, banque: Tenant) -> None:
    ours, _ = container.oidc_clients.create(laposte, "Impots.gouv", [REDIRECT])
    theirs, _ = container.oidc_clients.create(banque, "Banque en ligne", [REDIRECT])
    assert [c.client_id for c in container.oidc_clients.list(laposte)] == [ours.client_id]
    with pytest.raises(NotFound):
        container.oidc_clients.show(laposte, theirs.client_id)
    with pytest.raises(NotFound):
        container.oidc_clients.disable(laposte, theirs.client_id)
    assert container.oidc_clients.find(laposte.id, ours.client_id) == ours
    assert container.oidc_clients.find(laposte.id, theirs.client_id) is None
    assert container.oidc_clients.find(laposte.id, "nobody") is None


def test_creating_is_audited_without_the_secret(container: Container, laposte: Tenant) -> None:
    client, secret = container.oidc_clients.create(laposte, "Impots.gouv", [REDIRECT], actor="cli")
    (record,) = audit_events(container, laposte, "oidc_client.")
    assert (record.event.type, record.event.actor, record.event.subject) == (
        "oidc_client.created",
        "cli",
        f"client:{client.client_id}",
    )
    assert secret is not None and secret not in repr(record.event.details)
    assert client.secret_hash is not None and client.secret_hash not in repr(record.event.details)


def test_disabling_revokes_the_clients_grants(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    client, _ = container.oidc_clients.create(laposte, "Impots.gouv", [REDIRECT])
    other, _ = container.oidc_clients.create(laposte, "Ameli", [REDIRECT])
    now = clock.now()
    with container.uow() as uow:
        for grant_id, client_id in (("g-ours", client.client_id), ("g-other", other.client_id)):
            uow.oidc.add_grant(
                Grant(grant_id, laposte.id, client_id, "openid", created_at=now, expires_at=now + timedelta(days=1))
            )
        uow.commit()
    assert container.oidc_clients.find(laposte.id, client.client_id).enabled  # type: ignore[union-attr]

    disabled = container.oidc_clients.disable(laposte, client.client_id, actor="cli")
    assert not disabled.enabled and disabled.disabled_at == now
    # This process's cache forgot it at once: the token endpoint sees it disabled.
    assert not container.oidc_clients.find(laposte.id, client.client_id).enabled  # type: ignore[union-attr]
    with container.uow(readonly=True) as uow:
        assert uow.oidc.get_grant("g-ours").revoke_reason == "client_disabled"  # type: ignore[union-attr]
        assert uow.oidc.get_grant("g-other").active  # type: ignore[union-attr]
    assert container.oidc_clients.disable(laposte, client.client_id) == disabled  # twice: nothing more
    assert [r.event.details for r in audit_events(container, laposte, "oidc_client.disabled")] == [
        {"grants_revoked": 1}
    ]


def test_find_reads_through_a_short_lived_cache(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    client, _ = container.oidc_clients.create(laposte, "Impots.gouv", [REDIRECT])
    assert container.oidc_clients.cached(client.client_id) is None  # nothing read yet
    assert container.oidc_clients.find(laposte.id, client.client_id) == client
    assert container.oidc_clients.cached(client.client_id) == client
    # Changed by another process (the CLI): this worker sees it once its cache entry expires.
    with container.uow() as uow:
        client.name = "Renamed"
        uow.oidc.save_client(client)
        uow.commit()
    assert container.oidc_clients.find(laposte.id, client.client_id).name == "Impots.gouv"  # type: ignore[union-attr]
    clock.advance(seconds=31)
    assert container.oidc_clients.find(laposte.id, client.client_id).name == "Renamed"  # type: ignore[union-attr]
    container.oidc_clients.invalidate()
    assert container.oidc_clients.cached(client.client_id) is None


def test_the_container_keeps_one_service_per_process(container: Container) -> None:
    """The caches only help if every request uses the same service object."""
    assert container.oidc_clients is container.oidc_clients
    assert container.signing_keys is container.signing_keys


def test_client_ids_never_start_with_a_dash() -> None:
    from sesame.services.oidc_clients import new_client_id

    assert all(new_client_id()[0].isalnum() for _ in range(2000))

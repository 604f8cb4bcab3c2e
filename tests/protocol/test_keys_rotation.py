"""Signing key rotation: published at once, signing after the activation delay, retired keys published
until every token they signed has expired, private keys encrypted at rest.

Tokens are checked as a client checks them: against the JWKS fetched from the tenant's jwks_uri.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet as JoseKeySet
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning

from sesame.adapters.clock import FrozenClock
from sesame.adapters.sql.models import SigningKeyRow
from sesame.bootstrap import Container
from sesame.domain.errors import InvalidInput
from sesame.domain.tenants import Tenant
from sesame.oidc.keys import ACTIVATION_DELAY, KeyDecryptionError, KeyEncryption
from sesame.oidc.models import KeyStatus
from sesame.services.signing_keys import SigningKeys
from sesame.web.app import create_app
from tests.conftest import TEST_SECRET

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

#: The longest token lifetime of the tenant's clients in these tests (one client says so).
LONGEST = timedelta(hours=1)


@pytest.fixture
def tenant(container: Container) -> Tenant:
    tenant = container.tenants.create("laposte", "La Poste")
    container.oidc_clients.create(
        tenant, "Impots.gouv", ["https://rp.example/cb"], access_token_lifetime_seconds=int(LONGEST.total_seconds())
    )
    return tenant


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="https://testserver") as client:
        yield client


def published_kids(http: TestClient) -> list[str]:
    response = http.get("/laposte/jwks")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


def sign_now(container: Container, tenant: Tenant, **claims: Any) -> str:
    """A token signed the way the provider signs: with the key that signs at this moment."""
    signer = container.signing_keys.signer(tenant)
    header = {"alg": signer.alg, "kid": signer.kid, "typ": "JWT"}
    now = int(container.clock.now().timestamp())
    return jwt.encode(header, {"iss": "https://testserver/laposte", "iat": now, **claims}, signer.key)


def verifies(http: TestClient, token: str) -> bool:
    """What a client does: fetch the JWKS and verify the token with the key its ``kid`` names."""
    keys = JoseKeySet.import_key_set(http.get("/laposte/jwks").json())
    try:
        jwt.decode(token, keys, algorithms=["ES256", "RS256"])
    except JoseError:
        return False
    return True


def kid_of(token: str) -> str:
    return str(jws.extract_compact(token.encode()).protected["kid"])


def past_the_caches(clock: FrozenClock) -> None:
    """Move on past every per-process cache (30 s)."""
    clock.advance(seconds=31)


# -- the first key -----------------------------------------------------------------------------------


def test_a_tenants_first_key_is_made_on_first_use_and_signs_at_once(
    container: Container, tenant: Tenant, http: TestClient
) -> None:
    assert container.signing_keys.list(tenant) == []
    token = sign_now(container, tenant, sub="a")
    (key,) = container.signing_keys.list(tenant)
    assert (key.alg, key.status) == ("ES256", KeyStatus.ACTIVE)
    assert kid_of(token) == key.kid
    assert verifies(http, token)


def test_parallel_first_uses_make_one_key(container: Container, tenant: Tenant) -> None:
    """Workers asking at the same moment must not each make a "first" key that signs at once."""
    start = threading.Barrier(20)

    def first_use() -> str:
        start.wait()
        # A service of its own per thread, as each worker process has, so no cache is shared.
        service = SigningKeys(container.uow, container.clock, container.secret_key)
        return service.signer(tenant).kid

    with ThreadPoolExecutor(max_workers=20) as pool:
        kids = set(pool.map(lambda _: first_use(), range(20)))
    assert len(container.signing_keys.list(tenant)) == 1
    assert len(kids) == 1


# -- rotation ----------------------------------------------------------------------------------------


def test_a_new_key_is_published_at_once_and_signs_after_the_activation_delay(
    container: Container, clock: FrozenClock, tenant: Tenant, http: TestClient
) -> None:
    old_token = sign_now(container, tenant, sub="before")
    old_kid = kid_of(old_token)
    clock.advance(days=30)
    new = container.signing_keys.rotate(tenant)

    # Published at once (this process invalidated its cache)...
    assert published_kids(http) == [new.kid, old_kid]
    # ...but the old key goes on signing until every worker's JWKS has had time to list the new one.
    clock.advance(seconds=ACTIVATION_DELAY.total_seconds() - 1)
    during = sign_now(container, tenant, sub="during")
    assert kid_of(during) == old_kid
    clock.advance(seconds=1)
    after = sign_now(container, tenant, sub="after")
    assert kid_of(after) == new.kid
    assert all(verifies(http, t) for t in (old_token, during, after))


def test_a_retired_key_stays_published_until_its_tokens_expired_then_disappears(
    container: Container, clock: FrozenClock, tenant: Tenant, http: TestClient
) -> None:
    old_kid = kid_of(sign_now(container, tenant))
    clock.advance(days=30)
    rotated_at = clock.now()
    new = container.signing_keys.rotate(tenant)
    retired = next(k for k in container.signing_keys.list(tenant) if k.kid == old_kid)
    assert retired.status is KeyStatus.RETIRED
    assert retired.retired_at == rotated_at
    # It may sign until its successor is ready; its last token lives the longest client lifetime.
    assert retired.publish_until == rotated_at + ACTIVATION_DELAY + LONGEST

    # The last token the old key signed, just before the new key took over:
    clock.advance(seconds=ACTIVATION_DELAY.total_seconds() - 1)
    last_old = sign_now(container, tenant, exp=int((clock.now() + LONGEST).timestamp()))
    assert kid_of(last_old) == old_kid

    clock.set(rotated_at + ACTIVATION_DELAY + LONGEST - timedelta(seconds=1))
    container.signing_keys.invalidate()
    assert published_kids(http) == [new.kid, old_kid]
    assert verifies(http, last_old)

    clock.set(rotated_at + ACTIVATION_DELAY + LONGEST)
    container.signing_keys.invalidate()
    assert published_kids(http) == [new.kid]
    assert not verifies(http, last_old)


def test_a_cached_keyset_follows_the_clock(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    """A worker's cached KeySet answers by the time of the question: a key activates and a
    retired one leaves the JWKS on time, whenever the cache was filled."""
    old = container.signing_keys.ensure_key(tenant)
    clock.advance(days=30)
    new = container.signing_keys.rotate(tenant)
    keys = container.signing_keys.keyset(tenant)
    now = clock.now()
    end = now + ACTIVATION_DELAY + LONGEST

    def published(at: datetime) -> list[str]:
        return [k["kid"] for k in orjson.loads(keys.jwks_bytes(at))["keys"]]

    assert published(now) == [new.kid, old.kid]
    assert published(end - timedelta(seconds=1)) == [new.kid, old.kid]
    assert published(end) == [new.kid]
    assert published(now) == [new.kid, old.kid]  # the serialised document follows the time asked
    assert keys.signing_key(now + ACTIVATION_DELAY - timedelta(seconds=1)).kid == old.kid  # type: ignore[union-attr]
    assert keys.signing_key(now + ACTIVATION_DELAY).kid == new.kid  # type: ignore[union-attr]
    assert keys.public_key(old.kid, end - timedelta(seconds=1)) is not None
    assert keys.public_key(old.kid, end) is None


def test_the_jwks_is_cached_per_worker_for_a_short_while(
    container: Container, clock: FrozenClock, tenant: Tenant, http: TestClient
) -> None:
    """A rotation made by another process reaches this worker's JWKS within the cache lifetime,
    well within the activation delay: before the new key signs anything."""
    (first,) = published_kids(http)
    elsewhere = SigningKeys(container.uow, container.clock, container.secret_key)  # another worker
    new = elsewhere.rotate(tenant)
    assert published_kids(http) == [first]  # this worker's cache
    past_the_caches(clock)
    assert published_kids(http) == [new.kid, first]
    assert clock.now() < new.created_at + ACTIVATION_DELAY


def test_rotating_twice_in_a_row_never_signs_with_a_key_not_yet_ready(
    container: Container, clock: FrozenClock, tenant: Tenant
) -> None:
    first = kid_of(sign_now(container, tenant))
    clock.advance(days=30)
    second = container.signing_keys.rotate(tenant)
    clock.advance(seconds=10)
    third = container.signing_keys.rotate(tenant)
    clock.advance(seconds=10)
    assert kid_of(sign_now(container, tenant)) == first  # neither successor is ready yet
    clock.advance(seconds=40)  # the second is ready (60 s), still within its own hand-over
    assert kid_of(sign_now(container, tenant)) == second.kid
    clock.advance(seconds=10)  # the third is ready
    assert kid_of(sign_now(container, tenant)) == third.kid


def test_a_rotation_in_the_same_instant_as_the_first_key_still_waits(
    container: Container, clock: FrozenClock, tenant: Tenant
) -> None:
    """Keys are strictly ordered by creation: the successor is never taken for a first key."""
    first = container.signing_keys.ensure_key(tenant)
    second = container.signing_keys.rotate(tenant)
    third = container.signing_keys.rotate(tenant)
    assert first.created_at < second.created_at < third.created_at
    assert kid_of(sign_now(container, tenant)) == first.kid
    clock.set(third.created_at + ACTIVATION_DELAY)
    assert kid_of(sign_now(container, tenant)) == third.kid


def test_rs256_keys_live_beside_es256_ones(container: Container, tenant: Tenant, http: TestClient) -> None:
    es256 = container.signing_keys.signer(tenant)
    rs256 = container.signing_keys.rotate(tenant, "RS256", actor="cli")
    keys = {k.kid: k for k in container.signing_keys.list(tenant)}
    assert keys[es256.kid].status is KeyStatus.ACTIVE  # another algorithm's rotation leaves it alone
    # The tenant's first RS256 key, having no predecessor, signs at once.
    assert container.signing_keys.signer(tenant, "RS256").kid == rs256.kid
    jwks = http.get("/laposte/jwks").json()["keys"]
    assert {(k["kid"], k["alg"], k["kty"]) for k in jwks} == {(es256.kid, "ES256", "EC"), (rs256.kid, "RS256", "RSA")}


def test_rotation_is_audited_and_only_known_algorithms_are_made(container: Container, tenant: Tenant) -> None:
    old = container.signing_keys.ensure_key(tenant)
    new = container.signing_keys.rotate(tenant, actor="cli")
    with container.uow(readonly=True) as uow:
        events = [r for r in uow.audit.chain(tenant.id) if r.event.type.startswith("signing_key.")]
    assert [(e.event.type, e.event.actor) for e in events] == [
        ("signing_key.created", "system"),
        ("signing_key.rotated", "cli"),
    ]
    assert events[1].event.details == {"kid": new.kid, "alg": "ES256", "retired": [old.kid]}
    for alg in ("HS256", "none", "ES512"):
        with pytest.raises(InvalidInput):
            container.signing_keys.rotate(tenant, alg)


# -- private keys at rest ----------------------------------------------------------------------------


def test_private_keys_are_stored_encrypted(container: Container, tenant: Tenant) -> None:
    container.signing_keys.rotate(tenant, "ES256")
    container.signing_keys.rotate(tenant, "RS256")
    with container.uow(readonly=True) as uow:
        assert uow.session is not None
        rows = uow.session.execute(
            select(SigningKeyRow.private_jwk_encrypted, SigningKeyRow.public_jwk).where(
                SigningKeyRow.tenant_id == tenant.id
            )
        ).all()
    assert len(rows) == 2
    for stored, public in rows:
        assert '"d"' not in stored and "'d'" not in stored
        assert stored.startswith("gAAAAA")  # a Fernet token
        assert "d" not in public and "p" not in public
        private = KeyEncryption(TEST_SECRET).decrypt(stored)
        assert private["d"] and private["d"] not in stored
        with pytest.raises(KeyDecryptionError):
            KeyEncryption("another-server-secret-0123456789abcdef").decrypt(stored)


def test_another_server_secret_cannot_sign(container: Container, tenant: Tenant) -> None:
    container.signing_keys.ensure_key(tenant)
    stranger = SigningKeys(container.uow, container.clock, "another-server-secret-0123456789abcdef")
    with pytest.raises(KeyDecryptionError):
        stranger.signer(tenant)

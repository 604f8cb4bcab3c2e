"""The SQL OpenID Connect repository on the run's database (SQLite, or PostgreSQL with SESAME_TEST_DB).

The races (a code presented 100 times at once, a refresh token rotated 100 times at once) run in
threads with a unit of work each, as parallel requests do: exactly one wins on either database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import AuthorizationCodeRow, OidcClientRow
from sesame.adapters.sql.protocol import SqlProtocolReads
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.domain.tenants import TenantPolicy
from sesame.oidc.models import (
    AccessTokenState,
    AuthorizationCode,
    ClientAuthMethod,
    ClientMetadata,
    Consent,
    Grant,
    GrantType,
    KeyStatus,
    OidcClient,
    RefreshToken,
    SigningKey,
)

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
PARALLEL = 100
T = TypeVar("T")


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


@pytest.fixture
def tenant_id(uow: SqlUnitOfWorkFactory) -> int:
    with uow() as tx:
        tenant = tx.tenants.add("one", "One", TenantPolicy(), NOW)
        tx.commit()
    return tenant.id


def new_account(uow: SqlUnitOfWorkFactory, tenant_id: int, email: str) -> int:
    with uow() as tx:
        account = tx.accounts.add(
            Account(
                id=0,
                tenant_id=tenant_id,
                email=email,
                email_verified_at=NOW,
                given_name="Camille",
                family_name="Martin",
                status=AccountStatus.ACTIVE,
                locale="fr",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        tx.commit()
    return account.id


@pytest.fixture
def account_id(uow: SqlUnitOfWorkFactory, tenant_id: int) -> int:
    return new_account(uow, tenant_id, "camille@example.fr")


def client(tenant_id: int, client_id: str = "client-a", **fields: object) -> OidcClient:
    values: dict[str, object] = {
        "client_id": client_id,
        "tenant_id": tenant_id,
        "name": "Impôts",
        "public": False,
        "token_endpoint_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC,
        "metadata": ClientMetadata(redirect_uris=("https://rp.example/cb",), scopes=("openid", "email")),
        "created_at": NOW,
        "updated_at": NOW,
        "secret_hash": "h" * 64,
    }
    return OidcClient(**{**values, **fields})  # type: ignore[arg-type]


@pytest.fixture
def client_id(uow: SqlUnitOfWorkFactory, tenant_id: int) -> str:
    with uow() as tx:
        tx.oidc.add_client(client(tenant_id))
        tx.oidc.add_client(client(tenant_id, "client-b"))
        tx.commit()
    return "client-a"


def grant(tenant_id: int, grant_id: str, client_id: str = "client-a", **fields: object) -> Grant:
    values: dict[str, object] = {
        "id": grant_id,
        "tenant_id": tenant_id,
        "client_id": client_id,
        "scope": "openid email",
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=30),
    }
    return Grant(**{**values, **fields})  # type: ignore[arg-type]


def add_grants(uow: SqlUnitOfWorkFactory, *grants: Grant) -> None:
    with uow() as tx:
        for g in grants:
            tx.oidc.add_grant(g)
        tx.commit()


def race(count: int, attempt: Callable[[], T]) -> list[T]:
    """Run ``attempt`` in ``count`` threads released at the same instant."""
    start = threading.Barrier(count)

    def one() -> T:
        start.wait()
        return attempt()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: one(), range(count)))


# -- clients -----------------------------------------------------------------------------------------


def test_clients_round_trip_with_their_metadata(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    with uow(readonly=True) as tx:
        stored = tx.oidc.get_client(client_id)
        assert stored == client(tenant_id)
        assert stored is not None and stored.metadata.grant_types == (
            GrantType.AUTHORIZATION_CODE,
            GrantType.REFRESH_TOKEN,
        )
        assert [c.client_id for c in tx.oidc.clients(tenant_id)] == ["client-a", "client-b"]
        assert tx.oidc.clients(tenant_id + 1) == []
        assert tx.oidc.get_client("nobody") is None


def test_a_client_id_is_unique(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    with uow() as tx:
        with pytest.raises(AlreadyExists):
            tx.oidc.add_client(client(tenant_id, client_id))
        tx.oidc.add_client(client(tenant_id, "client-c"))  # the transaction goes on
        tx.commit()
    with uow(readonly=True) as tx:
        assert len(tx.oidc.clients(tenant_id)) == 3


def test_save_client_changes_what_may_change(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    later = NOW + timedelta(hours=1)
    changed = client(
        tenant_id,
        name="Impôts (nouveau)",
        metadata=ClientMetadata(redirect_uris=("https://rp.example/new",), skip_consent=True),
        updated_at=later,
        disabled_at=later,
    )
    with uow() as tx:
        tx.oidc.save_client(changed)
        with pytest.raises(NotFound):
            tx.oidc.save_client(client(tenant_id, "nobody"))
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.oidc.get_client(client_id)
    assert stored == changed
    assert stored is not None and not stored.enabled


# -- signing keys ------------------------------------------------------------------------------------


def signing_key(tenant_id: int, kid: str, created_at: datetime, status: KeyStatus = KeyStatus.ACTIVE) -> SigningKey:
    return SigningKey(
        kid=kid,
        tenant_id=tenant_id,
        alg="ES256",
        private_jwk_encrypted="gAAAA-encrypted",
        public_jwk={"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": kid},
        status=status,
        created_at=created_at,
    )


def test_keys_come_newest_first_and_keep_their_lifecycle(uow: SqlUnitOfWorkFactory, tenant_id: int) -> None:
    old = signing_key(tenant_id, "old", NOW)
    new = signing_key(tenant_id, "new", NOW + timedelta(days=1))
    with uow() as tx:
        tx.oidc.add_key(old)
        tx.oidc.add_key(new)
        with pytest.raises(AlreadyExists):
            tx.oidc.add_key(signing_key(tenant_id, "old", NOW))
        old.status = KeyStatus.RETIRED
        old.retired_at = NOW + timedelta(days=1)
        old.publish_until = NOW + timedelta(days=1, minutes=10)
        tx.oidc.save_key(old)
        with pytest.raises(NotFound):
            tx.oidc.save_key(signing_key(tenant_id, "nobody", NOW))
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.keys(tenant_id) == [new, old]
        assert tx.oidc.keys(tenant_id + 1) == []


def test_at_the_same_instant_the_active_key_comes_first(uow: SqlUnitOfWorkFactory, tenant_id: int) -> None:
    with uow() as tx:
        tx.oidc.add_key(signing_key(tenant_id, "a-retired", NOW, KeyStatus.RETIRED))
        tx.oidc.add_key(signing_key(tenant_id, "b-active", NOW))
        tx.commit()
    with uow(readonly=True) as tx:
        assert [k.kid for k in tx.oidc.keys(tenant_id)] == ["b-active", "a-retired"]


# -- grants ------------------------------------------------------------------------------------------


def test_grants_round_trip(uow: SqlUnitOfWorkFactory, tenant_id: int, account_id: int, client_id: str) -> None:
    full = grant(
        tenant_id,
        "g1",
        account_id=account_id,
        session_id="s" * 64,
        claims={"userinfo": {"email": {"essential": True}}},
        acr="eidas1",
        amr=["pwd"],
        auth_time=NOW,
        nonce="n-0S6_WzA2Mj",
    )
    add_grants(uow, full, grant(tenant_id, "g2"))
    with uow(readonly=True) as tx:
        assert tx.oidc.get_grant("g1") == full
        stored = tx.oidc.get_grant("g2")
        assert stored is not None and stored.account_id is None and stored.active
        assert tx.oidc.get_grant("nobody") is None


def test_revoke_grant_only_once(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        assert tx.oidc.revoke_grant("g1", NOW, "replayed_code")
        assert not tx.oidc.revoke_grant("g1", NOW + timedelta(seconds=1), "again")
        assert not tx.oidc.revoke_grant("nobody", NOW, "x")
        tx.commit()
    with uow(readonly=True) as tx:
        stored = tx.oidc.get_grant("g1")
    assert stored is not None and not stored.active
    assert (stored.revoked_at, stored.revoke_reason) == (NOW, "replayed_code")


def test_revoke_grants_by_every_given_filter(
    uow: SqlUnitOfWorkFactory, tenant_id: int, account_id: int, client_id: str
) -> None:
    other = new_account(uow, tenant_id, "dominique@example.fr")
    add_grants(
        uow,
        grant(tenant_id, "a-s1", account_id=account_id, session_id="s1"),
        grant(tenant_id, "a-s1-b", "client-b", account_id=account_id, session_id="s1"),
        grant(tenant_id, "a-s2", account_id=account_id, session_id="s2"),
        grant(tenant_id, "a-offline", account_id=account_id),
        grant(tenant_id, "other", account_id=other, session_id="s3"),
        grant(tenant_id, "machine"),
    )
    with uow() as tx:
        revoked = tx.oidc.revoke_grants(NOW, "logout", session_id="s1")
        assert [g.id for g in revoked] == ["a-s1", "a-s1-b"]
        assert all(g.revoked_at == NOW and g.revoke_reason == "logout" for g in revoked)
        assert tx.oidc.revoke_grants(NOW, "logout", session_id="s1") == []  # nothing twice
        assert [
            g.id for g in tx.oidc.revoke_grants(NOW, "withdrawn", account_id=account_id, client_id="client-b")
        ] == []
        assert [g.id for g in tx.oidc.revoke_grants(NOW, "password_reset", account_id=account_id)] == [
            "a-offline",
            "a-s2",
        ]
        with pytest.raises(ValueError):
            tx.oidc.revoke_grants(NOW, "everything")
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.get_grant("other").active  # type: ignore[union-attr]
        assert tx.oidc.get_grant("machine").active  # type: ignore[union-attr]
        assert tx.oidc.get_grant("a-s2").revoke_reason == "password_reset"  # type: ignore[union-attr]


def test_a_long_revoke_reason_is_cut_to_the_column(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        assert tx.oidc.revoke_grant("g1", NOW, "r" * 100)
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.get_grant("g1").revoke_reason == "r" * 40  # type: ignore[union-attr]


# -- authorization codes -----------------------------------------------------------------------------


def code(code_hash: str = "c" * 64, grant_id: str = "g1") -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=code_hash,
        grant_id=grant_id,
        client_id="client-a",
        redirect_uri="https://rp.example/cb",
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=60),
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
    )


def test_a_code_is_used_once_then_comes_back_used(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_code(code())
        tx.commit()
    with uow() as tx:
        first = tx.oidc.use_code("c" * 64, NOW + timedelta(seconds=5))
        tx.commit()
    assert first == code()  # as it was: unused, so this call won it
    with uow() as tx:
        again = tx.oidc.use_code("c" * 64, NOW + timedelta(seconds=9))
        assert tx.oidc.use_code("u" * 64, NOW) is None
        tx.commit()
    assert again is not None and again.used_at == NOW + timedelta(seconds=5)


def test_a_use_rolled_back_leaves_the_code_unused(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_code(code())
        tx.commit()
    with uow() as tx:
        assert tx.oidc.use_code("c" * 64, NOW).used_at is None  # type: ignore[union-attr]
        # left without commit: the token request failed later on
    with uow() as tx:
        assert tx.oidc.use_code("c" * 64, NOW).used_at is None  # type: ignore[union-attr]
        tx.commit()


def test_a_hundred_parallel_uses_of_a_code_have_one_winner(
    uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str
) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_code(code())
        tx.commit()

    def attempt() -> bool:
        with uow() as tx:
            used = tx.oidc.use_code("c" * 64, NOW)
            tx.commit()
        assert used is not None
        return used.used_at is None

    outcomes = race(PARALLEL, attempt)
    assert outcomes.count(True) == 1
    assert outcomes.count(False) == PARALLEL - 1


def test_get_code_reads_without_using(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_code(code())
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.get_code("c" * 64) == code() and tx.oidc.get_code("u" * 64) is None
    with uow() as tx:
        assert tx.oidc.use_code("c" * 64, NOW) == code()  # still unused: this one wins
        assert tx.oidc.get_code("c" * 64).used_at == NOW  # type: ignore[union-attr]  # seen in the same transaction


# -- refresh tokens ----------------------------------------------------------------------------------


def refresh_token(token_hash: str = "r" * 64) -> RefreshToken:
    return RefreshToken(
        token_hash=token_hash,
        grant_id="g1",
        client_id="client-a",
        created_at=NOW,
        expires_at=NOW + timedelta(days=30),
    )


def test_a_refresh_token_rotates_once(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_refresh_token(refresh_token())
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.get_refresh_token("r" * 64) == refresh_token()
        assert tx.oidc.get_refresh_token("x" * 64) is None
    with uow() as tx:
        assert tx.oidc.rotate_refresh_token("r" * 64, NOW + timedelta(hours=1)) == refresh_token()
        tx.commit()
    with uow() as tx:
        reused = tx.oidc.rotate_refresh_token("r" * 64, NOW + timedelta(hours=2))
        assert tx.oidc.rotate_refresh_token("x" * 64, NOW) is None
        tx.commit()
    assert reused is not None and reused.rotated_at == NOW + timedelta(hours=1)
    with uow(readonly=True) as tx:
        assert tx.oidc.get_refresh_token("r" * 64).rotated_at == NOW + timedelta(hours=1)  # type: ignore[union-attr]


def test_a_hundred_parallel_rotations_have_one_winner(
    uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str
) -> None:
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_refresh_token(refresh_token())
        tx.commit()

    def attempt() -> bool:
        with uow() as tx:
            rotated = tx.oidc.rotate_refresh_token("r" * 64, NOW)
            tx.commit()
        assert rotated is not None
        return rotated.rotated_at is None

    outcomes = race(PARALLEL, attempt)
    assert outcomes.count(True) == 1
    assert outcomes.count(False) == PARALLEL - 1


# -- revoked access tokens ---------------------------------------------------------------------------


def test_revoked_access_tokens_are_remembered(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as tx:
        assert not tx.oidc.access_token_revoked("jti-1")
        tx.oidc.revoke_access_token("jti-1", "client-a", NOW + timedelta(minutes=10))
        tx.oidc.revoke_access_token("jti-1", "client-a", NOW + timedelta(minutes=10))  # twice is fine
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.access_token_revoked("jti-1")
        assert not tx.oidc.access_token_revoked("jti-2")


def test_access_token_states_in_one_read(uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str) -> None:
    reads = SqlProtocolReads(uow.database.read_engine)
    add_grants(uow, grant(tenant_id, "g1", amr=["pwd"], claims={"userinfo": {"email": None}}, auth_time=NOW))
    with uow() as tx:
        tx.oidc.revoke_access_token("jti-revoked", "client-a", NOW + timedelta(minutes=10))
        tx.oidc.save_client(client(tenant_id, "client-b", disabled_at=NOW))
        tx.commit()
    person = reads.access_token("jti-1", "g1", "client-a")
    with uow(readonly=True) as tx:
        assert person.grant == tx.oidc.get_grant("g1") and person.revoked is False  # the same values as the ORM's
    assert (
        person.grant is not None
        and person.grant.auth_time == NOW
        and person.grant.claims["userinfo"] == {"email": None}
    )
    assert reads.access_token("jti-revoked", "g1", "client-a").revoked is True
    assert reads.access_token("jti-1", "nothing", "client-a") == AccessTokenState(revoked=False)
    machine = reads.access_token("jti-1", None, "client-a")
    assert (machine.grant, machine.client_tenant_id, machine.client_enabled) == (None, tenant_id, True)
    assert reads.access_token("jti-revoked", None, "client-a").revoked is True
    assert reads.access_token("jti-1", None, "client-b").client_enabled is False  # disabled
    assert reads.access_token("jti-1", None, "nobody").client_tenant_id is None
    assert reads.non_blocking is (uow.database.dialect == "sqlite")


def test_access_token_states_see_what_was_committed_since(
    uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str
) -> None:
    reads = SqlProtocolReads(uow.database.read_engine)
    add_grants(uow, grant(tenant_id, "g1"))
    assert reads.access_token("jti-1", "g1", "client-a").grant.revoked_at is None  # type: ignore[union-attr]
    with uow() as tx:
        tx.oidc.revoke_grant("g1", NOW, "logout")
        tx.oidc.revoke_access_token("jti-1", "client-a", NOW + timedelta(minutes=10))
        tx.commit()
    after = reads.access_token("jti-1", "g1", "client-a")
    assert after.revoked is True and after.grant is not None and after.grant.revoked_at == NOW


def test_the_other_hot_reads_give_what_the_repositories_give(
    uow: SqlUnitOfWorkFactory, tenant_id: int, account_id: int, client_id: str
) -> None:
    reads = SqlProtocolReads(uow.database.read_engine)
    add_grants(uow, grant(tenant_id, "g1", account_id=account_id, acr="eidas1", amr=["pwd"], auth_time=NOW))
    with uow() as tx:
        tx.oidc.add_refresh_token(refresh_token())
        tx.commit()
    with uow(readonly=True) as tx:
        assert reads.refresh_token("r" * 64) == tx.oidc.get_refresh_token("r" * 64) == refresh_token()
        assert reads.grant("g1") == tx.oidc.get_grant("g1")
        assert reads.account(account_id) == tx.accounts.get(account_id)
    assert reads.refresh_token("x" * 64) is None and reads.grant("nothing") is None and reads.account(999_999) is None


def test_parallel_revocations_of_one_access_token_all_succeed(uow: SqlUnitOfWorkFactory) -> None:
    def attempt() -> None:
        with uow() as tx:
            tx.oidc.revoke_access_token("jti-1", "client-a", NOW + timedelta(minutes=10))
            tx.commit()

    race(20, attempt)
    with uow(readonly=True) as tx:
        assert tx.oidc.access_token_revoked("jti-1")


# -- consents ----------------------------------------------------------------------------------------


def consent(tenant_id: int, account_id: int, client_id: str, scopes: list[str], at: datetime) -> Consent:
    return Consent(
        tenant_id=tenant_id,
        account_id=account_id,
        client_id=client_id,
        scopes=scopes,
        granted_at=at,
        updated_at=at,
    )


def test_consents_are_saved_replaced_listed_and_withdrawn(
    uow: SqlUnitOfWorkFactory, tenant_id: int, account_id: int, client_id: str
) -> None:
    later = NOW + timedelta(days=2)
    with uow() as tx:
        assert tx.oidc.get_consent(account_id, "client-a") is None
        tx.oidc.save_consent(consent(tenant_id, account_id, "client-a", ["openid", "email"], NOW))
        tx.oidc.save_consent(consent(tenant_id, account_id, "client-b", ["openid"], NOW + timedelta(days=1)))
        # Asking for more replaces the scopes; the first grant date stays.
        tx.oidc.save_consent(consent(tenant_id, account_id, "client-a", ["profile", "openid", "email"], later))
        tx.commit()
    with uow() as tx:
        stored = tx.oidc.get_consent(account_id, "client-a")
        assert stored == Consent(tenant_id, account_id, "client-a", ["email", "openid", "profile"], NOW, later)
        assert [c.client_id for c in tx.oidc.consents_of(account_id)] == ["client-a", "client-b"]
        assert tx.oidc.delete_consent(account_id, "client-a")
        assert not tx.oidc.delete_consent(account_id, "client-a")
        tx.commit()
    with uow(readonly=True) as tx:
        assert [c.client_id for c in tx.oidc.consents_of(account_id)] == ["client-b"]
        assert tx.oidc.get_consent(account_id, "client-a") is None


def test_grants_codes_and_tokens_go_with_their_client(
    uow: SqlUnitOfWorkFactory, tenant_id: int, client_id: str
) -> None:
    """Deleting a client (tenant removal) takes its grants and their codes and tokens along."""
    add_grants(uow, grant(tenant_id, "g1"))
    with uow() as tx:
        tx.oidc.add_code(code())
        tx.oidc.add_refresh_token(refresh_token())
        tx.commit()
    with uow() as tx:
        assert tx.session is not None
        tx.session.delete(tx.session.get(OidcClientRow, client_id))
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.oidc.get_grant("g1") is None
        assert tx.session is not None and tx.session.get(AuthorizationCodeRow, "c" * 64) is None
        assert tx.oidc.get_refresh_token("r" * 64) is None

"""The SQL account repository on the run's database (SQLite, or PostgreSQL with SESAME_TEST_DB)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import CredentialRow
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.domain.accounts import Account, AccountStatus, AccountToken, BrowserSession, TokenPurpose
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.domain.tenants import TenantPolicy

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database)
    database.dispose()


@pytest.fixture
def tenants(uow: SqlUnitOfWorkFactory) -> tuple[int, int]:
    with uow() as tx:
        ids = (
            tx.tenants.add("one", "One", TenantPolicy(), NOW).id,
            tx.tenants.add("two", "Two", TenantPolicy(), NOW).id,
        )
        tx.commit()
    return ids


def account(tenant_id: int, email: str | None = "Camille.Martin@example.fr", **fields: object) -> Account:
    values: dict[str, object] = {
        "id": 0,
        "tenant_id": tenant_id,
        "email": email,
        "email_verified_at": None,
        "given_name": "Camille",
        "family_name": "Martin",
        "status": AccountStatus.ACTIVE,
        "locale": "fr",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Account(**{**values, **fields})  # type: ignore[arg-type]


def add(uow: SqlUnitOfWorkFactory, *accounts: Account) -> list[Account]:
    with uow() as tx:
        added = [tx.accounts.add(a) for a in accounts]
        tx.commit()
    return added


def token(
    account_id: int, link_hash: str = "l" * 64, purpose: TokenPurpose = TokenPurpose.CONFIRM_EMAIL
) -> AccountToken:
    return AccountToken(
        id=0,
        account_id=account_id,
        purpose=purpose,
        link_hash=link_hash,
        code_hash="c" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
    )


def session(account_id: int, tenant_id: int, session_id: str) -> BrowserSession:
    return BrowserSession(
        id=session_id,
        account_id=account_id,
        tenant_id=tenant_id,
        created_at=NOW,
        last_seen_at=NOW,
        idle_expires_at=NOW + timedelta(minutes=30),
        expires_at=NOW + timedelta(hours=12),
        auth_time=NOW,
        acr="eidas1",
        amr=["pwd"],
        ip="198.51.100.7",
        user_agent="pytest",
    )


# -- accounts ----------------------------------------------------------------------------------------


def test_add_get_and_find_by_email(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    (added,) = add(uow, account(tenants[0], marketing_email=True, terms_version="2", terms_accepted_at=NOW))
    assert added.id > 0
    with uow(readonly=True) as tx:
        assert tx.accounts.get(added.id) == added
        assert tx.accounts.by_email(tenants[0], "  CAMILLE.martin@EXAMPLE.fr ") == added
        assert tx.accounts.by_email(tenants[1], "camille.martin@example.fr") is None
        assert tx.accounts.get(added.id + 1000) is None


def test_an_email_is_unique_per_tenant_whatever_its_case(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    add(uow, account(tenants[0]))
    with uow() as tx:
        with pytest.raises(AlreadyExists):
            tx.accounts.add(account(tenants[0], "camille.MARTIN@example.fr"))
        # The failed insert was rolled back to a savepoint: the transaction goes on.
        tx.accounts.add(account(tenants[0], "someone.else@example.fr"))
        tx.commit()
    with uow(readonly=True) as tx:
        assert [a.email for a in tx.accounts.list(tenants[0])] == [
            "Camille.Martin@example.fr",
            "someone.else@example.fr",
        ]


def test_the_same_email_in_two_tenants(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    first, second = add(uow, account(tenants[0]), account(tenants[1]))
    assert first.id != second.id
    with uow(readonly=True) as tx:
        assert tx.accounts.by_email(tenants[1], "camille.martin@example.fr") == second


def test_accounts_without_email_do_not_collide(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    add(uow, account(tenants[0], None, customer_number="1234567890"), account(tenants[0], None, customer_number="1"))
    with uow(readonly=True) as tx:
        found = tx.accounts.by_customer_number(tenants[0], "1234567890")
    assert found is not None and found.email is None


def test_save(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    added, other = add(uow, account(tenants[0]), account(tenants[0], "other@example.fr"))
    added.status, added.status_reason, added.password_change_required = AccountStatus.LOCKED, "fraud", True
    added.email = "New.Address@example.fr"
    with uow() as tx:
        tx.accounts.save(added)
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.accounts.get(added.id) == added
        assert tx.accounts.by_email(tenants[0], "new.address@example.fr") == added
        assert tx.accounts.by_email(tenants[0], "camille.martin@example.fr") is None
    other.email = "NEW.address@example.fr"
    with uow() as tx, pytest.raises(AlreadyExists):
        tx.accounts.save(other)
    added.id = 10_000
    with uow() as tx, pytest.raises(NotFound):
        tx.accounts.save(added)


# -- credentials -------------------------------------------------------------------------------------


def test_credentials(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    (added,) = add(uow, account(tenants[0]))
    later = NOW + timedelta(days=1)
    with uow() as tx:
        first = tx.accounts.set_credential(added.id, "password", "$argon2id$first", NOW)
        replaced = tx.accounts.set_credential(added.id, "password", "$argon2id$second", later)
        tx.accounts.set_credential(added.id, "keypad_code", "keyed", NOW)
        tx.commit()
    assert replaced.id == first.id  # replaced in place: one password per account
    with uow() as tx:
        (password,) = tx.accounts.credentials(added.id, "password")
        assert (password.secret_hash, password.created_at, password.updated_at) == ("$argon2id$second", NOW, later)
        assert len(tx.accounts.credentials(added.id)) == 2
        tx.accounts.rehash_credential(password.id, "$argon2id$stronger", later)
        tx.commit()
    with uow() as tx:
        (password,) = tx.accounts.credentials(added.id, "password")
        assert (password.secret_hash, password.last_used_at) == ("$argon2id$stronger", later)
        tx.accounts.touch_credential(password.id, later + timedelta(hours=1))
        tx.commit()
    with uow(readonly=True) as tx:
        assert tx.accounts.credentials(added.id, "password")[0].last_used_at == later + timedelta(hours=1)


def test_set_credential_replaces_the_oldest_of_duplicates(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    """Two credentials of one kind (a race of two first settings) tie: the lowest id is the one
    replaced, whatever order the database reads them in. The row with the higher id is written
    first, so that table and index order are not id order."""
    (added,) = add(uow, account(tenants[0]))

    def password(secret_hash: str, row_id: int) -> CredentialRow:
        return CredentialRow(
            id=row_id,
            account_id=added.id,
            kind="password",
            secret_hash=secret_hash,
            created_at=NOW,
            updated_at=NOW,
            label="",
            meta={},
        )

    with uow() as tx:
        assert tx.session is not None
        tx.session.add(password("$argon2id$higher", 1_000_001))
        tx.session.flush()
        tx.session.add(password("$argon2id$lower", 1_000_000))
        tx.commit()
    with uow() as tx:
        replaced = tx.accounts.set_credential(added.id, "password", "$argon2id$new", NOW + timedelta(days=1))
        tx.commit()
    assert replaced.id == 1_000_000
    with uow(readonly=True) as tx:
        assert [(c.id, c.secret_hash) for c in tx.accounts.credentials(added.id, "password")] == [
            (1_000_000, "$argon2id$new"),
            (1_000_001, "$argon2id$higher"),
        ]


# -- sessions ----------------------------------------------------------------------------------------


def test_sessions(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    mine, theirs = add(uow, account(tenants[0]), account(tenants[0], "other@example.fr"))
    with uow() as tx:
        for name in ("a", "b", "c"):
            tx.accounts.add_session(session(mine.id, tenants[0], name * 64))
        tx.accounts.add_session(session(theirs.id, tenants[0], "d" * 64))
        tx.commit()
    with uow() as tx:
        assert tx.accounts.end_sessions(mine.id, NOW, "logout", only="a" * 64) == 1
        assert tx.accounts.end_sessions(mine.id, NOW, "logout", only="d" * 64) == 0  # not this account's
        assert tx.accounts.end_sessions(mine.id, NOW, "ended_by_user", keep="b" * 64) == 1
        tx.commit()
    with uow(readonly=True) as tx:
        assert [s.id for s in tx.accounts.sessions_of(mine.id, NOW)] == ["b" * 64]
        ended = tx.accounts.get_session("a" * 64)
        assert ended is not None and (ended.ended_at, ended.end_reason) == (NOW, "logout")
        assert len(tx.accounts.sessions_of(theirs.id, NOW)) == 1
        assert tx.accounts.sessions_of(mine.id, NOW + timedelta(hours=13)) == []


def test_sessions_of_tied_sessions_keep_one_order(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    """Newest activity first, then newest created, then the id: ties (a frozen clock, one
    microsecond) never reshuffle the list. The rows go in, and "b" is rewritten (on PostgreSQL
    its row moves to the end of the table), in an order the expected one is not."""
    (mine,) = add(uow, account(tenants[0]))
    earlier = NOW - timedelta(minutes=1)

    def browser(session_id: str, created_at: datetime, last_seen_at: datetime = NOW) -> BrowserSession:
        made = session(mine.id, tenants[0], session_id * 64)
        made.created_at, made.last_seen_at = created_at, last_seen_at
        return made

    with uow() as tx:
        for made in (
            browser("b", earlier),
            browser("d", earlier),
            browser("a", NOW),
            browser("e", earlier, last_seen_at=earlier),
            browser("c", earlier),
        ):
            tx.accounts.add_session(made)
        tx.commit()
    with uow() as tx:
        tx.accounts.touch_session("b" * 64, NOW, NOW + timedelta(minutes=30))
        tx.commit()
    with uow(readonly=True) as tx:
        assert [s.id[0] for s in tx.accounts.sessions_of(mine.id, NOW)] == ["a", "d", "c", "b", "e"]


def test_a_long_end_reason_is_cut(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    (mine,) = add(uow, account(tenants[0]))
    with uow() as tx:
        tx.accounts.add_session(session(mine.id, tenants[0], "a" * 64))
        tx.accounts.end_sessions(mine.id, NOW, "a reason longer than the column allows")
        tx.commit()
    with uow(readonly=True) as tx:
        ended = tx.accounts.get_session("a" * 64)
    assert ended is not None and ended.end_reason == "a reason longer than the column"[:30]


# -- one-time tokens -----------------------------------------------------------------------------------


def test_tokens(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    (mine,) = add(uow, account(tenants[0]))
    with uow() as tx:
        first = tx.accounts.add_token(token(mine.id, "1" * 64))
        second = tx.accounts.add_token(token(mine.id, "2" * 64))
        recovery = tx.accounts.add_token(token(mine.id, "3" * 64, TokenPurpose.RECOVERY))
        tx.commit()
    with uow() as tx:
        assert tx.accounts.token_by_link("2" * 64) == second
        assert tx.accounts.token_by_link("9" * 64) is None
        assert tx.accounts.latest_token(mine.id, TokenPurpose.CONFIRM_EMAIL) == second
        tx.accounts.revoke_tokens(mine.id, TokenPurpose.CONFIRM_EMAIL, NOW)
        tx.commit()
    with uow(readonly=True) as tx:
        assert all(tx.accounts.token_by_link(t.link_hash).used_at == NOW for t in (first, second))  # type: ignore[union-attr]
        assert tx.accounts.token_by_link(recovery.link_hash).used_at is None  # type: ignore[union-attr]


def test_code_attempts_stop_at_the_limit(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    (mine,) = add(uow, account(tenants[0]))
    with uow() as tx:
        added = tx.accounts.add_token(token(mine.id))
        counted = [tx.accounts.count_code_attempt(added.id, 3) for _ in range(5)]
        tx.commit()
    assert counted == [True, True, True, False, False]
    with uow() as tx:
        assert tx.accounts.token_by_link(added.link_hash).code_attempts == 3  # type: ignore[union-attr]
        assert tx.accounts.use_token(added.id, NOW)
        assert not tx.accounts.count_code_attempt(added.id, 10)  # a used token takes no more tries
        tx.commit()


def test_use_token_is_single_use_under_a_race(uow: SqlUnitOfWorkFactory, tenants: tuple[int, int]) -> None:
    (mine,) = add(uow, account(tenants[0]))
    with uow() as tx:
        added = tx.accounts.add_token(token(mine.id))
        tx.commit()
    racers = 20
    start = threading.Barrier(racers)

    def redeem(_: int) -> bool:
        # Read in one transaction, use in another: on SQLite a write transaction holds the lock
        # from its start, so this is how two requests interleave there (and on PostgreSQL too).
        with uow(readonly=True) as tx:
            found = tx.accounts.token_by_link(added.link_hash)
        assert found is not None and found.used_at is None
        start.wait()  # every racer has seen the token unused; now they all try to use it
        with uow() as tx:
            used = tx.accounts.use_token(found.id, NOW)
            tx.commit()
        return used

    with ThreadPoolExecutor(max_workers=racers) as pool:
        results = list(pool.map(redeem, range(racers)))
    assert results.count(True) == 1

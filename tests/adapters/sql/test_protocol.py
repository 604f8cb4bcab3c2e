"""The protocol endpoints' prebuilt SQL (sesame/adapters/sql/protocol.py), on the run's database.

What they read and write must be exactly what the repositories read and write (the same rows,
the same values), the write transactions must be as atomic as a unit of work (one winner among
parallel rotations, nothing left behind without a commit, an audit chain that still verifies),
and a transaction that may not wait (the event loop's) must give up at once, having done nothing.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sesame.adapters.sql.db import writer_gate
from sesame.adapters.sql.models import AuditEventRow, RefreshTokenRow
from sesame.adapters.sql.protocol import SqlProtocolReads, SqlProtocolWrites
from sesame.bootstrap import Container
from sesame.domain.audit import AuditEvent
from sesame.domain.tenants import Tenant
from sesame.oidc.models import AuthorizationCode, Grant, RefreshToken
from sesame.ports import WriteTurnTaken
from sesame.services.audit import AuditService
from sesame.services.sessions import SessionService
from tests.adapters.sql.test_oidc_repository import client, race
from tests.app_support import verified_account


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return container.tenants.create("proto", "Proto")


@pytest.fixture
def reads(container: Container) -> SqlProtocolReads:
    return SqlProtocolReads(container.database.read_engine)


@pytest.fixture
def writes(container: Container) -> SqlProtocolWrites:
    return SqlProtocolWrites(container.database.engine)


@pytest.fixture
def person(container: Container, tenant: Tenant) -> Grant:
    """A grant of an account with a verified identity and a browser session, and a refresh
    token ("r" * 43) and a code ("c" * 43) of it."""
    account, _identity = verified_account(container, tenant, "lea@example.fr")
    now = container.clock.now()
    with container.uow() as uow:
        uow.oidc.add_client(client(tenant.id, "rp"))
        session = SessionService.open(
            uow, account, tenant, now, acr="eidas1", amr=["pwd"], ip="192.0.2.1", user_agent="pytest"
        ).session
        grant = Grant(
            id="g-" + secrets.token_urlsafe(8),
            tenant_id=tenant.id,
            client_id="rp",
            scope="openid profile",
            created_at=now,
            expires_at=now + timedelta(days=1),
            account_id=account.id,
            session_id=session.id,
            claims={"id_token": {"birthdate": None}},
            acr="eidas1",
            amr=["pwd"],
            auth_time=now,
            nonce="n-1",
        )
        uow.oidc.add_grant(grant)
        uow.oidc.add_refresh_token(_refresh(grant, "r" * 43, now))
        uow.oidc.add_code(
            AuthorizationCode(
                code_hash="c" * 43,
                grant_id=grant.id,
                client_id="rp",
                redirect_uri="https://rp.example/cb",
                created_at=now,
                expires_at=now + timedelta(seconds=60),
                code_challenge="x" * 43,
                code_challenge_method="S256",
            )
        )
        uow.commit()
    return grant


def _refresh(grant: Grant, token_hash: str, now: datetime, **fields: object) -> RefreshToken:
    return RefreshToken(
        token_hash=token_hash,
        grant_id=grant.id,
        client_id=grant.client_id,
        created_at=now,
        expires_at=now + timedelta(hours=1),
        **fields,  # type: ignore[arg-type]
    )


def verify(container: Container, tenant: Tenant):  # type: ignore[no-untyped-def]
    return AuditService(container.uow, container.clock).verify(tenant.slug)


def _event(tenant: Tenant, container: Container, n: int) -> AuditEvent:
    return AuditEvent(
        tenant_id=tenant.id,
        type="oidc.token_issued",
        occurred_at=container.clock.now(),
        actor="client:rp",
        subject="account:1",
        ip="192.0.2.1",
        correlation_id=f"corr-{n}",
        details={"grant_type": "refresh_token", "n": n, "scope": "openid", "nested": {"a": [1, 2]}},
    )


# -- reads ------------------------------------------------------------------------------------------


def test_the_reads_give_what_the_repositories_give(
    container: Container, reads: SqlProtocolReads, person: Grant
) -> None:
    assert person.account_id is not None and person.session_id is not None
    with container.uow(readonly=True) as uow:
        assert reads.code("c" * 43) == uow.oidc.get_code("c" * 43) is not None
        assert reads.session(person.session_id) == uow.accounts.get_session(person.session_id) is not None
        identity = uow.identities.of_account(person.account_id)
        assert identity is not None and reads.identity(person.account_id) == identity
        assert reads.grant(person.id) == uow.oidc.get_grant(person.id) == person
    assert reads.code("nope") is None and reads.session("nope") is None and reads.identity(999_999) is None


def test_a_revoked_identity_is_not_read(container: Container, reads: SqlProtocolReads, person: Grant) -> None:
    assert person.account_id is not None
    with container.uow() as uow:
        identity = uow.identities.of_account(person.account_id)
        assert identity is not None
        identity.revoked_at, identity.revoked_reason = container.clock.now(), "test"
        uow.identities.save(identity)
        uow.commit()
    assert reads.identity(person.account_id) is None


# -- writes -----------------------------------------------------------------------------------------


def test_a_rotation_wins_once_and_commits_everything_together(
    container: Container, writes: SqlProtocolWrites, person: Grant, tenant: Tenant
) -> None:
    now = container.clock.now()
    with writes.transaction() as tx:
        rotated = tx.rotate_refresh_token("r" * 43, now)
        assert rotated is not None and rotated.rotated_at is None  # this call rotated it
        assert tx.grant(person.id) == person
        tx.add_refresh_token(_refresh(person, "s" * 43, now))
        tx.append_audit(_event(tenant, container, 1))
        tx.commit()
    with writes.transaction() as tx:
        again = tx.rotate_refresh_token("r" * 43, now)
        assert again is not None and again.rotated_at == now  # rotated before: a reuse
        assert tx.rotate_refresh_token("unknown", now) is None
    with container.uow(readonly=True) as uow:
        assert uow.oidc.get_refresh_token("s" * 43) == _refresh(person, "s" * 43, now)
        record = uow.audit.recent(1, tenant_ids=[tenant.id])[0]
        assert record.event.details == {
            "grant_type": "refresh_token",
            "n": 1,
            "scope": "openid",
            "nested": {"a": [1, 2]},
        }
        assert record.event.occurred_at == now and record.event.correlation_id == "corr-1"


def test_a_code_is_used_once(container: Container, writes: SqlProtocolWrites, person: Grant) -> None:
    now = container.clock.now()
    with writes.transaction() as tx:
        used = tx.use_code("c" * 43, now)
        assert used is not None and used.used_at is None and used.grant_id == person.id
        tx.commit()
    with writes.transaction() as tx:
        replayed = tx.use_code("c" * 43, now)
        assert replayed is not None and replayed.used_at == now
        assert tx.use_code("unknown", now) is None
    with container.uow(readonly=True) as uow:
        stored = uow.oidc.get_code("c" * 43)
        assert stored is not None and stored.used_at == now


def test_a_grant_is_revoked_once(container: Container, writes: SqlProtocolWrites, person: Grant) -> None:
    now = container.clock.now()
    with writes.transaction() as tx:
        assert tx.revoke_grant(person.id, now, "refresh_token_reused_" + "x" * 60) is True  # reason cut to fit
        assert tx.revoke_grant(person.id, now, "again") is False
        tx.commit()
    with container.uow(readonly=True) as uow:
        grant = uow.oidc.get_grant(person.id)
        assert grant is not None and grant.revoked_at == now and not grant.active


def test_without_a_commit_nothing_is_left(
    container: Container, writes: SqlProtocolWrites, person: Grant, tenant: Tenant
) -> None:
    now = container.clock.now()
    with container.uow(readonly=True) as uow:
        head_before = uow.audit.head(tenant.id)

    def half_way() -> None:
        with writes.transaction() as tx:
            tx.rotate_refresh_token("r" * 43, now)
            tx.add_refresh_token(_refresh(person, "s" * 43, now))
            tx.append_audit(_event(tenant, container, 1))
            raise RuntimeError("the exchange failed half way")

    with pytest.raises(RuntimeError):
        half_way()
    with container.uow(readonly=True) as uow:
        token = uow.oidc.get_refresh_token("r" * 43)
        assert token is not None and token.rotated_at is None
        assert uow.oidc.get_refresh_token("s" * 43) is None
        assert uow.audit.head(tenant.id) == head_before
    # and the database is not left locked: a unit of work writes at once
    with container.uow() as uow:
        uow.oidc.add_refresh_token(_refresh(person, "t" * 43, now))
        uow.commit()


def test_audit_appends_keep_one_chain_with_the_repository(
    container: Container, writes: SqlProtocolWrites, tenant: Tenant
) -> None:
    """Appends through the prebuilt statements and through the repository interleave in one
    hash chain that the audit verification accepts."""
    for n in range(6):
        if n % 2:
            with container.uow() as uow:
                uow.audit.append(_event(tenant, container, n))
                uow.commit()
        else:
            with writes.transaction() as tx:
                tx.append_audit(_event(tenant, container, n))
                tx.commit()
    results = verify(container, tenant)
    assert len(results) == 1 and results[0].broken_at is None and results[0].records >= 6
    with container.uow(readonly=True) as uow:
        mine = [r.event.correlation_id for r in uow.audit.chain(tenant.id) if r.event.type == "oidc.token_issued"]
    assert mine == [f"corr-{n}" for n in range(6)]


def test_parallel_rotations_have_exactly_one_winner(
    container: Container, writes: SqlProtocolWrites, person: Grant, tenant: Tenant
) -> None:
    now = container.clock.now()

    def attempt() -> bool:
        with writes.transaction() as tx:
            token = tx.rotate_refresh_token("r" * 43, now)
            won = token is not None and token.rotated_at is None
            if won:
                tx.add_refresh_token(_refresh(person, "w" * 43, now))
            tx.append_audit(_event(tenant, container, int(won)))
            tx.commit()
            return won

    assert sorted(race(30, attempt)) == [False] * 29 + [True]
    assert verify(container, tenant)[0].broken_at is None
    with container.database.engine.connect() as connection:
        assert (
            connection.scalar(
                select(func.count()).select_from(RefreshTokenRow).where(RefreshTokenRow.token_hash == "w" * 43)
            )
            == 1
        )
        assert (
            connection.scalar(select(func.count()).select_from(AuditEventRow).where(AuditEventRow.chain == tenant.id))
            >= 30
        )


# -- the event loop's transactions (wait=False) ------------------------------------------------------


def test_on_sqlite_a_transaction_that_may_not_wait_gives_up_when_a_thread_writes(
    container: Container, writes: SqlProtocolWrites, person: Grant
) -> None:
    if not writes.non_blocking:
        pytest.skip("PostgreSQL transactions never run on the event loop")
    now = container.clock.now()
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with container.uow() as uow:  # a page's write transaction, holding the write turn
            uow.oidc.add_refresh_token(_refresh(person, "p" * 43, now))
            holding.set()
            release.wait(10)
            uow.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(WriteTurnTaken), writes.transaction(wait=False) as tx:
            tx.rotate_refresh_token("r" * 43, now)
        assert time.monotonic() - started < 0.5  # at once, not after the busy timeout
    finally:
        release.set()
        thread.join(10)
    with writes.transaction(wait=False) as tx:  # the turn is free again
        token = tx.rotate_refresh_token("r" * 43, now)
        assert token is not None and token.rotated_at is None
        tx.commit()


def test_on_sqlite_a_transaction_that_may_not_wait_gives_up_when_another_process_writes(
    container: Container, writes: SqlProtocolWrites, person: Grant
) -> None:
    if not writes.non_blocking:
        pytest.skip("PostgreSQL transactions never run on the event loop")
    gate = writer_gate(container.database.engine)
    assert gate is not None
    lock_path = Path(str(container.database.engine.url.database) + "-writer.lock")
    now = container.clock.now()
    # another process's turn: the lock file held through another open file description
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(WriteTurnTaken), writes.transaction(wait=False) as tx:
            tx.rotate_refresh_token("r" * 43, now)
        assert time.monotonic() - started < 0.5
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    with container.uow(readonly=True) as uow:
        token = uow.oidc.get_refresh_token("r" * 43)
        assert token is not None and token.rotated_at is None  # nothing was done
    with writes.transaction(wait=False) as tx:
        assert tx.rotate_refresh_token("r" * 43, now) is not None
        tx.commit()

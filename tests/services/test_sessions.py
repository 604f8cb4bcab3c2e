"""Browser sessions: opened in the caller's transaction, resolved per tenant, idle and absolute limits."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import text

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from sesame.services.sessions import TOUCH_INTERVAL, OpenedSession, SessionService
from tests.services.accounts_support import SUPPORT, create_account, demo_tenant


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return demo_tenant(container, "laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    return create_account(container, tenant)


@pytest.fixture
def sessions(container: Container) -> SessionService:
    return container.sessions


def open_session(container: Container, tenant: Tenant, account: Account, **kwargs: str) -> OpenedSession:
    with container.uow() as uow:
        opened = SessionService.open(
            uow,
            account,
            tenant,
            container.clock.now(),
            acr="eidas1",
            amr=["pwd"],
            ip=kwargs.get("ip", "198.51.100.7"),
            user_agent=kwargs.get("user_agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
            **({"token": kwargs["token"]} if "token" in kwargs else {}),
        )
        uow.commit()
    return opened


def stored(container: Container, session_id: str) -> BrowserSession:
    with container.uow(readonly=True) as uow:
        session = uow.accounts.get_session(session_id)
    assert session is not None
    return session


def test_open(container: Container, clock: FrozenClock, tenant: Tenant, account: Account) -> None:
    opened = open_session(container, tenant, account)
    session = opened.session
    policy = tenant.policy.session
    assert len(opened.token) >= 43  # 256 random bits
    assert session.id == hashlib.sha256(opened.token.encode()).hexdigest()
    assert (session.account_id, session.tenant_id, session.acr, session.amr) == (
        account.id,
        tenant.id,
        "eidas1",
        ["pwd"],
    )
    assert session.idle_expires_at == clock.now() + timedelta(seconds=policy.idle_timeout_seconds)
    assert session.expires_at == clock.now() + timedelta(seconds=policy.absolute_timeout_seconds)
    assert session.auth_time == session.created_at == session.last_seen_at == clock.now()
    assert stored(container, session.id) == session


def test_the_database_holds_the_hash_not_the_token(container: Container, tenant: Tenant, account: Account) -> None:
    opened = open_session(container, tenant, account)
    with container.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM sessions")).mappings().all()
    (row,) = rows
    assert row["id"] == hashlib.sha256(opened.token.encode()).hexdigest()
    assert opened.token not in " ".join(str(value) for value in row.values())


def test_every_login_gets_a_new_id(container: Container, tenant: Tenant, account: Account) -> None:
    ids = {open_session(container, tenant, account).session.id for _ in range(5)}
    assert len(ids) == 5


def test_a_token_drawn_by_the_caller(container: Container, tenant: Tenant, account: Account) -> None:
    token = "t" * 43
    assert open_session(container, tenant, account, token=token).session.id == hashlib.sha256(b"t" * 43).hexdigest()
    with pytest.raises(ValueError):
        open_session(container, tenant, account, token="short")


def test_long_ip_and_user_agent_are_cut(container: Container, tenant: Tenant, account: Account) -> None:
    opened = open_session(container, tenant, account, ip="1" * 100, user_agent="u" * 1000)
    assert stored(container, opened.session.id).ip == "1" * 64
    assert len(stored(container, opened.session.id).user_agent) == 300


def test_resolve(container: Container, sessions: SessionService, tenant: Tenant, account: Account) -> None:
    opened = open_session(container, tenant, account)
    live = sessions.resolve(tenant, opened.token)
    assert live is not None
    assert (live.session.id, live.account.id, live.account.email) == (opened.session.id, account.id, account.email)


@pytest.mark.parametrize("token", [None, "", "x", "y" * 129, "unknown-token-unknown-token-unknown-token-xyz"])
def test_unknown_tokens_do_not_resolve(
    container: Container, sessions: SessionService, tenant: Tenant, account: Account, token: str | None
) -> None:
    open_session(container, tenant, account)
    assert sessions.resolve(tenant, token) is None


def test_the_session_id_itself_is_not_a_token(
    container: Container, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    """A stolen database (the hashes) gives no live session."""
    opened = open_session(container, tenant, account)
    assert sessions.resolve(tenant, opened.session.id) is None


def test_another_tenants_token_does_not_resolve(
    container: Container, sessions: SessionService, account: Account
) -> None:
    laposte, poste_ch = demo_tenant(container, "laposte"), demo_tenant(container, "poste-ch")
    opened = open_session(container, laposte, account)
    assert sessions.resolve(poste_ch, opened.token) is None
    assert sessions.resolve(laposte, opened.token) is not None


def test_idle_timeout(
    container: Container, clock: FrozenClock, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    idle = tenant.policy.session.idle_timeout_seconds
    opened = open_session(container, tenant, account)
    clock.advance(seconds=idle - 1)
    assert sessions.resolve(tenant, opened.token) is not None  # activity: the idle limit moves
    clock.advance(seconds=idle - 1)
    assert sessions.resolve(tenant, opened.token) is not None
    clock.advance(seconds=idle)
    assert sessions.resolve(tenant, opened.token) is None
    assert sessions.list(account.id) == []


def test_absolute_timeout(
    container: Container, clock: FrozenClock, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    policy = tenant.policy.session
    opened = open_session(container, tenant, account)
    step = timedelta(seconds=policy.idle_timeout_seconds // 2)
    while clock.now() + step < opened.session.expires_at:
        clock.advance(seconds=step.total_seconds())
        live = sessions.resolve(tenant, opened.token)
        assert live is not None
        assert live.session.idle_expires_at <= opened.session.expires_at  # never past the absolute limit
    clock.set(opened.session.expires_at - timedelta(seconds=1))
    assert sessions.resolve(tenant, opened.token) is not None
    clock.advance(seconds=1)
    assert sessions.resolve(tenant, opened.token) is None


def test_last_seen_is_written_at_most_once_a_minute(
    container: Container, clock: FrozenClock, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    opened = open_session(container, tenant, account)
    start = clock.now()
    clock.advance(seconds=TOUCH_INTERVAL.total_seconds() - 1)
    assert sessions.resolve(tenant, opened.token) is not None
    assert stored(container, opened.session.id).last_seen_at == start  # a read, not a write
    clock.advance(seconds=1)
    assert sessions.resolve(tenant, opened.token) is not None
    touched = stored(container, opened.session.id)
    assert touched.last_seen_at == clock.now()
    assert touched.idle_expires_at == clock.now() + timedelta(seconds=tenant.policy.session.idle_timeout_seconds)
    clock.advance(seconds=30)
    assert sessions.resolve(tenant, opened.token) is not None
    assert stored(container, opened.session.id).last_seen_at == touched.last_seen_at


def test_end(
    container: Container, clock: FrozenClock, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    first, second = open_session(container, tenant, account), open_session(container, tenant, account)
    assert sessions.end(account.id, first.session.id, "logout")
    assert sessions.resolve(tenant, first.token) is None
    assert sessions.resolve(tenant, second.token) is not None
    ended = stored(container, first.session.id)
    assert (ended.ended_at, ended.end_reason) == (clock.now(), "logout")
    assert not sessions.end(account.id, first.session.id, "logout")  # already ended


def test_an_account_cannot_end_another_accounts_session(
    container: Container, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    other = create_account(container, tenant, "other@example.fr")
    theirs = open_session(container, tenant, other)
    assert not sessions.end(account.id, theirs.session.id, "logout")
    assert sessions.resolve(tenant, theirs.token) is not None


def test_end_others(container: Container, sessions: SessionService, tenant: Tenant, account: Account) -> None:
    keep, *others = [open_session(container, tenant, account) for _ in range(3)]
    someone_else = open_session(container, tenant, create_account(container, tenant, "other@example.fr"))
    assert sessions.end_others(account.id, keep.session.id, "ended_by_user") == 2
    assert sessions.resolve(tenant, keep.token) is not None
    assert all(sessions.resolve(tenant, o.token) is None for o in others)
    assert sessions.resolve(tenant, someone_else.token) is not None
    assert [s.id for s in sessions.list(account.id)] == [keep.session.id]


def test_list_shows_live_sessions_newest_first(
    container: Container, clock: FrozenClock, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    first = open_session(container, tenant, account)
    clock.advance(minutes=5)
    second = open_session(container, tenant, account, ip="203.0.113.9")
    assert [(s.id, s.ip) for s in sessions.list(account.id)] == [
        (second.session.id, "203.0.113.9"),
        (first.session.id, "198.51.100.7"),
    ]


def test_a_locked_accounts_sessions_do_not_resolve(
    container: Container, sessions: SessionService, tenant: Tenant, account: Account
) -> None:
    opened = open_session(container, tenant, account)
    assert account.email is not None
    container.accounts.lock(tenant, account.email, "fraud", SUPPORT)
    assert sessions.resolve(tenant, opened.token) is None

"""The refresh_token grant (RFC 6749 §6): rotation on every use, reuse of a rotated token revokes the
family, scope narrowing only, online grants die with their browser session (OpenID Connect Core §11)."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.audit import AuditEvent
from sesame.domain.tenants import Tenant
from sesame.services.context import RequestContext
from tests.protocol.tokens_support import (
    BASE_URL,
    TOKEN_URL,
    Registered,
    account,
    app,
    audit_types,
    authenticated,
    http,
    introspect,
    issue_code,
    refresh,
    register,
    rp,
    session,
    tenant,
    tokens,
    userinfo,
    verify,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures


def first_tokens(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession, **options: object
) -> dict[str, object]:
    code, _grant = issue_code(container, rp, account, session, **options)  # type: ignore[arg-type]
    return tokens(http, rp, code)


def test_each_use_rotates_the_refresh_token(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    first = first_tokens(http, container, rp, account, session)
    response = refresh(http, rp, str(first["refresh_token"]))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "openid profile email"
    id_token = verify(http, second["id_token"], typ="JWT")
    first_id = verify(http, str(first["id_token"]), typ="JWT")
    # Core §12.2: same iss, sub, aud, auth_time; no nonce
    assert {k: id_token[k] for k in ("iss", "sub", "aud", "auth_time")} == {
        k: first_id[k] for k in ("iss", "sub", "aud", "auth_time")
    }
    assert "nonce" not in id_token
    assert userinfo(http, second["access_token"]).status_code == 200
    assert refresh(http, rp, second["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(
    http: TestClient,
    container: Container,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    first = first_tokens(http, container, rp, account, session)
    second = refresh(http, rp, str(first["refresh_token"])).json()

    reuse = refresh(http, rp, str(first["refresh_token"]))
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # the thief's or the rightful client's copy: every token of the grant is dead now
    assert refresh(http, rp, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(http, second["access_token"]).status_code == 401
    assert introspect(http, rp, second["access_token"]) == {"active": False}
    assert "oidc.refresh_token_reused" in audit_types(container, tenant)


def test_parallel_uses_of_one_refresh_token_have_one_winner(
    app: FastAPI, http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    first = first_tokens(http, container, rp, account, session)
    fields, headers = authenticated(rp)
    form = {**fields, "grant_type": "refresh_token", "refresh_token": str(first["refresh_token"])}

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
            return list(await asyncio.gather(*(client.post(TOKEN_URL, data=form, headers=headers) for _ in range(20))))

    statuses = sorted(r.status_code for r in asyncio.run(race()))
    assert statuses == [200] + [400] * 19


def test_an_exchange_waits_for_a_busy_write_turn_without_holding_up_the_server(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    """On SQLite an exchange runs on the event loop only when the write turn is free at once;
    while another writer holds it, the exchange waits in a worker thread (and succeeds after),
    and the server goes on answering meanwhile."""
    first = first_tokens(http, container, rp, account, session)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with container.uow() as uow:  # a page's write transaction, holding the write turn
            uow.audit.append(
                AuditEvent(tenant_id=None, type="test.holding", occurred_at=container.clock.now(), actor="test")
            )
            holding.set()
            release.wait(30)
            uow.commit()

    holder = threading.Thread(target=writer)
    holder.start()
    try:
        assert holding.wait(10)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(refresh, http, rp, str(first["refresh_token"]))
            if container.protocol_writes.non_blocking:  # SQLite: one writer at a time
                time.sleep(0.3)
                assert not pending.done()  # waiting for its turn, not refused
                started = time.monotonic()  # the loop is free: the holder keeps its turn for 30 s
                assert http.get("/laposte/.well-known/openid-configuration").status_code == 200
                assert time.monotonic() - started < 10
            release.set()
            response = pending.result(timeout=30)
    finally:
        release.set()
        holder.join(30)
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] != first["refresh_token"]


def test_scope_can_be_narrowed_never_widened(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    first = first_tokens(http, container, rp, account, session, scope="openid email")
    widened = refresh(http, rp, str(first["refresh_token"]), scope="openid email profile")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"

    narrowed = refresh(http, rp, str(first["refresh_token"]), scope="email")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "email" and "id_token" not in body
    assert verify(http, body["access_token"], typ="at+jwt")["scope"] == "email"
    # the new refresh token keeps the grant's whole scope (RFC 6749 §6)
    again = refresh(http, rp, body["refresh_token"]).json()
    assert again["scope"] == "openid email" and "id_token" in again


def test_an_online_grant_ends_with_its_browser_session(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    online = first_tokens(http, container, rp, account, session)
    offline = first_tokens(http, container, rp, account, session, scope="openid offline_access", offline=True)
    container.sessions.end(account.id, session.id, "logout")

    refused = refresh(http, rp, str(online["refresh_token"]))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert introspect(http, rp, str(online["refresh_token"])) == {"active": False}
    assert refresh(http, rp, str(offline["refresh_token"])).status_code == 200


def test_an_idle_expired_session_ends_an_online_grant(
    http: TestClient,
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    first = first_tokens(http, container, rp, account, session)
    clock.advance(seconds=tenant.policy.session.idle_timeout_seconds + 1)
    assert refresh(http, rp, str(first["refresh_token"])).json()["error"] == "invalid_grant"


def test_a_lock_revokes_every_grant_of_the_account(
    http: TestClient,
    container: Container,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    offline = first_tokens(http, container, rp, account, session, scope="openid offline_access", offline=True)
    support = RequestContext(actor="support:alice")
    assert account.email is not None
    container.accounts.lock(tenant, account.email, "fraud suspected", support)
    container.accounts.unlock(tenant, account.email, support)  # the account is back; its grants are not

    assert refresh(http, rp, str(offline["refresh_token"])).json()["error"] == "invalid_grant"
    assert userinfo(http, str(offline["access_token"])).status_code == 401


def test_an_expired_refresh_token_is_refused(
    http: TestClient,
    container: Container,
    clock: FrozenClock,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    first = first_tokens(http, container, rp, account, session, offline=True)
    clock.advance(seconds=rp.client.metadata.refresh_token_lifetime_seconds)
    assert refresh(http, rp, str(first["refresh_token"])).json()["error"] == "invalid_grant"


def test_a_refresh_token_is_for_its_own_client(
    http: TestClient, container: Container, tenant: Tenant, rp: Registered, account: Account, session: BrowserSession
) -> None:
    first = first_tokens(http, container, rp, account, session)
    other = register(container, tenant, "Ameli")
    assert refresh(http, other, str(first["refresh_token"])).json()["error"] == "invalid_grant"
    assert refresh(http, rp, str(first["refresh_token"])).status_code == 200  # not spent by the refusal

"""A code is used once (RFC 6749 §4.1.2): among 100 parallel requests exactly one gets tokens, and
the replays revoke the grant, so the tokens of that first use stop working too."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.tenants import Tenant
from tests.protocol.tokens_support import (
    BASE_URL,
    REDIRECT_URI,
    TOKEN_URL,
    VERIFIER,
    Registered,
    account,
    app,
    audit_types,
    authenticated,
    exchange,
    http,
    introspect,
    issue_code,
    refresh,
    rp,
    session,
    tenant,
    tokens,
    userinfo,
)

__all__ = ["account", "app", "http", "rp", "session", "tenant"]  # fixtures

PARALLEL = 100


async def redeem_in_parallel(app: FastAPI, rp: Registered, code: str) -> list[httpx.Response]:
    fields, headers = authenticated(rp)
    form = {**fields, "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    form["code_verifier"] = VERIFIER
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return list(
            await asyncio.gather(*(client.post(TOKEN_URL, data=form, headers=headers) for _ in range(PARALLEL)))
        )


def test_one_of_a_hundred_parallel_requests_gets_tokens_and_the_replays_revoke_them(
    app: FastAPI,
    http: TestClient,
    container: Container,
    tenant: Tenant,
    rp: Registered,
    account: Account,
    session: BrowserSession,
) -> None:
    code, grant = issue_code(container, rp, account, session)
    responses = asyncio.run(redeem_in_parallel(app, rp, code))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (PARALLEL - 1)
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    winner = next(r.json() for r in responses if r.status_code == 200)

    # the tokens of the first use no longer work anywhere
    denied = userinfo(http, winner["access_token"])
    assert denied.status_code == 401
    assert 'error="invalid_token"' in denied.headers["www-authenticate"]
    assert introspect(http, rp, winner["access_token"]) == {"active": False}
    assert introspect(http, rp, winner["refresh_token"]) == {"active": False}
    assert refresh(http, rp, winner["refresh_token"]).json()["error"] == "invalid_grant"
    with container.uow(readonly=True) as uow:
        revoked = uow.oidc.get_grant(grant.id)
    assert revoked is not None and revoked.revoke_reason == "code_replayed"
    assert "oidc.code_replayed" in audit_types(container, tenant)


def test_a_replay_after_the_fact_revokes_the_first_tokens(
    http: TestClient, container: Container, rp: Registered, account: Account, session: BrowserSession
) -> None:
    code, _grant = issue_code(container, rp, account, session)
    first = tokens(http, rp, code)
    assert userinfo(http, first["access_token"]).status_code == 200
    assert introspect(http, rp, first["access_token"])["active"] is True

    replay = exchange(http, rp, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert userinfo(http, first["access_token"]).status_code == 401
    assert introspect(http, rp, first["access_token"]) == {"active": False}

"""Agents: the directory, the login (generic errors, lockout), sessions (idle timeout), password change."""

from __future__ import annotations

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.backoffice.agents import LoginStatus
from sesame.bootstrap import Container
from sesame.domain.agents import BACKOFFICE_IDLE_SECONDS, BACKOFFICE_LOCKOUT, AgentRole
from sesame.domain.errors import AlreadyExists, InvalidInput, NotFound, PolicyViolation
from sesame.domain.tenants import Tenant
from tests.backoffice.support import ADMIN, AGENT_PASSWORD, AT_COUNTER, audit, make_agent

NEW_PASSWORD = "Sacoche-Jaune-Velo-Electrique-42"


def test_create_generates_a_one_time_password(container: Container, laposte: Tenant) -> None:
    directory = container.backoffice.directory
    created = directory.create(
        ["laposte", "poste-ch"], "Claire@LaPoste.example", "Claire", ["clerk", "supervisor"], ADMIN
    )
    agent = created.agent
    assert created.one_time_password and len(created.one_time_password) >= 20
    assert agent.email == "claire@laposte.example" and agent.password_change_required
    assert agent.roles == {AgentRole.CLERK, AgentRole.SUPERVISOR} and len(agent.tenant_ids) == 2
    assert agent.password_hash.startswith("$argon2id$") and created.one_time_password not in agent.password_hash
    (event,) = [r.event for r in audit(container, None, "backoffice.agent_created")]
    assert event.subject == agent.actor and created.one_time_password not in str(event.details)
    assert [a.email for a in directory.list("poste-ch")] == ["claire@laposte.example"]
    assert directory.slugs(agent) == ["laposte", "poste-ch"]


def test_create_refuses_bad_input(container: Container, laposte: Tenant) -> None:
    directory = container.backoffice.directory
    make_agent(container, ["clerk"], email="taken@laposte.example")
    with pytest.raises(AlreadyExists):
        directory.create(["laposte"], "TAKEN@laposte.example", "Other", ["clerk"], ADMIN)
    with pytest.raises(NotFound):
        directory.create(["nowhere"], "new@laposte.example", "New", ["clerk"], ADMIN)
    with pytest.raises(InvalidInput):
        directory.create(["laposte"], "new@laposte.example", "New", ["boss"], ADMIN)
    with pytest.raises(InvalidInput):
        directory.create([], "new@laposte.example", "New", ["clerk"], ADMIN)
    with pytest.raises(PolicyViolation):
        directory.create(["laposte"], "new@laposte.example", "New", ["clerk"], ADMIN, password="short")
    assert [a.email for a in directory.list()] == ["taken@laposte.example"]


def test_login_with_generic_errors(container: Container, laposte: Tenant) -> None:
    agent = make_agent(container, ["clerk"], email="paul@laposte.example")
    access = container.backoffice.access
    ok = access.authenticate("Paul@LaPoste.example", AGENT_PASSWORD, AT_COUNTER)
    assert ok.status is LoginStatus.OK and ok.agent is not None and ok.agent.id == agent.id
    wrong = access.authenticate("paul@laposte.example", "not the password", AT_COUNTER)
    unknown = access.authenticate("nobody@laposte.example", AGENT_PASSWORD, AT_COUNTER)
    assert wrong.status is unknown.status is LoginStatus.INVALID  # the same answer
    assert wrong.agent is None and unknown.agent is None
    types = [r.event.type for r in audit(container, None, "backoffice.login")]
    assert types == ["backoffice.login_failed", "backoffice.login_failed"]


def test_failures_suspend_the_address(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    make_agent(container, ["clerk"], email="paul@laposte.example")
    access = container.backoffice.access
    outcomes = [access.authenticate("paul@laposte.example", "wrong", AT_COUNTER) for _ in range(5)]
    assert [o.status for o in outcomes] == [LoginStatus.INVALID] * 4 + [LoginStatus.SUSPENDED]
    refused = access.authenticate("paul@laposte.example", AGENT_PASSWORD, AT_COUNTER)
    assert refused.status is LoginStatus.SUSPENDED and refused.retry_at is not None
    clock.advance(seconds=BACKOFFICE_LOCKOUT.suspension_seconds)
    assert access.authenticate("paul@laposte.example", AGENT_PASSWORD, AT_COUNTER).ok


def test_a_disabled_agent_cannot_log_in_and_its_sessions_end(container: Container, laposte: Tenant) -> None:
    agent = make_agent(container, ["clerk"], email="paul@laposte.example")
    access = container.backoffice.access
    opened = access.open(agent, AT_COUNTER)
    assert access.resolve(opened.token) is not None
    container.backoffice.directory.disable("paul@laposte.example", ADMIN)
    assert access.resolve(opened.token) is None
    assert access.authenticate("paul@laposte.example", AGENT_PASSWORD, AT_COUNTER).status is LoginStatus.DISABLED
    container.backoffice.directory.enable("paul@laposte.example", ADMIN, container.counters)
    assert access.authenticate("paul@laposte.example", AGENT_PASSWORD, AT_COUNTER).ok


def test_sessions_end_when_idle(container: Container, laposte: Tenant, clock: FrozenClock) -> None:
    agent = make_agent(container, ["clerk"])
    access = container.backoffice.access
    opened = access.open(agent, AT_COUNTER)
    assert opened.session.id != opened.token and len(opened.token) >= 43
    for _ in range(3):  # in use: the idle timeout moves on
        clock.advance(seconds=BACKOFFICE_IDLE_SECONDS - 60)
        assert access.resolve(opened.token) is not None
    clock.advance(seconds=BACKOFFICE_IDLE_SECONDS + 1)
    assert access.resolve(opened.token) is None
    assert access.resolve("forged-token") is None and access.resolve(None) is None


def test_logout_ends_the_session(container: Container, laposte: Tenant) -> None:
    agent = make_agent(container, ["clerk"])
    access = container.backoffice.access
    opened = access.open(agent, AT_COUNTER)
    live = access.resolve(opened.token)
    assert live is not None
    access.end(live, AT_COUNTER)
    assert access.resolve(opened.token) is None
    types = [r.event.type for r in audit(container, None, "backoffice.log")]
    assert types == ["backoffice.login", "backoffice.logout"]


def test_the_one_time_password_is_replaced(container: Container, laposte: Tenant) -> None:
    created = container.backoffice.directory.create(["laposte"], "new@laposte.example", "New", ["clerk"], ADMIN)
    access = container.backoffice.access
    assert created.one_time_password is not None
    first = access.authenticate("new@laposte.example", created.one_time_password, AT_COUNTER)
    assert first.ok and first.agent is not None and first.agent.password_change_required
    elsewhere = access.open(first.agent, AT_COUNTER)
    here = access.open(first.agent, AT_COUNTER)
    live = access.resolve(here.token)
    assert live is not None
    with pytest.raises(InvalidInput):
        access.change_password(live, "not it", NEW_PASSWORD, AT_COUNTER)
    with pytest.raises(PolicyViolation):
        access.change_password(live, created.one_time_password, "password", AT_COUNTER)
    access.change_password(live, created.one_time_password, NEW_PASSWORD, AT_COUNTER)
    assert access.resolve(elsewhere.token) is None  # other sessions end
    again = access.resolve(here.token)
    assert again is not None and not again.agent.password_change_required
    assert not access.authenticate("new@laposte.example", created.one_time_password, AT_COUNTER).ok
    assert access.authenticate("new@laposte.example", NEW_PASSWORD, AT_COUNTER).ok

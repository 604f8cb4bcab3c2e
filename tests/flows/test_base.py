"""The flow machinery, through the reference flow, on the real test database with a frozen clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.errors import FlowCsrfMismatch, FlowExpired, FlowNotFound, FlowStateError, TooManyAttempts
from sesame.domain.tenants import Tenant
from sesame.flows.base import FlowRunner
from sesame.flows.hello.flow import HELLO
from sesame.flows.hello.states import HelloState

BROWSER = "browser-cookie-value-1"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return container.tenants.create("acme", "ACME")


@pytest.fixture
def runner(container: Container) -> FlowRunner:
    return FlowRunner(container.uow, container.clock)


def test_walks_to_the_end(runner: FlowRunner, tenant: Tenant, container: Container) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    assert flow.state is HelloState.ASK_NAME
    assert len(flow.id) >= 40  # >= 256 bits, URL-safe
    result = runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "  Marie   Curie "})
    assert result.ok and result.flow.state is HelloState.CONFIRM
    assert result.flow.context.name == "Marie Curie"
    result = runner.submit(HELLO, tenant, flow.id, BROWSER, {"action": "confirm"})
    assert result.flow.state is HelloState.DONE
    reloaded = runner.load(HELLO, tenant, flow.id)
    assert reloaded.state is HelloState.DONE and reloaded.context.name == "Marie Curie"
    with container.uow(readonly=True) as uow:
        assert [r.event.type for r in uow.audit.chain(tenant.id)][-1] == "hello.completed"


def test_modify_goes_back(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Ana"})
    result = runner.submit(HELLO, tenant, flow.id, BROWSER, {"action": "modify"})
    assert result.flow.state is HelloState.ASK_NAME
    assert result.flow.context.modifications == 1


def test_expiry_follows_the_injected_clock(runner: FlowRunner, tenant: Tenant, clock: FrozenClock) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    clock.advance(seconds=tenant.policy.flows.lifetime_seconds - 1)
    runner.load(HELLO, tenant, flow.id)
    clock.advance(seconds=1)
    with pytest.raises(FlowExpired):
        runner.load(HELLO, tenant, flow.id)
    with pytest.raises(FlowExpired):
        runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Late"})


def test_unknown_or_foreign_flow(runner: FlowRunner, tenant: Tenant, container: Container) -> None:
    other = container.tenants.create("other", "Other")
    flow = runner.start(HELLO, tenant, BROWSER)
    for flow_id in ("nope", "x" * 43, "../../etc/passwd", flow.id + "x"):
        with pytest.raises(FlowNotFound):
            runner.load(HELLO, tenant, flow_id)
    with pytest.raises(FlowNotFound):
        runner.load(HELLO, other, flow.id)


def test_bound_to_the_starting_browser(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    for token in (None, "", "another-browser"):
        with pytest.raises(FlowCsrfMismatch):
            runner.submit(HELLO, tenant, flow.id, token, {"name": "Eve"})
    assert runner.load(HELLO, tenant, flow.id).state is HelloState.ASK_NAME


def test_attempts_counted_only_for_counted_refusals(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    for _ in range(3):
        result = runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": ""})
        assert result.errors == {"name": "required"}
    assert runner.load(HELLO, tenant, flow.id).attempts_left == tenant.policy.flows.max_attempts
    for _ in range(tenant.policy.flows.max_attempts):
        result = runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "x" * 81})
        assert result.errors == {"name": "invalid"}
    with pytest.raises(TooManyAttempts):
        runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Valid"})


def test_stale_form_changes_nothing(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Ana"}, expected_state="ask_name")
    # The same form sent again (double submit) must not overwrite the name.
    result = runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Bob"}, expected_state="ask_name")
    assert result.flow.state is HelloState.CONFIRM and result.flow.context.name == "Ana"


def test_no_step_in_a_terminal_state(runner: FlowRunner, tenant: Tenant) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Ana"})
    runner.submit(HELLO, tenant, flow.id, BROWSER, {"action": "confirm"})
    with pytest.raises(FlowStateError):
        runner.submit(HELLO, tenant, flow.id, BROWSER, {"action": "confirm"})


def test_concurrent_double_submit_applies_once(runner: FlowRunner, tenant: Tenant, container: Container) -> None:
    flow = runner.start(HELLO, tenant, BROWSER)
    runner.submit(HELLO, tenant, flow.id, BROWSER, {"name": "Ana"})
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def confirm() -> None:
        barrier.wait()
        try:
            runner.submit(HELLO, tenant, flow.id, BROWSER, {"action": "confirm"}, expected_state="confirm")
            outcomes.append("ok")
        except FlowStateError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=confirm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with container.uow(readonly=True) as uow:
        completions = [r for r in uow.audit.chain(tenant.id) if r.event.type == "hello.completed"]
    assert len(completions) == 1
    assert runner.load(HELLO, tenant, flow.id).state is HelloState.DONE


def test_flow_lifetime_from_definition_overrides_policy(runner: FlowRunner, tenant: Tenant) -> None:
    from dataclasses import replace

    short = replace(HELLO, lifetime=timedelta(minutes=2))
    flow = runner.start(short, tenant, BROWSER)
    assert flow.expires_at - flow.record.created_at == timedelta(minutes=2)

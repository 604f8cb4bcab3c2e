"""The factors flow (account page): fresh authentication, then adding or removing a second factor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyotp
import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import FlowNotFound
from sesame.domain.factors import FactorKind
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.factors import steps
from sesame.flows.factors.flow import FACTORS
from sesame.flows.factors.states import FactorIntent, FactorsContext, FactorsState
from sesame.flows.settings import steps as settings_steps
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import list_messages
from sesame.services.sessions import LiveSession
from sesame.web.pages.account import account_settings
from tests.methods.totp_support import wrong_code
from tests.methods.webauthn_support import SoftAuthenticator

BROWSER = "browser-cookie-factors"
PASSWORD = "Factors-Flow-2026"
EMAIL = "lucie.blanc@example.fr"
ORIGIN = "https://testserver"
CTX = RequestContext(actor="test")

FactorsFlow = Flow[FactorsState, FactorsContext]


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def runner(container: Container) -> FlowRunner:
    return FlowRunner(container.uow, container.clock)


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=EMAIL, given_name="Lucie", family_name="Blanc", verified=True)
    return container.accounts.create(tenant, new, PASSWORD, CTX)


def live_session(container: Container, tenant: Tenant, account: Account) -> LiveSession:
    """A session opened now (its login is as fresh as it gets)."""
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="192.0.2.1", user_agent="t"
        )
        uow.commit()
    live = container.sessions.resolve(tenant, opened.token)
    assert live is not None
    return live


def extras(container: Container, live: LiveSession, revealed: steps.RevealedCodes | None = None) -> dict[str, Any]:
    return {
        settings_steps.LIVE: live,
        settings_steps.CONTEXT: RequestContext(ip="192.0.2.1", actor=f"account:{live.account.id}"),
        settings_steps.SETTINGS: account_settings(container),
        steps.FACTORS: container.factors,
        steps.REVEALED: revealed or steps.RevealedCodes(),
    }


def start(
    container: Container, runner: FlowRunner, tenant: Tenant, live: LiveSession, intent: FactorIntent, **more: Any
) -> FactorsFlow:
    context = FactorsContext(account_id=live.account.id, intent=intent, **more)
    flow = runner.start(FACTORS, tenant, BROWSER, context=context)
    return step(container, runner, tenant, flow, live, {}).flow


def step(
    container: Container,
    runner: FlowRunner,
    tenant: Tenant,
    flow: FactorsFlow,
    live: LiveSession,
    data: Mapping[str, str],
    revealed: steps.RevealedCodes | None = None,
) -> SubmitResult[FactorsState, FactorsContext]:
    return runner.submit(FACTORS, tenant, flow.id, BROWSER, data, extras=extras(container, live, revealed))


def templates(container: Container) -> list[str]:
    return [m.message.template for m in list_messages(container.uow)]


def test_a_fresh_login_goes_straight_to_the_app_enrolment(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    live = live_session(container, tenant, account)
    flow = start(container, runner, tenant, live, FactorIntent.ADD_TOTP)
    assert flow.state is FactorsState.ENROL_TOTP and flow.context.totp_seed
    seed = container.factors.totp_enrolment(tenant, account, flow.context.totp_seed).secret_text.replace(" ", "")
    assert seed not in json.dumps(flow.record.context)  # encrypted in the flow's row
    wrong = step(container, runner, tenant, flow, live, {"code": wrong_code(seed, container.clock.now())})
    assert wrong.flow.state is FactorsState.ENROL_TOTP and wrong.flow.context.error == "wrong_code"
    assert wrong.flow.context.totp_seed == flow.context.totp_seed  # no need to scan again
    code = pyotp.TOTP(seed).at(container.clock.now())
    done = step(container, runner, tenant, wrong.flow, live, {"code": code, "label": "  Mon   Pixel "})
    assert done.flow.state is FactorsState.DONE and done.flow.context.totp_seed is None
    [factor] = container.factors.factors(account.id)
    assert factor.kind is FactorKind.TOTP and factor.label == "Mon Pixel"
    assert templates(container) == ["second_factor_added"]


def test_an_old_login_asks_for_the_password_first(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    live = live_session(container, tenant, account)
    clock.advance(seconds=tenant.policy.mfa.fresh_auth_seconds + 1)
    flow = start(container, runner, tenant, live, FactorIntent.RECOVERY_CODES)
    assert flow.state is FactorsState.REAUTHENTICATE
    wrong = step(container, runner, tenant, flow, live, {"current_password": "Not-the-password-1"})
    assert dict(wrong.errors) == {"current_password": "wrong"} and wrong.flow.state is FactorsState.REAUTHENTICATE
    assert runner.load(FACTORS, tenant, flow.id).record.attempts == 1
    assert dict(step(container, runner, tenant, flow, live, {}).errors) == {"current_password": "required"}
    right = step(container, runner, tenant, flow, live, {"current_password": PASSWORD})
    assert right.flow.state is FactorsState.RECOVERY_CODES
    assert right.flow.context.reauthenticated_at == clock.now()


def test_a_page_left_open_too_long_asks_for_the_password_again(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    live = live_session(container, tenant, account)
    flow = start(container, runner, tenant, live, FactorIntent.RECOVERY_CODES)
    clock.advance(seconds=tenant.policy.mfa.fresh_auth_seconds + 1)
    revealed = steps.RevealedCodes()
    result = step(container, runner, tenant, flow, live, {}, revealed)
    assert result.flow.state is FactorsState.REAUTHENTICATE and result.flow.context.error == "stale"
    assert revealed.codes == [] and container.factors.factors(account.id) == []


def test_recovery_codes_are_revealed_to_the_step_only(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    live = live_session(container, tenant, account)
    flow = start(container, runner, tenant, live, FactorIntent.RECOVERY_CODES)
    revealed = steps.RevealedCodes()
    result = step(container, runner, tenant, flow, live, {}, revealed)
    assert result.flow.state is FactorsState.DONE and len(revealed.codes) == 10
    assert result.flow.context.codes_count == 10
    stored = json.dumps(runner.load(FACTORS, tenant, flow.id).record.context)
    assert not any(code in stored for code in revealed.codes)


def test_a_passkey_is_registered_with_the_flows_challenge_once(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    live = live_session(container, tenant, account)
    flow = start(container, runner, tenant, live, FactorIntent.ADD_PASSKEY)
    assert flow.state is FactorsState.REGISTER_PASSKEY and flow.context.passkey_options
    options = json.loads(flow.context.passkey_options)
    device = SoftAuthenticator(ORIGIN)
    forged = device.register({**options, "challenge": "A" * 86})
    refused = step(container, runner, tenant, flow, live, {"credential": forged})
    assert refused.flow.context.error == "passkey_refused"
    assert refused.flow.context.passkey_challenge != flow.context.passkey_challenge
    # The first challenge is spent: its genuine answer no longer registers anything.
    late = step(container, runner, tenant, refused.flow, live, {"credential": device.register(options)})
    assert late.flow.context.error == "passkey_refused" and container.factors.factors(account.id) == []
    current = json.loads(late.flow.context.passkey_options or "{}")
    done = step(container, runner, tenant, late.flow, live, {"credential": device.register(current), "label": "Clé"})
    assert done.flow.state is FactorsState.DONE
    [factor] = container.factors.factors(account.id)
    assert factor.kind is FactorKind.PASSKEY and factor.label == "Clé"


def test_removal_needs_the_accounts_own_factor(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    live = live_session(container, tenant, account)
    codes_flow = start(container, runner, tenant, live, FactorIntent.RECOVERY_CODES)
    step(container, runner, tenant, codes_flow, live, {})
    [factor] = container.factors.factors(account.id)
    other = container.accounts.create(
        tenant, NewAccount(email="autre@example.fr", given_name="A", family_name="B", verified=True), PASSWORD, CTX
    )
    other_live = live_session(container, tenant, other)
    stolen = start(container, runner, tenant, other_live, FactorIntent.REMOVE, factor_id=factor.id)
    assert stolen.state is FactorsState.BEGIN  # refused: not the other account's factor
    flow = start(container, runner, tenant, live, FactorIntent.REMOVE, factor_id=factor.id)
    assert flow.state is FactorsState.CONFIRM_REMOVAL and flow.context.factor_kind == "recovery_codes"
    done = step(container, runner, tenant, flow, live, {})
    assert done.flow.state is FactorsState.DONE and container.factors.factors(account.id) == []
    assert templates(container)[0] == "second_factor_removed"


def test_another_account_cannot_continue_the_flow(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    live = live_session(container, tenant, account)
    flow = start(container, runner, tenant, live, FactorIntent.ADD_TOTP)
    other = container.accounts.create(
        tenant, NewAccount(email="autre@example.fr", given_name="A", family_name="B", verified=True), PASSWORD, CTX
    )
    with pytest.raises(FlowNotFound):
        step(container, runner, tenant, flow, live_session(container, tenant, other), {"code": "123456"})


def test_a_kind_the_tenant_does_not_offer_cannot_be_added(
    container: Container, runner: FlowRunner, account: Account
) -> None:
    container.tenants.update_policy("laposte", {"mfa": {"second_factors": ["totp"]}})
    tenant = container.tenants.get("laposte")
    live = live_session(container, tenant, account)
    flow = start(container, runner, tenant, live, FactorIntent.ADD_PASSKEY)
    assert flow.state is FactorsState.BEGIN and flow.context.passkey_challenge is None

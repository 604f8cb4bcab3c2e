"""The login flow's second factor and passkey login, through the flow runner on the real database.

After a right password, an account with an app or a passkey goes to SECOND_FACTOR; the session
opens only after a code, a key or a recovery code, with the methods in its amr (RFC 8176).
Wrong codes are counted by the tenant's lockout policy; a passkey challenge is used once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import pyotp
import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.login.flow import LOGIN
from sesame.flows.login.states import LoginContext, LoginState
from sesame.flows.login.steps import EXTRAS_KEY, LoginServices
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.password_change import PasswordChangeService
from sesame.services.sessions import session_id_of
from sesame.services.throttling import Throttle
from tests.methods.totp_support import wrong_code
from tests.methods.webauthn_support import SoftAuthenticator

BROWSER = "browser-cookie-value-2fa"
PASSWORD = "Sesame-Login-2026!"
EMAIL = "paul.renard@example.fr"
ORIGIN = "https://testserver"
CTX = RequestContext(actor="test")

LoginFlow = Flow[LoginState, LoginContext]


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def runner(container: Container) -> FlowRunner:
    return FlowRunner(container.uow, container.clock)


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=EMAIL, given_name="Paul", family_name="Renard", verified=True)
    return container.accounts.create(tenant, new, PASSWORD, CTX)


def services(container: Container) -> LoginServices:
    return LoginServices(
        authenticator=container.authenticator,
        tokens=container.tokens,
        passwords=PasswordChangeService(
            container.uow, container.clock, container.hasher, container.password_rules, base_url=ORIGIN
        ),
        resend_throttle=Throttle(container.counters, container.clock),
        factors=container.factors,
        request=RequestContext(ip="192.0.2.44", user_agent="pytest", correlation_id="test-2fa"),
        base_url=ORIGIN,
        session_token=secrets.token_urlsafe(32),
    )


def submit(
    container: Container,
    runner: FlowRunner,
    tenant: Tenant,
    flow: LoginFlow,
    data: Mapping[str, str],
    login: LoginServices | None = None,
) -> SubmitResult[LoginState, LoginContext]:
    extras: dict[str, Any] = {EXTRAS_KEY: login or services(container)}
    return runner.submit(LOGIN, tenant, flow.id, BROWSER, data, extras=extras)


def password_step(container: Container, runner: FlowRunner, tenant: Tenant) -> LoginFlow:
    flow = runner.start(LOGIN, tenant, BROWSER)
    result = submit(container, runner, tenant, flow, {"identifier": EMAIL, "password": PASSWORD})
    assert result.ok
    return result.flow


def enrol_totp(container: Container, tenant: Tenant, account: Account) -> str:
    factors = container.factors
    sealed = factors.new_totp_seed()
    seed = factors.totp_enrolment(tenant, account, sealed).secret_text.replace(" ", "")
    with container.uow() as uow:
        assert factors.add_totp(uow, tenant, account, sealed, pyotp.TOTP(seed).at(container.clock.now()), "", CTX)
        uow.commit()
    container.clock.advance(seconds=30)  # type: ignore[attr-defined]
    return seed


def enrol_passkey(container: Container, tenant: Tenant, account: Account, device: SoftAuthenticator) -> None:
    factors = container.factors
    challenge = factors.registration_challenge(tenant, account)
    with container.uow() as uow:
        response = device.register(json.loads(challenge.options_json))
        factors.add_passkey(uow, tenant, account, response, challenge.value, "", CTX)
        uow.commit()


def make_codes(container: Container, tenant: Tenant, account: Account) -> list[str]:
    with container.uow() as uow:
        codes = container.factors.regenerate_recovery_codes(uow, tenant, account, CTX)
        uow.commit()
    return codes


def session_amr(container: Container, flow: LoginFlow) -> list[str]:
    assert flow.context.session_id is not None
    with container.uow(readonly=True) as uow:
        session = uow.accounts.get_session(flow.context.session_id)
    assert session is not None
    return session.amr


def audit_details(container: Container, tenant: Tenant, event: str) -> list[dict[str, Any]]:
    with container.uow(readonly=True) as uow:
        return [dict(r.event.details) for r in uow.audit.chain(tenant.id) if r.event.type == event]


# -- the second factor ---------------------------------------------------------------------------------


def test_without_a_factor_the_password_is_enough(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    flow = password_step(container, runner, tenant)
    assert flow.state is LoginState.DONE and session_amr(container, flow) == ["pwd"]


def test_an_app_code_after_the_password_opens_a_two_factor_session(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    seed = enrol_totp(container, tenant, account)
    make_codes(container, tenant, account)
    flow = password_step(container, runner, tenant)
    assert flow.state is LoginState.SECOND_FACTOR and flow.context.session_id is None
    assert flow.context.factor_kinds == ["totp", "recovery_codes"]
    assert flow.context.passkey_options is None  # no passkey: no WebAuthn challenge
    code = pyotp.TOTP(seed).at(container.clock.now())
    result = submit(container, runner, tenant, flow, {"action": "totp", "code": code})
    assert result.flow.state is LoginState.DONE
    assert session_amr(container, result.flow) == ["pwd", "otp", "mfa"]
    [succeeded] = audit_details(container, tenant, "login.succeeded")
    assert succeeded["second_factor"] == "totp" and succeeded["amr"] == ["pwd", "otp", "mfa"]


def test_a_wrong_code_stays_and_is_counted_by_the_lockout(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    seed = enrol_totp(container, tenant, account)
    flow = password_step(container, runner, tenant)
    max_failures = tenant.policy.lockout.max_failures
    wrong = wrong_code(seed, clock.now())
    for attempt in range(max_failures):
        result = submit(container, runner, tenant, flow, {"action": "totp", "code": wrong})
        flow = result.flow
        assert flow.state is LoginState.SECOND_FACTOR and flow.context.factor_error_kind == "totp"
        assert flow.context.factor_error == ("wrong" if attempt < max_failures - 1 else "suspended")
    assert flow.context.retry_at is not None
    # Suspended: even the right code is refused until the end of the suspension.
    right = pyotp.TOTP(seed).at(clock.now())
    assert submit(container, runner, tenant, flow, {"action": "totp", "code": right}).flow.context.factor_error == (
        "suspended"
    )
    assert len(audit_details(container, tenant, "login.second_factor_failed")) == max_failures


def test_a_new_login_with_the_password_does_not_reset_the_second_factor_count(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    wrong = wrong_code(enrol_totp(container, tenant, account), container.clock.now())
    max_failures = tenant.policy.lockout.max_failures
    for _ in range(max_failures - 1):
        flow = password_step(container, runner, tenant)
        assert submit(container, runner, tenant, flow, {"action": "totp", "code": wrong}).flow.context.factor_error == (
            "wrong"
        )
    flow = password_step(container, runner, tenant)
    assert submit(container, runner, tenant, flow, {"action": "totp", "code": wrong}).flow.context.factor_error == (
        "suspended"
    )


def test_a_replayed_code_is_refused(container: Container, runner: FlowRunner, tenant: Tenant, account: Account) -> None:
    seed = enrol_totp(container, tenant, account)
    code = pyotp.TOTP(seed).at(container.clock.now())
    first = password_step(container, runner, tenant)
    assert submit(container, runner, tenant, first, {"action": "totp", "code": code}).flow.state is LoginState.DONE
    second = password_step(container, runner, tenant)
    result = submit(container, runner, tenant, second, {"action": "totp", "code": code})
    assert result.flow.state is LoginState.SECOND_FACTOR and result.flow.context.factor_error == "wrong"


def test_a_recovery_code_finishes_the_login_once(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    enrol_totp(container, tenant, account)
    codes = make_codes(container, tenant, account)
    flow = password_step(container, runner, tenant)
    result = submit(container, runner, tenant, flow, {"action": "recovery_code", "recovery_code": codes[0]})
    assert result.flow.state is LoginState.DONE and session_amr(container, result.flow) == ["pwd", "otp", "mfa"]
    again = password_step(container, runner, tenant)
    refused = submit(container, runner, tenant, again, {"action": "recovery_code", "recovery_code": codes[0]})
    assert refused.flow.context.factor_error == "wrong"


def test_a_passkey_as_second_factor_uses_its_challenge_once(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    device = SoftAuthenticator(ORIGIN)
    enrol_passkey(container, tenant, account, device)
    flow = password_step(container, runner, tenant)
    assert flow.state is LoginState.SECOND_FACTOR and flow.context.factor_kinds == ["passkey"]
    assert flow.context.passkey_options is not None
    options = json.loads(flow.context.passkey_options)
    assert options["challenge"] == flow.context.passkey_challenge and len(options["allowCredentials"]) == 1
    # A response for another challenge is refused, and the challenge is replaced.
    stale = device.assertion({**options, "challenge": "A" * 86})
    refused = submit(container, runner, tenant, flow, {"action": "passkey", "credential": stale})
    assert refused.flow.context.factor_error == "wrong"
    assert refused.flow.context.passkey_challenge not in (None, flow.context.passkey_challenge)
    # The first challenge is gone: its answer no longer counts either.
    late = device.assertion(options)
    assert submit(container, runner, tenant, refused.flow, {"action": "passkey", "credential": late}).flow.state is (
        LoginState.SECOND_FACTOR
    )
    current = runner.load(LOGIN, tenant, flow.id)
    assert current.context.passkey_options is not None
    answer = device.assertion(json.loads(current.context.passkey_options))
    result = submit(container, runner, tenant, current, {"action": "passkey", "credential": answer})
    assert result.flow.state is LoginState.DONE and session_amr(container, result.flow) == ["pwd", "hwk", "mfa"]
    assert result.flow.context.passkey_challenge is None


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"action": "required"}),
        ({"action": "sms"}, {"action": "required"}),
        ({"action": "passkey", "credential": "{}"}, {"action": "required"}),  # the account has no passkey
        ({"action": "totp"}, {"code": "required"}),
        ({"action": "totp", "code": "1" * 40}, {"code": "invalid"}),
        ({"action": "recovery_code", "recovery_code": ""}, {"recovery_code": "required"}),
    ],
)
def test_bad_second_factor_input_is_refused_without_counting(
    container: Container,
    runner: FlowRunner,
    tenant: Tenant,
    account: Account,
    data: dict[str, str],
    errors: dict[str, str],
) -> None:
    enrol_totp(container, tenant, account)
    make_codes(container, tenant, account)
    flow = password_step(container, runner, tenant)
    result = submit(container, runner, tenant, flow, data)
    assert dict(result.errors) == errors and result.flow.state is LoginState.SECOND_FACTOR
    assert audit_details(container, tenant, "login.second_factor_failed") == []


def test_the_tenant_may_not_ask_for_the_second_factor(
    container: Container, runner: FlowRunner, account: Account
) -> None:
    container.tenants.update_policy("laposte", {"mfa": {"require_when_enrolled": False}})
    tenant = container.tenants.get("laposte")
    enrol_totp(container, tenant, account)
    assert password_step(container, runner, tenant).state is LoginState.DONE


def test_the_second_factor_comes_before_a_forced_password_change(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    seed = enrol_totp(container, tenant, account)
    container.accounts.flag_password_change(tenant, EMAIL, "fraud", CTX)
    flow = password_step(container, runner, tenant)
    assert flow.state is LoginState.SECOND_FACTOR
    result = submit(
        container, runner, tenant, flow, {"action": "totp", "code": pyotp.TOTP(seed).at(container.clock.now())}
    )
    assert result.flow.state is LoginState.CHANGE_PASSWORD


# -- passkey instead of the password ------------------------------------------------------------------


def test_a_passkey_logs_in_without_password_in_one_step(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    device = SoftAuthenticator(ORIGIN)
    enrol_passkey(container, tenant, account, device)
    enrol_totp(container, tenant, account)  # a passkey that verified the person needs nothing more
    challenge = container.factors.passwordless_challenge(tenant)
    flow = runner.start(
        LOGIN,
        tenant,
        BROWSER,
        context=LoginContext(passkey_challenge=challenge.value, passkey_options=challenge.options_json),
    )
    login = services(container)
    response = device.assertion(json.loads(challenge.options_json))
    result = submit(container, runner, tenant, flow, {"action": "passkey", "credential": response}, login)
    assert result.flow.state is LoginState.DONE
    assert result.flow.context.session_id == session_id_of(login.session_token)
    assert session_amr(container, result.flow) == ["hwk", "mfa"]
    [succeeded] = audit_details(container, tenant, "login.succeeded")
    assert succeeded["method"] == "passkey"


def test_a_refused_passkey_login_renews_the_challenge(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    device = SoftAuthenticator(ORIGIN, user_verifying=False)  # presence only: not enough alone
    enrol_passkey(container, tenant, account, device)
    challenge = container.factors.passwordless_challenge(tenant)
    flow = runner.start(
        LOGIN,
        tenant,
        BROWSER,
        context=LoginContext(passkey_challenge=challenge.value, passkey_options=challenge.options_json),
    )
    response = device.assertion(json.loads(challenge.options_json))
    result = submit(container, runner, tenant, flow, {"action": "passkey", "credential": response})
    assert result.flow.state is LoginState.CREDENTIALS and result.flow.context.factor_error == "wrong"
    assert result.flow.context.passkey_challenge not in (None, challenge.value)
    assert result.flow.context.account_id is None


def test_a_passkey_login_without_challenge_or_answer_is_refused(
    container: Container, runner: FlowRunner, tenant: Tenant, account: Account
) -> None:
    device = SoftAuthenticator(ORIGIN)
    enrol_passkey(container, tenant, account, device)
    flow = runner.start(LOGIN, tenant, BROWSER)  # no challenge was drawn for this flow
    assert dict(submit(container, runner, tenant, flow, {"action": "passkey"}).errors) == {"passkey": "required"}
    options = json.loads(container.factors.passwordless_challenge(tenant).options_json)
    result = submit(container, runner, tenant, flow, {"action": "passkey", "credential": device.assertion(options)})
    assert result.flow.state is LoginState.CREDENTIALS and result.flow.context.factor_error == "wrong"


def test_a_tenant_without_passkeys_refuses_a_passkey_login(
    container: Container, runner: FlowRunner, account: Account
) -> None:
    container.tenants.update_policy("laposte", {"mfa": {"second_factors": ["totp", "recovery_codes"]}})
    tenant = container.tenants.get("laposte")
    flow = runner.start(LOGIN, tenant, BROWSER)
    result = submit(container, runner, tenant, flow, {"action": "passkey", "credential": "{}"})
    assert dict(result.errors) == {"passkey": "unavailable"}

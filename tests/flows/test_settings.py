"""The settings flow (password change from the account page) through the flow runner."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import FlowNotFound
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.settings import steps
from sesame.flows.settings.flow import SETTINGS
from sesame.flows.settings.states import SettingsContext, SettingsState
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import list_messages
from sesame.services.password_change import PasswordChangeService
from sesame.services.sessions import LiveSession, OpenedSession
from sesame.services.settings import AccountSettings

BROWSER = "browser-cookie-of-the-settings-tests"
PASSWORD = "Current-Pass-2026"
NEW_PASSWORD = "Brand-New-Pass-77"
CONTEXT = RequestContext(ip="192.0.2.44", correlation_id="corr-flow", actor="account:test")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email="hugo.bernard@example.fr", given_name="Hugo", family_name="Bernard", verified=True)
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def open_session(container: Container, tenant: Tenant, account: Account) -> OpenedSession:
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="192.0.2.44", user_agent="t"
        )
        uow.commit()
    return opened


def extras(container: Container, live: LiveSession) -> Mapping[str, Any]:
    return {
        steps.LIVE: live,
        steps.CONTEXT: CONTEXT,
        steps.SETTINGS: AccountSettings(
            container.uow,
            container.clock,
            hasher=container.hasher,
            rules=container.password_rules,
            counters=container.counters,
            keyed=container.keyed,
        ),
        steps.PASSWORD_CHANGE: PasswordChangeService(
            container.uow, container.clock, container.hasher, container.password_rules, base_url="https://testserver"
        ),
    }


class Journey:
    """One browser's password change: the flow, the session it runs under."""

    def __init__(self, container: Container, tenant: Tenant, account: Account) -> None:
        self.container, self.tenant = container, tenant
        self.opened = open_session(container, tenant, account)
        live = container.sessions.resolve(tenant, self.opened.token)
        assert live is not None
        self.live = live
        self.runner = FlowRunner(container.uow, container.clock)
        self.flow: Flow[SettingsState, SettingsContext] = self.runner.start(
            SETTINGS, tenant, BROWSER, context=SettingsContext(account_id=account.id)
        )

    def submit(self, live: LiveSession | None = None, **data: str) -> SubmitResult[SettingsState, SettingsContext]:
        return self.runner.submit(
            SETTINGS,
            self.tenant,
            self.flow.id,
            BROWSER,
            data,
            expected_state=SettingsState.CHANGE_PASSWORD.value,
            extras=extras(self.container, live or self.live),
        )

    def change(
        self, current: str = PASSWORD, new: str = NEW_PASSWORD, confirm: str | None = None
    ) -> SubmitResult[Any, Any]:
        return self.submit(
            current_password=current, new_password=new, new_password_confirm=new if confirm is None else confirm
        )


def audit_types(container: Container, tenant: Tenant) -> list[str]:
    with container.uow(readonly=True) as uow:
        return [r.event.type for r in uow.audit.chain(tenant.id)]


def login(container: Container, tenant: Tenant, password: str) -> AuthStatus:
    return container.authenticator.authenticate(tenant, "hugo.bernard@example.fr", password, CONTEXT).status


def test_changing_the_password(container: Container, tenant: Tenant, account: Account) -> None:
    elsewhere = open_session(container, tenant, account)
    journey = Journey(container, tenant, account)
    result = journey.change()
    assert result.ok and result.flow.state is SettingsState.DONE
    assert result.flow.context.sessions_ended == 1
    assert container.sessions.resolve(tenant, elsewhere.token) is None  # the other browser is logged out
    assert container.sessions.resolve(tenant, journey.opened.token) is not None  # this one stays
    assert login(container, tenant, NEW_PASSWORD) is AuthStatus.OK
    assert login(container, tenant, PASSWORD) is AuthStatus.INVALID
    [mail] = [m for m in list_messages(container.uow) if m.message.template == "password_changed"]
    assert mail.message.recipient == "hugo.bernard@example.fr"
    assert "password.changed" in audit_types(container, tenant)
    with container.uow(readonly=True) as uow:
        details = json.dumps([r.event.details for r in uow.audit.chain(tenant.id)])
    assert PASSWORD not in details and NEW_PASSWORD not in details


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"current_password": "required", "new_password": "required", "new_password_confirm": "required"}),
        (
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": "Other-Pass-77"},
            {"new_password_confirm": "mismatch"},
        ),
        (
            {"current_password": PASSWORD, "new_password": PASSWORD, "new_password_confirm": PASSWORD},
            {"new_password": "unchanged"},
        ),
        (
            {"current_password": PASSWORD, "new_password": "weak", "new_password_confirm": "weak"},
            {"new_password": "policy", "new_password_rules": "min_length,upper,digit"},
        ),
        (
            {"current_password": PASSWORD, "new_password": "x" * 2000, "new_password_confirm": "x" * 2000},
            {"new_password": "too_long"},
        ),
        (
            {"current_password": "", "new_password": "Password1", "new_password_confirm": "Password1"},
            {"current_password": "required", "new_password": "policy", "new_password_rules": "not_blocklisted"},
        ),
    ],
)
def test_form_errors_are_all_reported_and_use_no_attempt(
    container: Container, tenant: Tenant, account: Account, data: dict[str, str], errors: dict[str, str]
) -> None:
    journey = Journey(container, tenant, account)
    result = journey.submit(**data)
    assert dict(result.errors) == errors
    assert result.flow.record.attempts == 0 and result.flow.state is SettingsState.CHANGE_PASSWORD
    assert login(container, tenant, PASSWORD) is AuthStatus.OK  # nothing changed, nothing counted
    assert "password.change_refused" not in audit_types(container, tenant)


def test_a_wrong_current_password_uses_an_attempt_and_is_audited(
    container: Container, tenant: Tenant, account: Account
) -> None:
    journey = Journey(container, tenant, account)
    result = journey.change(current="Not-My-Password-1")
    assert dict(result.errors) == {"current_password": "wrong"}
    assert result.flow.record.attempts == 1
    assert audit_types(container, tenant).count("password.change_refused") == 1
    assert login(container, tenant, NEW_PASSWORD) is AuthStatus.INVALID  # not changed


def test_wrong_current_passwords_suspend_like_wrong_logins(
    container: Container, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    journey = Journey(container, tenant, account)
    for _ in range(tenant.policy.lockout.max_failures - 1):
        assert journey.change(current="Guess-1").errors == {"current_password": "wrong"}
    assert journey.change(current="Guess-1").errors == {"current_password": "suspended", "retry_minutes": "15"}
    clock.advance(minutes=5)
    wait = journey.change().errors  # the right one must wait too
    assert wait == {"current_password": "suspended", "retry_minutes": "10"}
    assert login(container, tenant, PASSWORD) is AuthStatus.SUSPENDED
    clock.advance(seconds=tenant.policy.lockout.suspension_seconds + 1)
    assert journey.change().flow.state is SettingsState.DONE


def test_a_weak_password_is_refused_with_the_rules_of_the_nist_tenant(container: Container) -> None:
    load_demo(container.tenants)
    tenant = container.tenants.get("poste-ch")
    new = NewAccount(email="anna@example.ch", given_name="Anna", family_name="Muster", verified=True)
    account = container.accounts.create(tenant, new, "A long passphrase of 2026", RequestContext(actor="test"))
    journey = Journey(container, tenant, account)
    result = journey.change(current="A long passphrase of 2026", new="Short-Pass-1")
    assert dict(result.errors) == {"new_password": "policy", "new_password_rules": "min_length"}


def test_another_account_cannot_continue_the_flow(container: Container, tenant: Tenant, account: Account) -> None:
    journey = Journey(container, tenant, account)
    new = NewAccount(email="mallory@example.fr", given_name="Mallory", family_name="Evil", verified=True)
    mallory = container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))
    mallory_session = container.sessions.resolve(tenant, open_session(container, tenant, mallory).token)
    assert mallory_session is not None
    with pytest.raises(FlowNotFound):
        journey.submit(
            live=mallory_session,
            current_password=PASSWORD,
            new_password=NEW_PASSWORD,
            new_password_confirm=NEW_PASSWORD,
        )
    assert login(container, tenant, PASSWORD) is AuthStatus.OK


def test_a_double_submit_changes_the_password_once(container: Container, tenant: Tenant, account: Account) -> None:
    journey = Journey(container, tenant, account)
    assert journey.change().flow.state is SettingsState.DONE
    again = journey.change(new="Yet-Another-Pass-88")
    assert again.ok and again.flow.state is SettingsState.DONE
    assert login(container, tenant, NEW_PASSWORD) is AuthStatus.OK
    assert audit_types(container, tenant).count("password.changed") == 1

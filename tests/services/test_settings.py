"""The account page's use cases: overview, consents, sessions, the current password checked again."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.audit import AuditRecord
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.sessions import LiveSession, OpenedSession
from sesame.services.settings import AccountSettings, PasswordCheckStatus

PASSWORD = "Settings-Test-2026"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Safari/604.1"
CONTEXT = RequestContext(ip="192.0.2.7", user_agent=FIREFOX, correlation_id="corr-settings", actor="account:test")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


def make_account(container: Container, tenant: Tenant, email: str = "lea.petit@example.fr") -> Account:
    new = NewAccount(email=email, given_name="Léa", family_name="Petit", verified=True, terms_version="1")
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def open_session(container: Container, tenant: Tenant, account: Account, user_agent: str = FIREFOX) -> OpenedSession:
    with container.uow() as uow:
        opened = container.sessions.open(
            uow,
            account,
            tenant,
            container.clock.now(),
            acr="eidas1",
            amr=["pwd"],
            ip="192.0.2.7",
            user_agent=user_agent,
        )
        uow.commit()
    return opened


def live(container: Container, tenant: Tenant, opened: OpenedSession) -> LiveSession:
    found = container.sessions.resolve(tenant, opened.token)
    assert found is not None
    return found


def service(container: Container) -> AccountSettings:
    return AccountSettings(
        container.uow,
        container.clock,
        hasher=container.hasher,
        rules=container.password_rules,
        counters=container.counters,
        keyed=container.keyed,
    )


def audit(container: Container, tenant: Tenant, prefix: str) -> Sequence[AuditRecord]:
    with container.uow(readonly=True) as uow:
        return [r for r in uow.audit.chain(tenant.id) if r.event.type.startswith(prefix)]


# -- overview ---------------------------------------------------------------------------------------


def test_overview_shows_the_profile_and_the_live_sessions_current_first(
    container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    account = make_account(container, tenant)
    phone = open_session(container, tenant, account, IPHONE)
    clock.advance(minutes=5)
    here = open_session(container, tenant, account, FIREFOX)
    stranger = open_session(container, tenant, make_account(container, tenant, "other@example.fr"))
    overview = service(container).overview(tenant, live(container, tenant, here))
    assert overview.profile.email == "lea.petit@example.fr" and overview.profile.email_verified_at is not None
    assert overview.profile.terms_version == "1" and overview.profile.has_password
    assert [s.current for s in overview.sessions] == [True, False]
    assert overview.other_sessions == 1
    assert overview.sessions[0].device.browser == "Firefox" and overview.sessions[0].device.system == "Windows"
    assert overview.sessions[1].device.system == "iOS" and overview.sessions[1].ip == "192.0.2.7"
    handles = {s.handle for s in overview.sessions}
    assert service(container).session_handle(phone.session.id) in handles
    assert service(container).session_handle(stranger.session.id) not in handles
    assert phone.session.id not in json.dumps([s.handle for s in overview.sessions])  # never the database key


def test_overview_leaves_out_expired_sessions(container: Container, tenant: Tenant, clock: FrozenClock) -> None:
    account = make_account(container, tenant)
    open_session(container, tenant, account, IPHONE)
    clock.advance(seconds=tenant.policy.session.idle_timeout_seconds + 1)  # the phone went idle too long
    here = open_session(container, tenant, account)
    overview = service(container).overview(tenant, live(container, tenant, here))
    assert [s.current for s in overview.sessions] == [True]


# -- consents -----------------------------------------------------------------------------------------


def test_consents_are_saved_with_their_times_and_audited(
    container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    account = make_account(container, tenant)
    session = live(container, tenant, open_session(container, tenant, account))
    settings = service(container)
    assert settings.set_consents(tenant, session, marketing_email=True, marketing_partners=False, context=CONTEXT) == [
        "marketing_email"
    ]
    first = clock.now()
    clock.advance(hours=1)
    changed = settings.set_consents(tenant, session, marketing_email=True, marketing_partners=True, context=CONTEXT)
    assert changed == ["marketing_partners"]
    stored = container.accounts.find(tenant, account.email or "")
    assert stored.marketing_email and stored.marketing_email_changed_at == first
    assert stored.marketing_partners and stored.marketing_partners_changed_at == clock.now()
    events = audit(container, tenant, "account.consents_changed")
    assert [e.event.details for e in events] == [{"marketing_email": True}, {"marketing_partners": True}]
    assert events[0].event.actor == "account:test" and events[0].event.subject == f"account:{account.id}"


def test_the_same_choice_twice_changes_and_records_nothing(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    session = live(container, tenant, open_session(container, tenant, account))
    settings = service(container)
    assert (
        settings.set_consents(tenant, session, marketing_email=False, marketing_partners=False, context=CONTEXT) == []
    )
    assert audit(container, tenant, "account.consents_changed") == []
    assert container.accounts.find(tenant, account.email or "").marketing_email_changed_at is None


# -- sessions -------------------------------------------------------------------------------------------


def test_ending_another_session_logs_that_browser_out(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    phone = open_session(container, tenant, account, IPHONE)
    here_opened = open_session(container, tenant, account)
    here = live(container, tenant, here_opened)
    settings = service(container)
    assert settings.end_session(tenant, here, settings.session_handle(phone.session.id), CONTEXT)
    assert container.sessions.resolve(tenant, phone.token) is None
    assert container.sessions.resolve(tenant, here_opened.token) is not None
    [event] = audit(container, tenant, "session.ended")
    assert event.event.subject == f"account:{account.id}" and event.event.details["by"] == "user"
    # Again: already over, nothing more happens.
    assert not settings.end_session(tenant, here, settings.session_handle(phone.session.id), CONTEXT)
    assert len(audit(container, tenant, "session.ended")) == 1


@pytest.mark.parametrize("kind", ["other_account", "current", "garbage", "empty", "overlong"])
def test_ending_a_session_that_is_not_another_of_mine_does_nothing(
    container: Container, tenant: Tenant, kind: str
) -> None:
    account = make_account(container, tenant)
    here_opened = open_session(container, tenant, account)
    here = live(container, tenant, here_opened)
    stranger = open_session(container, tenant, make_account(container, tenant, "other@example.fr"))
    settings = service(container)
    handle = {
        "other_account": settings.session_handle(stranger.session.id),
        "current": settings.session_handle(here.session.id),
        "garbage": "not-a-handle",
        "empty": "",
        "overlong": "a" * 10_000,
    }[kind]
    assert settings.end_session(tenant, here, handle, CONTEXT) is False
    assert container.sessions.resolve(tenant, stranger.token) is not None
    assert container.sessions.resolve(tenant, here_opened.token) is not None
    assert audit(container, tenant, "session.") == []


def test_ending_all_other_sessions_keeps_this_one(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    others = [open_session(container, tenant, account, IPHONE) for _ in range(3)]
    here_opened = open_session(container, tenant, account)
    stranger = open_session(container, tenant, make_account(container, tenant, "other@example.fr"))
    settings = service(container)
    assert settings.end_other_sessions(tenant, live(container, tenant, here_opened), CONTEXT) == 3
    assert all(container.sessions.resolve(tenant, o.token) is None for o in others)
    assert container.sessions.resolve(tenant, here_opened.token) is not None
    assert container.sessions.resolve(tenant, stranger.token) is not None
    [event] = audit(container, tenant, "session.ended_others")
    assert event.event.details == {"count": 3}
    assert settings.end_other_sessions(tenant, live(container, tenant, here_opened), CONTEXT) == 0
    assert len(audit(container, tenant, "session.ended_others")) == 1  # nothing ended, nothing recorded


# -- the current password -----------------------------------------------------------------------------


def test_the_current_password_is_checked(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    settings = service(container)
    assert settings.check_current_password(tenant, account, PASSWORD).ok
    assert settings.check_current_password(tenant, account, "Wrong-Password-1").status is PasswordCheckStatus.WRONG
    assert settings.check_current_password(tenant, account, "").status is PasswordCheckStatus.WRONG


def test_wrong_current_passwords_count_with_the_logins(
    container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    """The account page is no way around the lockout: its failures and the login's add up."""
    account = make_account(container, tenant)
    settings = service(container)
    max_failures = tenant.policy.lockout.max_failures  # 5 at laposte
    for _ in range(max_failures - 1):
        assert settings.check_current_password(tenant, account, "Wrong-1").status is PasswordCheckStatus.WRONG
    outcome = container.authenticator.authenticate(tenant, account.email or "", "Wrong-2", CONTEXT)
    assert outcome.status is AuthStatus.SUSPENDED  # the login's failure was the 5th
    check = settings.check_current_password(tenant, account, PASSWORD)  # even the right one waits now
    assert check.status is PasswordCheckStatus.SUSPENDED and check.retry_at is not None
    clock.advance(seconds=tenant.policy.lockout.suspension_seconds + 1)
    assert settings.check_current_password(tenant, account, PASSWORD).ok


def test_the_threshold_reached_on_the_account_page_suspends_the_login(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    settings = service(container)
    statuses = [
        settings.check_current_password(tenant, account, "Wrong-1").status
        for _ in range(tenant.policy.lockout.max_failures)
    ]
    assert statuses[-1] is PasswordCheckStatus.SUSPENDED and set(statuses[:-1]) == {PasswordCheckStatus.WRONG}
    outcome = container.authenticator.authenticate(tenant, account.email or "", PASSWORD, CONTEXT)
    assert outcome.status is AuthStatus.SUSPENDED


def test_a_right_password_forgets_earlier_failures(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    settings = service(container)
    for _ in range(tenant.policy.lockout.max_failures - 1):
        settings.check_current_password(tenant, account, "Wrong-1")
    assert settings.check_current_password(tenant, account, PASSWORD).ok
    assert settings.check_current_password(tenant, account, "Wrong-1").status is PasswordCheckStatus.WRONG


def test_refusals_are_audited_without_the_password(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    settings = service(container)
    check = settings.check_current_password(tenant, account, "Secret-Guess-99")
    with container.uow() as uow:
        settings.audit_refused(uow, tenant, "password.change_refused", account.id, check, CONTEXT)
        uow.commit()
    [event] = audit(container, tenant, "password.change_refused")
    assert event.event.details == {"reason": "password_wrong"}
    assert "Secret-Guess-99" not in json.dumps(event.event.details)


def test_password_problems_name_the_failed_rules(container: Container, tenant: Tenant) -> None:
    account = make_account(container, tenant)
    settings = service(container)
    assert settings.password_problems(tenant, account, "short") == ["min_length", "upper", "digit"]
    assert settings.password_problems(tenant, account, "lea.petit@example.fr") == ["upper", "digit", "not_personal"]
    assert "not_blocklisted" in settings.password_problems(tenant, account, "Password1")
    assert settings.password_problems(tenant, account, "Quite-Fine-2026") == []

"""AccountService: creation with the tenant's rules, and the support actions (lock, unlock, flag)."""

from __future__ import annotations

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, AccountStatus
from sesame.domain.errors import AlreadyExists, InvalidInput, NotFound, PolicyViolation
from sesame.domain.factors import FactorKind
from sesame.domain.tenants import Tenant
from sesame.domain.throttling import LockoutStatus
from sesame.services.accounts import NAME_MAX, NewAccount, clean_email, clean_name
from sesame.services.authentication import AuthStatus, lockout_key
from sesame.services.context import RequestContext
from sesame.services.demo import DEMO_PASSWORD, load_demo_accounts
from sesame.services.factors import FactorStatus, second_factor_key
from sesame.services.throttling import LockoutGuard
from tests.services.accounts_support import STRONG_PASSWORD, SUPPORT, audit_events, create_account, demo_tenant

EMAIL = "camille.martin@example.fr"
BROWSER = RequestContext(ip="198.51.100.7", user_agent="pytest")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return demo_tenant(container, "laposte")


def open_session(container: Container, tenant: Tenant, account: Account) -> str:
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="198.51.100.7", user_agent="x"
        )
        uow.commit()
    return opened.token


# -- creation --------------------------------------------------------------------------------------


def test_create(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    new = NewAccount(
        email="  Camille.Martin@Example.FR ",
        given_name="  Camille ",
        family_name="Martin   Durand",
        locale="en",
        terms_version="3",
        marketing_email=True,
    )
    account = container.accounts.create(tenant, new, STRONG_PASSWORD, SUPPORT)
    assert account.id > 0
    assert account.email == "Camille.Martin@example.fr"  # the domain lower-cased, the local part as typed
    assert (account.given_name, account.family_name, account.locale) == ("Camille", "Martin Durand", "en")
    assert (account.status, account.email_verified, account.password_change_required) == (
        AccountStatus.ACTIVE,
        False,
        False,
    )
    assert (account.terms_version, account.terms_accepted_at) == ("3", clock.now())
    assert (account.marketing_email, account.marketing_email_changed_at) == (True, clock.now())
    assert (account.marketing_partners, account.marketing_partners_changed_at) == (False, None)
    found = container.accounts.find(tenant, "camille.martin@EXAMPLE.fr")
    assert found.id == account.id
    with container.uow(readonly=True) as uow:
        (credential,) = uow.accounts.credentials(account.id)
    assert credential.kind == "password" and credential.secret_hash.startswith("$argon2id$")
    assert container.hasher.verify(credential.secret_hash, STRONG_PASSWORD)
    (event,) = audit_events(container, tenant, "account.created")
    assert (event.event.actor, event.event.subject, event.event.details) == (
        "support:alice",
        f"account:{account.id}",
        {"verified": False},
    )


def test_create_verified(container: Container, clock: FrozenClock, tenant: Tenant) -> None:
    account = create_account(container, tenant, verified=True)
    assert account.email_verified_at == clock.now()


def test_the_new_account_logs_in(container: Container, tenant: Tenant) -> None:
    create_account(container, tenant, EMAIL)
    assert container.authenticator.authenticate(tenant, EMAIL, STRONG_PASSWORD, BROWSER).ok


@pytest.mark.parametrize("email", [EMAIL, EMAIL.upper(), f"  {EMAIL}  ", "Camille.Martin@example.fr"])
def test_an_email_is_taken_whatever_its_case(container: Container, tenant: Tenant, email: str) -> None:
    create_account(container, tenant, EMAIL)
    with pytest.raises(AlreadyExists):
        create_account(container, tenant, email)
    assert len(audit_events(container, tenant, "account.created")) == 1


def test_the_same_email_in_two_tenants(container: Container) -> None:
    create_account(container, demo_tenant(container, "laposte"), EMAIL)
    other = create_account(container, demo_tenant(container, "poste-ch"), EMAIL)
    assert other.tenant_id == demo_tenant(container, "poste-ch").id


def test_a_weak_password_is_refused_with_its_rules(container: Container, tenant: Tenant) -> None:
    with pytest.raises(PolicyViolation) as raised:
        create_account(container, tenant, EMAIL, "password")
    assert raised.value.details["rules"] == ["upper", "digit", "not_blocklisted"]
    with pytest.raises(PolicyViolation) as raised:
        create_account(container, tenant, EMAIL, "Camille.Martin@example.fr")
    assert "not_personal" in raised.value.details["rules"]  # type: ignore[operator]
    with pytest.raises(NotFound):
        container.accounts.find(tenant, EMAIL)  # nothing was created


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "camille",
        "camille@",
        "@example.fr",
        "camille martin@example.fr",
        "x" * 250 + "@example.fr",
        "a@b@c.fr",
    ],
)
def test_bad_emails_are_refused(container: Container, tenant: Tenant, email: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        create_account(container, tenant, email)
    assert raised.value.details["field"] == "email"


@pytest.mark.parametrize(
    ("given_name", "reason"),
    [("", "required"), ("   ", "required"), ("x" * (NAME_MAX + 1), "invalid"), ("Ca\x00mille", "invalid")],
)
def test_bad_names_are_refused(container: Container, tenant: Tenant, given_name: str, reason: str) -> None:
    new = NewAccount(email=EMAIL, given_name=given_name, family_name="Martin")
    with pytest.raises(InvalidInput) as raised:
        container.accounts.create(tenant, new, STRONG_PASSWORD, SUPPORT)
    assert raised.value.details == {"field": "given_name", "reason": reason}
    with pytest.raises(InvalidInput) as family:
        container.accounts.create(tenant, NewAccount(EMAIL, "Camille", given_name), STRONG_PASSWORD, SUPPORT)
    assert family.value.details["field"] == "family_name"


def test_names_and_emails_are_cleaned() -> None:
    assert clean_name(" Jean-\tPaul \n Élodie ", "given_name") == "Jean- Paul Élodie"
    assert clean_name("x" * NAME_MAX, "given_name") == "x" * NAME_MAX
    assert clean_email(" anna.muster@EXAMPLE.ch ") == "anna.muster@example.ch"


def test_a_tenant_without_email_identifiers_has_no_such_accounts(container: Container) -> None:
    with pytest.raises(InvalidInput):
        create_account(container, demo_tenant(container, "banque"), EMAIL)


def test_unknown_accounts_are_not_found(container: Container, tenant: Tenant) -> None:
    for action in (
        lambda: container.accounts.find(tenant, EMAIL),
        lambda: container.accounts.lock(tenant, EMAIL, "fraud", SUPPORT),
        lambda: container.accounts.unlock(tenant, EMAIL, SUPPORT),
        lambda: container.accounts.flag_password_change(tenant, EMAIL, "fraud", SUPPORT),
    ):
        with pytest.raises(NotFound):
            action()


# -- support actions ----------------------------------------------------------------------------------


def test_lock_ends_sessions_and_logins(container: Container, tenant: Tenant) -> None:
    account = create_account(container, tenant, EMAIL)
    tokens = [open_session(container, tenant, account) for _ in range(2)]
    locked = container.accounts.lock(tenant, EMAIL.upper(), "fraud suspected", SUPPORT)
    assert (locked.status, locked.status_reason) == (AccountStatus.LOCKED, "fraud suspected")
    assert container.accounts.find(tenant, EMAIL).status is AccountStatus.LOCKED
    assert all(container.sessions.resolve(tenant, token) is None for token in tokens)
    assert container.sessions.list(account.id) == []
    outcome = container.authenticator.authenticate(tenant, EMAIL, STRONG_PASSWORD, BROWSER)
    assert outcome.status is AuthStatus.LOCKED
    (event,) = audit_events(container, tenant, "account.locked")
    assert event.event.details == {"reason": "fraud suspected", "sessions_ended": 2}
    assert event.event.actor == "support:alice"


def test_unlock_reopens_and_clears_suspensions(container: Container, tenant: Tenant) -> None:
    create_account(container, tenant, EMAIL)
    lockout = tenant.policy.lockout
    for _ in range(lockout.max_failures):
        container.authenticator.authenticate(tenant, EMAIL, "Wrong-Password-1", BROWSER)
    assert container.authenticator.authenticate(tenant, EMAIL, STRONG_PASSWORD, BROWSER).status is AuthStatus.SUSPENDED
    container.accounts.lock(tenant, EMAIL, "support", SUPPORT)
    unlocked = container.accounts.unlock(tenant, EMAIL, SUPPORT)
    assert (unlocked.status, unlocked.status_reason) == (AccountStatus.ACTIVE, None)
    state = LockoutGuard(container.counters, container.clock, lockout).check(lockout_key(tenant, EMAIL))
    assert (state.allowed, state.failures, state.suspensions) == (True, 0, 0)
    assert container.authenticator.authenticate(tenant, EMAIL, STRONG_PASSWORD, BROWSER).ok
    assert len(audit_events(container, tenant, "account.unlocked")) == 1


def test_flag_password_change(container: Container, tenant: Tenant) -> None:
    account = create_account(container, tenant, EMAIL)
    token = open_session(container, tenant, account)
    flagged = container.accounts.flag_password_change(tenant, EMAIL, "fraud", SUPPORT)
    assert flagged.password_change_required and flagged.profile_review_required
    stored = container.accounts.find(tenant, EMAIL)
    assert stored.password_change_required and stored.profile_review_required
    assert stored.status is AccountStatus.ACTIVE  # the person can still log in, to change it
    assert container.sessions.resolve(tenant, token) is None
    (event,) = audit_events(container, tenant, "account.password_change_required")
    assert event.event.details == {"reason": "fraud", "sessions_ended": 1}


def test_support_actions_touch_only_their_tenant(container: Container) -> None:
    laposte, poste_ch = demo_tenant(container, "laposte"), demo_tenant(container, "poste-ch")
    create_account(container, laposte, EMAIL)
    create_account(container, poste_ch, EMAIL)
    container.accounts.lock(laposte, EMAIL, "fraud", SUPPORT)
    assert container.accounts.find(poste_ch, EMAIL).status is AccountStatus.ACTIVE


def test_the_demo_accounts_meet_their_tenants_policy_and_log_in(container: Container) -> None:
    demo_tenant(container)
    created = load_demo_accounts(container.tenants, container.accounts)
    assert load_demo_accounts(container.tenants, container.accounts) == created  # idempotent
    assert [(slug, email) for slug, email, _ in created] == [
        ("laposte", "marie.dupont@example.fr"),
        ("poste-ch", "anna.muster@example.ch"),
    ]
    for slug, email, password in created:
        tenant = container.tenants.get(slug)
        assert password == DEMO_PASSWORD
        assert container.accounts.find(tenant, email).email_verified
        assert container.authenticator.authenticate(tenant, email, password, BROWSER).ok


def lock_second_factors(container: Container, tenant: Tenant, account_id: int) -> LockoutGuard:
    """Wrong second factors until the lockout cap locks them (suspensions waited out on the clock)."""
    clock = container.clock
    assert isinstance(clock, FrozenClock)
    guard = LockoutGuard(container.counters, clock, tenant.policy.lockout)
    key = second_factor_key(tenant, account_id)
    while (decision := guard.register_failure(key)).status is not LockoutStatus.LOCKED:
        if decision.suspended_until is not None:
            clock.set(decision.suspended_until)
    return guard


def test_unlock_also_lifts_the_second_factors_lock(container: Container, tenant: Tenant) -> None:
    """Support's unlock reopens the second factors the same way (``FactorService.unlock``)."""
    account = create_account(container, tenant, EMAIL)
    guard = lock_second_factors(container, tenant, account.id)
    key = second_factor_key(tenant, account.id)
    refused = container.factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, "123456", None, BROWSER)
    assert refused.status is FactorStatus.LOCKED
    container.accounts.unlock(tenant, EMAIL, SUPPORT)
    state = guard.check(key)
    assert (state.allowed, state.failures, state.suspensions) == (True, 0, 0)
    again = container.factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, "123456", None, BROWSER)
    assert again.status is FactorStatus.WRONG  # checked again (no app enrolled: wrong), no longer locked

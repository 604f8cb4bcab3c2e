"""The factors service on the real test database: enrolment, login use, lockout, removal, messages.

Codes are computed with pyotp as an authenticator app would; passkeys come from a software
authenticator with real keys (tests/methods/webauthn_support.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import AlreadyExists
from sesame.domain.factors import FactorKind, SecondFactor
from sesame.domain.tenants import Tenant
from sesame.methods.passkey import PasskeyRejected
from sesame.services.context import RequestContext
from sesame.services.factors import FactorService, FactorStatus
from sesame.services.outbox import list_messages
from tests.methods.totp_support import wrong_code
from tests.methods.webauthn_support import SoftAuthenticator
from tests.services.accounts_support import STRONG_PASSWORD, audit_events, create_account, demo_tenant

CTX = RequestContext(ip="192.0.2.20", user_agent="pytest", correlation_id="corr-factors", actor="account:me")
ORIGIN = "https://testserver"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return demo_tenant(container)


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    return create_account(container, tenant)


@pytest.fixture
def factors(container: Container) -> FactorService:
    return container.factors


def seed_of(factors: FactorService, tenant: Tenant, account: Account, sealed: str) -> str:
    return factors.totp_enrolment(tenant, account, sealed).secret_text.replace(" ", "")


def add_totp(container: Container, tenant: Tenant, account: Account, label: str = "Mon téléphone") -> str:
    """Enrol an app and return its seed (as the app would hold it)."""
    factors = container.factors
    sealed = factors.new_totp_seed()
    seed = seed_of(factors, tenant, account, sealed)
    with container.uow() as uow:
        code = pyotp.TOTP(seed).at(container.clock.now())
        assert factors.add_totp(uow, tenant, account, sealed, code, label, CTX) is not None
        uow.commit()
    return seed


def add_passkey(container: Container, tenant: Tenant, account: Account, device: SoftAuthenticator) -> SecondFactor:
    factors = container.factors
    challenge = factors.registration_challenge(tenant, account)
    with container.uow() as uow:
        factor = factors.add_passkey(
            uow, tenant, account, device.register(json.loads(challenge.options_json)), challenge.value, "", CTX
        )
        uow.commit()
    return factor


def make_codes(container: Container, tenant: Tenant, account: Account) -> list[str]:
    with container.uow() as uow:
        codes = container.factors.regenerate_recovery_codes(uow, tenant, account, CTX)
        uow.commit()
    return codes


def emails(container: Container, template: str) -> list[str]:
    return [m.message.body_text for m in list_messages(container.uow) if m.message.template == template]


def stored(container: Container, account: Account) -> Sequence[SecondFactor]:
    return container.factors.factors(account.id)


# -- TOTP ------------------------------------------------------------------------------------------


def test_an_app_is_stored_encrypted_after_its_first_code(
    container: Container, tenant: Tenant, account: Account
) -> None:
    seed = add_totp(container, tenant, account)
    [factor] = stored(container, account)
    assert factor.kind is FactorKind.TOTP and factor.label == "Mon téléphone"
    assert factor.secret_encrypted and seed not in factor.secret_encrypted
    assert factor.last_step == pyotp.TOTP(seed).timecode(container.clock.now())
    [body] = emails(container, "second_factor_added")
    assert "application d’authentification" in body and "Mon téléphone" in body and seed not in body
    [added] = audit_events(container, tenant, "factor.added")
    assert added.event.details == {"kind": "totp", "factor_id": factor.id}


def test_a_wrong_first_code_stores_nothing(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    sealed = factors.new_totp_seed()
    seed = seed_of(factors, tenant, account, sealed)
    wrong = pyotp.TOTP(seed).at(container.clock.now().timestamp() + 3600)
    with container.uow() as uow:
        assert factors.add_totp(uow, tenant, account, sealed, wrong, "", CTX) is None
        uow.commit()
    assert stored(container, account) == [] and emails(container, "second_factor_added") == []
    assert [r.event.type for r in audit_events(container, tenant, "factor.")] == ["factor.enrolment_refused"]


def test_the_enrolment_code_cannot_log_in_again(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    seed = add_totp(container, tenant, account)
    code = pyotp.TOTP(seed).at(container.clock.now())
    outcome = factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, code, None, CTX)
    assert outcome.status is FactorStatus.WRONG


def test_a_totp_code_logs_in_once(
    container: Container, clock: FrozenClock, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    seed = add_totp(container, tenant, account)
    clock.advance(seconds=30)
    code = pyotp.TOTP(seed).at(clock.now())
    outcome = factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, f"{code[:3]} {code[3:]}", None, CTX)
    assert outcome.ok and outcome.amr == ["otp"] and outcome.kind is FactorKind.TOTP
    assert stored(container, account)[0].last_used_at == clock.now()
    again = factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, code, None, CTX)
    assert again.status is FactorStatus.WRONG  # replayed: refused, and counted
    [failed] = audit_events(container, tenant, "login.second_factor_failed")
    assert failed.event.details["method"] == "totp" and code not in json.dumps(failed.event.details)


def test_parallel_logins_with_one_code_succeed_once(
    container: Container, clock: FrozenClock, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    seed = add_totp(container, tenant, account)
    clock.advance(seconds=30)
    code = pyotp.TOTP(seed).at(clock.now())
    barrier = threading.Barrier(8)

    def attempt(_: int) -> FactorStatus:
        barrier.wait()
        return factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, code, None, CTX).status

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert results.count(FactorStatus.OK) == 1


def test_wrong_codes_suspend_by_the_tenant_policy_and_a_password_does_not_clear_them(
    container: Container, clock: FrozenClock, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    seed = add_totp(container, tenant, account)
    policy = tenant.policy.lockout
    wrong = wrong_code(seed, clock.now())
    for attempt in range(policy.max_failures):
        # A correct password between wrong codes (a new login each time) must not reset the count.
        assert container.authenticator.authenticate(tenant, account.email or "", STRONG_PASSWORD, CTX).ok
        outcome = factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, wrong, None, CTX)
        expected = FactorStatus.WRONG if attempt < policy.max_failures - 1 else FactorStatus.SUSPENDED
        assert outcome.status is expected
    clock.advance(seconds=30)
    right = pyotp.TOTP(seed).at(clock.now())
    refused = factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, right, None, CTX)
    assert refused.status is FactorStatus.SUSPENDED and refused.retry_at is not None
    clock.set(refused.retry_at)
    right = pyotp.TOTP(seed).at(clock.now())
    assert factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, right, None, CTX).ok


def test_unlock_forgets_the_second_factor_failures(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    wrong = wrong_code(add_totp(container, tenant, account), container.clock.now())
    factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, wrong, None, CTX)
    factors.unlock(tenant, account.id)
    policy = tenant.policy.lockout
    outcomes = [
        factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, wrong, None, CTX).remaining_attempts
        for _ in range(2)
    ]
    assert outcomes == [policy.max_failures - 1, policy.max_failures - 2]


# -- recovery codes ----------------------------------------------------------------------------------


def test_recovery_codes_work_once_each_and_new_ones_replace_the_old(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    codes = make_codes(container, tenant, account)
    assert len(codes) == 10
    [factor] = stored(container, account)
    assert factor.kind is FactorKind.RECOVERY_CODES and factor.codes_left == 10
    outcome = factors.verify_second_factor(tenant, account.id, FactorKind.RECOVERY_CODES, codes[3].upper(), None, CTX)
    assert outcome.ok and outcome.amr == ["otp"]
    assert stored(container, account)[0].codes_left == 9
    again = factors.verify_second_factor(tenant, account.id, FactorKind.RECOVERY_CODES, codes[3], None, CTX)
    assert again.status is FactorStatus.WRONG
    fresh = make_codes(container, tenant, account)
    assert not set(fresh) & set(codes)
    old = factors.verify_second_factor(tenant, account.id, FactorKind.RECOVERY_CODES, codes[4], None, CTX)
    assert old.status is FactorStatus.WRONG
    assert factors.verify_second_factor(tenant, account.id, FactorKind.RECOVERY_CODES, fresh[0], None, CTX).ok
    assert [f.codes_left for f in stored(container, account)] == [9]
    bodies = emails(container, "second_factor_added")
    assert len(bodies) == 2 and all("codes de secours" in body for body in bodies)
    assert not any(code in body for body in bodies for code in fresh + codes)


def test_recovery_codes_alone_do_not_require_a_second_factor(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    make_codes(container, tenant, account)
    assert not factors.second_factor_required(tenant, account.id)
    add_totp(container, tenant, account)
    assert factors.second_factor_required(tenant, account.id)
    assert factors.login_kinds(account.id) == [FactorKind.TOTP, FactorKind.RECOVERY_CODES]


# -- passkeys ---------------------------------------------------------------------------------------


def test_a_passkey_is_a_second_factor_with_a_growing_counter(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    device = SoftAuthenticator(ORIGIN)
    factor = add_passkey(container, tenant, account, device)
    challenge = factors.second_factor_challenge(tenant, stored(container, account))
    assert challenge is not None
    options = json.loads(challenge.options_json)
    outcome = factors.verify_second_factor(
        tenant, account.id, FactorKind.PASSKEY, device.assertion(options), challenge.value, CTX
    )
    assert outcome.ok and outcome.amr == ["hwk"] and outcome.factor_id == factor.id
    assert stored(container, account)[0].sign_count == 1
    # The same signature again (a replay, or a clone whose counter lags) is refused.
    replayed = device.assertion(options, count=1)
    assert (
        factors.verify_second_factor(tenant, account.id, FactorKind.PASSKEY, replayed, challenge.value, CTX).status
        is FactorStatus.WRONG
    )


def test_a_passkey_logs_in_without_a_password(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    device = SoftAuthenticator(ORIGIN, synced=True)
    add_passkey(container, tenant, account, device)
    challenge = factors.passwordless_challenge(tenant)
    response = device.assertion(json.loads(challenge.options_json))
    outcome = factors.verify_passwordless(tenant, response, challenge.value, CTX)
    assert outcome.ok and outcome.account is not None and outcome.account.id == account.id
    assert outcome.amr == ["swk", "mfa"]


def test_a_passwordless_login_needs_user_verification(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    device = SoftAuthenticator(ORIGIN, user_verifying=False)
    add_passkey(container, tenant, account, device)
    challenge = factors.passwordless_challenge(tenant)
    outcome = factors.verify_passwordless(
        tenant, device.assertion(json.loads(challenge.options_json)), challenge.value, CTX
    )
    assert outcome.status is FactorStatus.WRONG and outcome.account is None
    assert audit_events(container, tenant, "login.second_factor_failed")


def test_an_unknown_key_or_another_tenants_key_does_not_log_in(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    stranger = SoftAuthenticator(ORIGIN)
    challenge = factors.passwordless_challenge(tenant)
    options = json.loads(challenge.options_json)
    stranger.user_handle = b"x" * 32
    assert factors.verify_passwordless(tenant, stranger.assertion(options), challenge.value, CTX).status is (
        FactorStatus.WRONG
    )
    elsewhere = demo_tenant(container, "poste-ch")
    device = SoftAuthenticator(ORIGIN)
    add_passkey(container, tenant, account, device)
    other = factors.passwordless_challenge(elsewhere)
    response = device.assertion(json.loads(other.options_json))
    assert factors.verify_passwordless(elsewhere, response, other.value, CTX).status is FactorStatus.WRONG


def test_a_user_handle_of_another_account_is_refused(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    device = SoftAuthenticator(ORIGIN)
    add_passkey(container, tenant, account, device)
    device.user_handle = b"\x01" * 32
    challenge = factors.passwordless_challenge(tenant)
    response = device.assertion(json.loads(challenge.options_json))
    assert factors.verify_passwordless(tenant, response, challenge.value, CTX).status is FactorStatus.WRONG


def test_a_passkey_registered_twice_is_refused(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    device = SoftAuthenticator(ORIGIN)
    add_passkey(container, tenant, account, device)
    challenge = factors.registration_challenge(tenant, account)
    options = json.loads(challenge.options_json)
    assert [c["id"] for c in options["excludeCredentials"]] == [stored(container, account)[0].credential_id]
    with container.uow() as uow, pytest.raises(AlreadyExists):
        factors.add_passkey(uow, tenant, account, device.register(options), challenge.value, "", CTX)


def test_a_registration_with_another_challenge_stores_nothing(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    device = SoftAuthenticator(ORIGIN)
    first = factors.registration_challenge(tenant, account)
    second = factors.registration_challenge(tenant, account)
    with container.uow() as uow, pytest.raises(PasskeyRejected):
        factors.add_passkey(
            uow, tenant, account, device.register(json.loads(first.options_json)), second.value, "", CTX
        )
    assert stored(container, account) == []


# -- removal ------------------------------------------------------------------------------------------


def test_removing_a_factor_emails_and_audits_and_only_the_owner_can(
    container: Container, tenant: Tenant, account: Account, factors: FactorService
) -> None:
    add_totp(container, tenant, account, label="Téléphone pro")
    [factor] = stored(container, account)
    intruder = create_account(container, tenant, "intrus@example.fr")
    with container.uow() as uow:
        assert factors.remove(uow, tenant, intruder, factor.id, CTX) is None
        removed = factors.remove(uow, tenant, account, factor.id, CTX)
        uow.commit()
    assert removed is not None and removed.id == factor.id
    assert stored(container, account) == []
    [body] = emails(container, "second_factor_removed")
    assert "Téléphone pro" in body
    [event] = audit_events(container, tenant, "factor.removed")
    assert event.event.details == {"kind": "totp", "factor_id": factor.id}
    assert not factors.second_factor_required(tenant, account.id)

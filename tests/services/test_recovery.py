"""The recovery service on a real database: requests, codes, links, the reset and what it ends."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account, AccountStatus, TokenPurpose
from sesame.domain.errors import InvalidInput, NotFound, PolicyViolation
from sesame.domain.factors import FactorKind
from sesame.domain.tenants import Tenant
from sesame.domain.throttling import LockoutStatus
from sesame.services.accounts import NewAccount
from sesame.services.authentication import AuthStatus, lockout_key
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.factors import FactorStatus, second_factor_key
from sesame.services.outbox import InboxEntry, list_messages
from sesame.services.recovery import (
    REQUESTS_PER_ADDRESS,
    REQUESTS_PER_IP,
    EndedAccess,
    RecoveryService,
    end_everything,
)
from sesame.services.sessions import OpenedSession, SessionService
from sesame.services.throttling import LockoutGuard

EMAIL = "marie.dupont@example.fr"
OLD_PASSWORD = "Sesame-Demo-2026!"
NEW_PASSWORD = "Tournesol-Bleu-42"
WHO = RequestContext(ip="192.0.2.10", user_agent="pytest", correlation_id="corr-1")
CODE_RE = re.compile(r"(?:code|Your code)\s*:\s*(\d{6})")
LINK_RE = re.compile(r"https://testserver/([a-z0-9-]+)/recovery/link\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    new = NewAccount(email=EMAIL, given_name="Marie", family_name="Dupont", verified=True)
    return container.accounts.create(tenant, new, OLD_PASSWORD, RequestContext())


@pytest.fixture
def service(container: Container) -> RecoveryService:
    return RecoveryService(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        container.password_rules,
        container.settings.base_url,
    )


def ask(container: Container, service: RecoveryService, tenant: Tenant, email: str = EMAIL) -> int | None:
    with container.uow() as uow:
        found = service.request(uow, tenant, email, WHO, container.clock.now(), resend=False)
        uow.commit()
    return found


def emails(container: Container, template: str) -> list[InboxEntry]:
    return [entry for entry in list_messages(container.uow) if entry.message.template == template]


def code_and_link(entry: InboxEntry) -> tuple[str, str]:
    text = entry.message.body_text
    code, link = CODE_RE.search(text), LINK_RE.search(text)
    assert code and link, text
    return code.group(1), link.group(2)


def audit(container: Container, type: str) -> list[dict[str, object]]:
    with container.uow(readonly=True) as uow:
        records = uow.audit.recent(100, type=type)
    return [{"subject": r.event.subject, "details": r.event.details, "ip": r.event.ip} for r in records]


def open_session(container: Container, account: Account, tenant: Tenant) -> OpenedSession:
    with container.uow() as uow:
        opened = SessionService.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="198.51.100.7", user_agent="x"
        )
        uow.commit()
    return opened


# -- asking -------------------------------------------------------------------------------------


def test_a_known_address_gets_a_link_and_a_code(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    assert ask(container, service, tenant, "Marie.Dupont@EXAMPLE.fr") == account.id  # case does not matter
    sent = emails(container, "recovery")
    assert sent and all(entry.message.recipient == EMAIL and entry.message.sensitive for entry in sent)
    code, link = code_and_link(sent[0])
    assert code.isdigit() and len(link) == 43
    assert "Marie" in sent[0].message.body_text and "60" in sent[0].message.body_text
    with container.uow(readonly=True) as uow:
        token = uow.accounts.latest_token(account.id, TokenPurpose.RECOVERY)
    assert token is not None and token.expires_at == container.clock.now() + timedelta(hours=1)
    # Only digests are stored (hex noise: "code not in" it would fail 3 times in a million by chance).
    assert re.fullmatch(r"[0-9a-f]{64}", token.code_hash) and token.code_hash != code
    assert re.fullmatch(r"[0-9a-f]{64}", token.link_hash) and link not in token.link_hash
    events = audit(container, "recovery.requested")
    assert {"subject": f"account:{account.id}", "details": {"resend": False}, "ip": WHO.ip} in events


def test_an_unknown_or_closed_address_gets_no_email_but_is_audited(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    assert ask(container, service, tenant, "nobody@example.fr") is None
    with container.uow() as uow:
        closed = uow.accounts.get(account.id)
        assert closed is not None
        closed.status = AccountStatus.CLOSED
        uow.accounts.save(closed)
        uow.commit()
    assert ask(container, service, tenant, EMAIL) is None
    assert emails(container, "recovery") == []
    subjects = [event["subject"] for event in audit(container, "recovery.requested")]
    assert subjects == ["account:unknown", "account:unknown"]


def test_a_new_email_retires_the_older_code(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    ask(container, service, tenant)
    first_code, first_link = code_and_link(emails(container, "recovery")[0])
    ask(container, service, tenant)
    with container.uow() as uow:
        assert not service.check_code(uow, tenant, account.id, first_code, WHO, container.clock.now())
        uow.commit()
    assert service.redeem_link(tenant, first_link, WHO) is None


def test_the_bank_does_not_recover_by_email(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    bank = container.tenants.get("banque")
    with container.uow() as uow, pytest.raises(InvalidInput):
        service.request(uow, bank, EMAIL, WHO, container.clock.now(), resend=False)
    with pytest.raises(InvalidInput):
        service.redeem_link(bank, "x" * 43, WHO)


# -- throttles ----------------------------------------------------------------------------------


def test_throttled_per_address_with_the_time_to_retry(
    container: Container, service: RecoveryService, tenant: Tenant, clock: FrozenClock
) -> None:
    typings = [EMAIL, EMAIL.upper(), f" {EMAIL} "]  # one mailbox, however it is typed
    allowed = [service.throttle(tenant, typings[n % 3], WHO) for n in range(REQUESTS_PER_ADDRESS)]
    assert allowed == [None] * REQUESTS_PER_ADDRESS
    clock.advance(minutes=10)
    retry_at = service.throttle(tenant, EMAIL, WHO)
    assert retry_at == clock.now() + timedelta(minutes=50)  # the hour's window started 10 minutes ago
    # Another address from the same client is still fine; the refusal is audited, without the address.
    assert service.throttle(tenant, "other@example.fr", WHO) is None
    events = audit(container, "recovery.throttled")
    assert events == [{"subject": "account:unknown", "details": {"scope": "address"}, "ip": WHO.ip}]
    clock.advance(minutes=50)
    assert service.throttle(tenant, EMAIL, WHO) is None


def test_throttled_per_client_over_every_address(
    container: Container, service: RecoveryService, tenant: Tenant
) -> None:
    for number in range(REQUESTS_PER_IP):
        assert service.throttle(tenant, f"person{number}@example.fr", WHO) is None
    assert service.throttle(tenant, "one-more@example.fr", WHO) is not None
    other_client = RequestContext(ip="203.0.113.9")
    assert service.throttle(tenant, "one-more@example.fr", other_client) is None
    assert audit(container, "recovery.throttled")[0]["details"] == {"scope": "ip"}


# -- proving the mailbox ------------------------------------------------------------------------------


def test_the_right_code_works_once(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    ask(container, service, tenant)
    code, _ = code_and_link(emails(container, "recovery")[0])
    for expected in (True, False):
        with container.uow() as uow:
            assert service.check_code(uow, tenant, account.id, code, WHO, container.clock.now()) is expected
            uow.commit()
    assert [e["subject"] for e in audit(container, "recovery.verified")] == [f"account:{account.id}"]


def test_five_wrong_codes_kill_the_token(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    ask(container, service, tenant)
    code, _ = code_and_link(emails(container, "recovery")[0])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        with container.uow() as uow:
            assert not service.check_code(uow, tenant, account.id, wrong, WHO, container.clock.now())
            uow.commit()
    with container.uow() as uow:
        assert not service.check_code(uow, tenant, account.id, code, WHO, container.clock.now())
        uow.commit()
    assert len(audit(container, "recovery.code_rejected")) == 6


def test_an_unknown_address_never_verifies(container: Container, service: RecoveryService, tenant: Tenant) -> None:
    with container.uow() as uow:
        assert not service.check_code(uow, tenant, None, "123456", WHO, container.clock.now())
        uow.commit()
    assert audit(container, "recovery.code_rejected")[0]["subject"] == "account:unknown"


def test_the_link_works_once_and_for_an_hour(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account, clock: FrozenClock
) -> None:
    ask(container, service, tenant)
    _, link = code_and_link(emails(container, "recovery")[0])
    redeemed = service.redeem_link(tenant, link, WHO)
    assert redeemed is not None and redeemed.id == account.id
    assert service.redeem_link(tenant, link, WHO) is None  # replayed
    ask(container, service, tenant)
    _, later = code_and_link(emails(container, "recovery")[0])
    clock.advance(hours=1)
    assert service.redeem_link(tenant, later, WHO) is None  # expired
    for garbage in ("", "x", "A" * 43, "A" * 500):
        assert service.redeem_link(tenant, garbage, WHO) is None
    rejected = audit(container, "recovery.link_rejected")
    assert {"subject": f"account:{account.id}", "details": {"method": "link"}, "ip": WHO.ip} in rejected
    assert sum(e["subject"] == "account:unknown" for e in rejected) == 4


def test_another_tenants_address_does_not_use_up_the_link(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    ask(container, service, tenant)
    _, link = code_and_link(emails(container, "recovery")[0])
    swiss = container.tenants.get("poste-ch")
    assert service.redeem_link(swiss, link, WHO) is None
    assert service.redeem_link(tenant, link, WHO) is not None


# -- the reset ------------------------------------------------------------------------------------


def reset(container: Container, service: RecoveryService, tenant: Tenant, account: Account) -> bool:
    prepared = service.prepare_reset(tenant, account.id, NEW_PASSWORD)
    with container.uow() as uow:
        outcome = service.reset_password(uow, tenant, prepared, WHO, container.clock.now(), verified_by="code")
        uow.commit()
    return outcome.account_locked


def test_the_reset_sets_the_password_and_ends_every_session(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    sessions = [open_session(container, account, tenant) for _ in range(2)]
    assert all(container.sessions.resolve(tenant, s.token) is not None for s in sessions)
    container.accounts.flag_password_change(tenant, EMAIL, "fraud", RequestContext())
    sessions = [open_session(container, account, tenant) for _ in range(2)]  # flagging ended the first two
    ask(container, service, tenant)  # an unused recovery link from another request
    _, pending = code_and_link(emails(container, "recovery")[0])

    assert reset(container, service, tenant, account) is False

    assert all(container.sessions.resolve(tenant, s.token) is None for s in sessions)
    assert service.redeem_link(tenant, pending, WHO) is None  # the other recovery tokens are retired
    assert container.authenticator.authenticate(tenant, EMAIL, NEW_PASSWORD, WHO).status is AuthStatus.OK
    assert container.authenticator.authenticate(tenant, EMAIL, OLD_PASSWORD, WHO).status is AuthStatus.INVALID
    changed = container.accounts.find(tenant, EMAIL)
    assert changed.password_change_required is False
    assert changed.profile_review_required is True  # seed 000: the review still follows the next login
    notifications = emails(container, "password_changed")
    assert [n.message.recipient for n in notifications] == [EMAIL]
    [event] = audit(container, "password.reset")
    assert event["subject"] == f"account:{account.id}"
    assert event["details"] == {"verified_by": "code", "sessions_ended": 2, "account_status": "active"}


def test_the_reset_confirms_an_unconfirmed_address(
    container: Container, service: RecoveryService, tenant: Tenant
) -> None:
    new = NewAccount(email="late@example.fr", given_name="Léa", family_name="Martin")
    unconfirmed = container.accounts.create(tenant, new, OLD_PASSWORD, RequestContext())
    assert not unconfirmed.email_verified
    reset(container, service, tenant, unconfirmed)
    assert container.accounts.find(tenant, "late@example.fr").email_verified_at == container.clock.now()


def test_a_locked_account_gets_its_password_but_stays_locked(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    container.accounts.lock(tenant, EMAIL, "fraud suspected", RequestContext(actor="support:alice"))
    assert reset(container, service, tenant, account) is True
    assert container.accounts.find(tenant, EMAIL).status is AccountStatus.LOCKED
    assert container.authenticator.authenticate(tenant, EMAIL, NEW_PASSWORD, WHO).status is AuthStatus.LOCKED
    assert audit(container, "password.reset")[0]["details"]["account_status"] == "locked"  # type: ignore[index]
    container.accounts.unlock(tenant, EMAIL, RequestContext(actor="support:alice"))
    assert container.authenticator.authenticate(tenant, EMAIL, NEW_PASSWORD, WHO).status is AuthStatus.OK


def test_the_reset_reopens_the_login_lockout(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    guard = LockoutGuard(container.counters, container.clock, tenant.policy.lockout)
    key = lockout_key(tenant, EMAIL)
    for _ in range(tenant.policy.lockout.max_failures):
        guard.register_failure(key)
    assert guard.check(key).status is LockoutStatus.SUSPENDED
    reset(container, service, tenant, account)
    assert guard.check(key).status is LockoutStatus.ALLOWED


def test_the_reset_lifts_the_second_factors_lock_too(
    container: Container, clock: FrozenClock, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    """A completed recovery reopens the second factors as it reopens the password (``FactorService.unlock``):
    the next login still asks for the second factor, whose failures count from zero again."""
    guard = LockoutGuard(container.counters, clock, tenant.policy.lockout)
    key = second_factor_key(tenant, account.id)
    while (decision := guard.register_failure(key)).status is not LockoutStatus.LOCKED:
        if decision.suspended_until is not None:
            clock.set(decision.suspended_until)
    refused = container.factors.verify_second_factor(tenant, account.id, FactorKind.TOTP, "123456", None, WHO)
    assert refused.status is FactorStatus.LOCKED
    reset(container, service, tenant, account)
    state = guard.check(key)
    assert (state.allowed, state.failures, state.suspensions) == (True, 0, 0)


def test_a_weak_personal_or_unchanged_password_is_refused(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    assert service.check_new_password(tenant, account.id, "court") == ["min_length", "upper", "digit"]
    assert "not_personal" in service.check_new_password(tenant, account.id, EMAIL.upper())
    assert service.check_new_password(tenant, account.id, NEW_PASSWORD) == []
    with pytest.raises(PolicyViolation) as refused:
        service.prepare_reset(tenant, account.id, "Password1")
    assert refused.value.details["rules"] == ["not_blocklisted"]
    with pytest.raises(InvalidInput) as unchanged:
        service.prepare_reset(tenant, account.id, OLD_PASSWORD)
    assert unchanged.value.details["reason"] == "unchanged"
    with pytest.raises(NotFound):
        service.check_new_password(container.tenants.get("poste-ch"), account.id, NEW_PASSWORD)


def test_no_secret_reaches_the_audit_log(
    container: Container, service: RecoveryService, tenant: Tenant, account: Account
) -> None:
    ask(container, service, tenant)
    code, link = code_and_link(emails(container, "recovery")[0])
    with container.uow() as uow:
        service.check_code(
            uow, tenant, account.id, "000000" if code != "000000" else "111111", WHO, container.clock.now()
        )
        uow.commit()
    service.redeem_link(tenant, link, WHO)
    reset(container, service, tenant, account)
    with container.uow(readonly=True) as uow:
        logged = json.dumps(
            [r.event.details for r in uow.audit.recent(100)] + [r.event.subject for r in uow.audit.recent(100)]
        )
    for secret in (code, link, NEW_PASSWORD, OLD_PASSWORD, EMAIL):
        assert secret not in logged


def test_end_everything_ends_every_live_session(container: Container, tenant: Tenant, account: Account) -> None:
    sessions = [open_session(container, account, tenant) for _ in range(3)]
    with container.uow() as uow:
        ended = end_everything(uow, account.id, container.clock.now(), "support")
        uow.commit()
    assert ended == EndedAccess(sessions=3)
    assert all(container.sessions.resolve(tenant, s.token) is None for s in sessions)
    with container.uow() as uow:
        assert end_everything(uow, account.id, container.clock.now(), "support").sessions == 0

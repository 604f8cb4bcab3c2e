"""Approval requests on the real test database: the device protocol (signatures, tampering, replay,
number matching, the 4-digit code), rate limits, unknown numbers, expiry and the one-time use."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.devices import (
    APP_AMR,
    PIN_KEYED_PURPOSE,
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    BindingMode,
    Decision,
    Device,
    DeviceStatus,
    pin_message,
)
from sesame.domain.identity import VerifiedIdentity
from sesame.domain.phones import PhoneNumberRejected
from sesame.domain.tenants import Tenant
from sesame.services.approvals import (
    ApprovalRateLimited,
    ApprovalService,
    ApprovalUnavailable,
    ConsumeStatus,
    CreatedApproval,
    DecisionStatus,
    NewApproval,
)
from sesame.services.authentication import AuthStatus
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from tests.app_support import CTX, MOBILE, PASSWORD, PIN, SoftDevice, activate, identity_of, verified_account
from tests.services.accounts_support import audit_events, demo_tenant

EMAIL = "marie.approve@example.fr"
UNKNOWN_MOBILE = "+33698765432"
HANDLE = "browser-token-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return demo_tenant(container)


@pytest.fixture
def verified(container: Container, tenant: Tenant) -> tuple[Account, VerifiedIdentity]:
    return verified_account(container, tenant, EMAIL)


@pytest.fixture
def device(
    container: Container, tenant: Tenant, verified: tuple[Account, VerifiedIdentity]
) -> tuple[Device, SoftDevice]:
    return activate(container, tenant, EMAIL)


@pytest.fixture
def approvals(container: Container) -> ApprovalService:
    return container.approvals


def web_login(
    approvals: ApprovalService, tenant: Tenant, mobile: str = MOBILE, handle: str = HANDLE, ip: str = ""
) -> CreatedApproval:
    new = NewApproval(kind=ApprovalKind.WEB_LOGIN, service_name="La Poste", handle=handle)
    context = RequestContext(ip=ip, correlation_id="corr-approval")
    return approvals.create_request(tenant, new, context, mobile=mobile)


def status_of(approvals: ApprovalService, tenant: Tenant, request: ApprovalRequest, now: object) -> ApprovalStatus:
    polled = approvals.poll(tenant, request.id, HANDLE)
    assert polled is not None
    return polled.status_at(now)  # type: ignore[arg-type]


# -- the happy path -----------------------------------------------------------------------------------------


def test_a_request_reaches_the_device_and_an_approval_logs_in_once(
    container: Container,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
    verified: tuple[Account, VerifiedIdentity],
) -> None:
    registered, soft = device
    created = web_login(approvals, tenant, "06 12 34 56 78")
    request = created.request
    assert created.account_known
    assert request.binding_mode is BindingMode.ENTER and request.binding_message is None
    assert len(request.binding_code) == 2 and request.binding_code.isdigit()
    assert (request.expires_at - request.created_at).total_seconds() == 120
    assert [r.id for r in approvals.pending_for_device(tenant, registered)] == [request.id]
    assert status_of(approvals, tenant, request, container.clock.now()) is ApprovalStatus.PENDING
    consumed = approvals.consume(tenant, request, CTX)
    assert consumed.status is ConsumeStatus.PENDING

    outcome = approvals.decide(tenant, soft.answer(request), CTX)
    assert outcome.status is DecisionStatus.APPROVED
    polled = approvals.poll(tenant, request.id, HANDLE)
    assert polled is not None and polled.status is ApprovalStatus.APPROVED and polled.device_id == registered.id
    assert approvals.pending_for_device(tenant, registered) == []

    used = approvals.consume(tenant, polled, CTX)
    assert used.status is ConsumeStatus.CONSUMED
    assert used.account is not None and used.account.id == verified[0].id
    assert used.acr == "eidas2" and used.amr == APP_AMR
    again = approvals.poll(tenant, request.id, HANDLE)
    assert again is not None
    assert approvals.consume(tenant, again, CTX).status is ConsumeStatus.USED
    assert approvals.consume(tenant, polled, CTX).status is ConsumeStatus.USED, "the stale copy cannot win either"
    types = [r.event.type for r in audit_events(container, tenant, "approval.")]
    assert types == ["approval.requested", "approval.approved", "approval.consumed"]


def test_denying_needs_no_code(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    outcome = approvals.decide(tenant, soft.answer(request, Decision.DENY, binding_code="", pin=None), CTX)
    assert outcome.status is DecisionStatus.DENIED
    assert status_of(approvals, tenant, request, container.clock.now()) is ApprovalStatus.DENIED
    polled = approvals.poll(tenant, request.id, HANDLE)
    assert polled is not None and approvals.consume(tenant, polled, CTX).status is ConsumeStatus.DENIED


# -- signatures ------------------------------------------------------------------------------------------------


def test_a_signature_by_another_key_is_refused(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    registered, _ = device
    request = web_login(approvals, tenant).request
    thief = SoftDevice()
    thief.device_id = registered.id
    outcome = approvals.decide(tenant, thief.answer(request), CTX)
    assert outcome.status is DecisionStatus.BAD_SIGNATURE
    assert status_of(approvals, tenant, request, container.clock.now()) is ApprovalStatus.PENDING
    assert [r.event.type for r in audit_events(container, tenant, "device.signature_refused")]


@pytest.mark.parametrize(
    "tamper",
    [
        {"service": "Autre service"},  # an approval shown for another service
        {"request_id": "ar_another"},
        {"nonce": "another-nonce"},
    ],
)
def test_a_signature_over_other_fields_is_refused(
    container: Container,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
    tamper: dict[str, str],
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    outcome = approvals.decide(tenant, soft.answer(request, **tamper), CTX)  # type: ignore[arg-type]
    assert outcome.status is DecisionStatus.BAD_SIGNATURE
    assert status_of(approvals, tenant, request, container.clock.now()) is ApprovalStatus.PENDING


def test_changing_a_signed_field_of_the_answer_breaks_the_signature(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    denial = soft.answer(request, Decision.DENY)
    as_approval = replace(denial, decision=Decision.APPROVE)
    assert approvals.decide(tenant, as_approval, CTX).status is DecisionStatus.BAD_SIGNATURE
    approval = soft.answer(request)
    other_binding = "00" if request.binding_code != "00" else "01"
    moved = replace(approval, binding_code=other_binding)
    assert approvals.decide(tenant, moved, CTX).status is DecisionStatus.BAD_SIGNATURE
    assert approvals.decide(tenant, approval, CTX).status is DecisionStatus.APPROVED


def test_a_replayed_approval_fails(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    answer = soft.answer(request)
    assert approvals.decide(tenant, answer, CTX).status is DecisionStatus.APPROVED
    replay = approvals.decide(tenant, answer, CTX)
    assert replay.status is DecisionStatus.NOT_PENDING and replay.request_status is ApprovalStatus.APPROVED
    # Nor can the same answer serve for the next request of the same account.
    second = web_login(approvals, tenant).request
    moved = replace(answer, request_id=second.id)
    assert approvals.decide(tenant, moved, CTX).status is DecisionStatus.BAD_SIGNATURE


def test_parallel_answers_have_one_winner(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    answers = [soft.answer(request) for _ in range(2)] + [soft.answer(request, Decision.DENY)]
    barrier = threading.Barrier(len(answers))

    def answer(index: int) -> DecisionStatus:
        barrier.wait()
        return container.approvals.decide(tenant, answers[index], CTX).status

    with ThreadPoolExecutor(len(answers)) as pool:
        results = list(pool.map(answer, range(len(answers))))
    winners = [r for r in results if r in (DecisionStatus.APPROVED, DecisionStatus.DENIED)]
    assert len(winners) == 1, results
    assert results.count(DecisionStatus.NOT_PENDING) == len(answers) - 1


def test_another_account_s_device_cannot_answer(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    verified_account(container, tenant, "paul@example.fr", mobile="+33781223344")
    _, other = activate(container, tenant, "paul@example.fr", mobile="+33781223344")
    request = web_login(approvals, tenant).request
    assert approvals.decide(tenant, other.answer(request), CTX).status is DecisionStatus.NOT_FOUND
    unknown = SoftDevice()
    unknown.device_id = "dv_nobody"
    assert approvals.decide(tenant, unknown.answer(request), CTX).status is DecisionStatus.UNKNOWN_DEVICE


# -- number matching -----------------------------------------------------------------------------------------


def test_a_wrong_number_denies_the_request(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    wrong = "00" if request.binding_code != "00" else "01"
    outcome = approvals.decide(tenant, soft.answer(request, binding_code=wrong), CTX)
    assert outcome.status is DecisionStatus.BINDING_MISMATCH
    assert status_of(approvals, tenant, request, container.clock.now()) is ApprovalStatus.DENIED
    # The right number afterwards is too late: a blind guess has one chance in a hundred.
    assert approvals.decide(tenant, soft.answer(request), CTX).status is DecisionStatus.NOT_PENDING
    denied = [r.event.details for r in audit_events(container, tenant, "approval.denied")]
    assert denied[0]["reason"] == "binding_mismatch"


def test_a_binding_message_is_compared_on_the_device(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    """CIBA: the client's binding_message is shown on the device; the client polls by auth_req_id."""
    _, soft = device
    new = NewApproval(
        kind=ApprovalKind.CIBA,
        service_name="Assurance Maladie",
        handle="auth-req-id-0123456789",
        client_id="ameli",
        binding_message="Code 7F3K",
        acr="eidas2",
        scope="openid profile",
    )
    created = approvals.create_request(tenant, new, CTX, mobile=MOBILE)
    request = created.request
    assert request.binding_mode is BindingMode.COMPARE and request.binding_message == "Code 7F3K"
    assert approvals.poll_by_handle(tenant, "auth-req-id-0123456789") == request
    assert approvals.poll_by_handle(tenant, "another-id") is None
    assert approvals.decide(tenant, soft.answer(request), CTX).status is DecisionStatus.APPROVED
    polled = approvals.poll_by_handle(tenant, "auth-req-id-0123456789")
    assert polled is not None and polled.status is ApprovalStatus.APPROVED and polled.client_id == "ameli"
    assert approvals.consume(tenant, polled, CTX).status is ConsumeStatus.CONSUMED


# -- the 4-digit code ------------------------------------------------------------------------------------------


def test_an_approval_needs_the_right_code(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    assert approvals.decide(tenant, soft.answer(request, pin=None), CTX).status is DecisionStatus.PIN_REQUIRED
    assert approvals.decide(tenant, soft.answer(request, pin="12"), CTX).status is DecisionStatus.PIN_REQUIRED
    wrong = approvals.decide(tenant, soft.answer(request, pin="1111"), CTX)
    assert wrong.status is DecisionStatus.WRONG_PIN and wrong.pins_left == 9
    assert status_of(approvals, tenant, request, container.clock.now()) is ApprovalStatus.PENDING
    assert approvals.decide(tenant, soft.answer(request), CTX).status is DecisionStatus.APPROVED


def test_ten_wrong_codes_disable_the_device_and_the_identity_s_app(
    container: Container,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
    verified: tuple[Account, VerifiedIdentity],
) -> None:
    registered, soft = device
    request = web_login(approvals, tenant).request
    left = []
    for _ in range(9):
        outcome = approvals.decide(tenant, soft.answer(request, pin="9513"), CTX)
        assert outcome.status is DecisionStatus.WRONG_PIN
        left.append(outcome.pins_left)
    assert left == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert approvals.decide(tenant, soft.answer(request, pin="9513"), CTX).status is DecisionStatus.DEVICE_DISABLED
    assert approvals.decide(tenant, soft.answer(request), CTX).status is DecisionStatus.DEVICE_DISABLED, (
        "even the right code: the device is gone"
    )
    disabled = container.devices.get(tenant, registered.id)
    assert disabled is not None and disabled.status is DeviceStatus.DISABLED and disabled.disabled_reason
    identity = identity_of(container, verified[0].id)
    assert identity is not None and identity.app_activated_at is None and not identity.usable_for_eidas2
    assert [e.message.recipient for e in list_messages(container.uow) if e.message.template == "device_disabled"] == [
        EMAIL
    ]
    assert [r.event.type for r in audit_events(container, tenant, "device.disabled")] == ["device.disabled"]
    # The number now reaches no device: a new request is one nobody can answer.
    assert not web_login(approvals, tenant).account_known


def test_a_right_code_clears_the_failures(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    registered, soft = device
    first = web_login(approvals, tenant).request
    for _ in range(5):
        approvals.decide(tenant, soft.answer(first, pin="9513"), CTX)
    assert approvals.decide(tenant, soft.answer(first), CTX).status is DecisionStatus.APPROVED
    current = container.devices.get(tenant, registered.id)
    assert current is not None and current.failed_pins == 0
    second = web_login(approvals, tenant).request
    assert approvals.decide(tenant, soft.answer(second, pin="9513"), CTX).pins_left == 9


def test_the_code_is_never_stored_nor_logged(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    registered, soft = device
    request = web_login(approvals, tenant).request
    approvals.decide(tenant, soft.answer(request, pin="9513"), CTX)
    approvals.decide(tenant, soft.answer(request), CTX)
    # A keyed hash bound to the device: the digest itself is checked, since a 64-character hex
    # digest holds any 4 digits by chance about once in a thousand.
    assert registered.pin_digest == container.keyed.digest(PIN_KEYED_PURPOSE, pin_message(registered.id, PIN))
    for record in audit_events(container, tenant):
        # The random ids (device, request, activation) aside: base64url holds 4 given digits now and then.
        details = re.sub(r"\b(?:da|dv|ar)_[A-Za-z0-9_-]+", "ID", str(record.event.details))
        assert PIN not in details and "9513" not in details


# -- rate limits and unknown numbers ---------------------------------------------------------------------------


def test_requests_per_number_are_limited(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
) -> None:
    for _ in range(3):
        web_login(approvals, tenant)
    with pytest.raises(ApprovalRateLimited) as raised:
        web_login(approvals, tenant, "+33 6 12 34 56 78")  # the same number, typed otherwise
    assert raised.value.retry_at == clock.now() + timedelta(minutes=10)
    web_login(approvals, tenant, UNKNOWN_MOBILE)  # another number is not affected
    clock.advance(minutes=10)
    web_login(approvals, tenant)


def test_requests_per_address_are_limited(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    limit = tenant.policy.lockout.ip_requests_per_minute
    numbers = [f"+3361234{index:04d}" for index in range(limit + 1)]
    for number in numbers[:limit]:
        web_login(approvals, tenant, number, ip="198.51.100.7")
    with pytest.raises(ApprovalRateLimited):
        web_login(approvals, tenant, numbers[limit], ip="198.51.100.7")


def test_an_unknown_number_behaves_like_a_known_one_from_outside(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
) -> None:
    known = web_login(approvals, tenant, MOBILE, handle=HANDLE)
    unknown = web_login(approvals, tenant, UNKNOWN_MOBILE, handle=HANDLE + "-2")
    assert known.account_known and not unknown.account_known
    for created in (known, unknown):
        request = created.request
        assert request.status is ApprovalStatus.PENDING and request.binding_mode is BindingMode.ENTER
        assert len(request.binding_code) == 2 and request.expires_at == known.request.expires_at
        assert request.kind is ApprovalKind.WEB_LOGIN and request.service_name == "La Poste"
    for _ in range(2):
        web_login(approvals, tenant, UNKNOWN_MOBILE, handle=HANDLE)
    with pytest.raises(ApprovalRateLimited):
        web_login(approvals, tenant, UNKNOWN_MOBILE)  # the same limit for unknown numbers
    clock.advance(minutes=2)
    polled = approvals.poll(tenant, unknown.request.id, HANDLE + "-2")
    assert polled is not None and polled.status_at(clock.now()) is ApprovalStatus.EXPIRED
    assert approvals.consume(tenant, polled, CTX).status is ConsumeStatus.EXPIRED


def test_a_malformed_number_is_refused_before_anything(tenant: Tenant, approvals: ApprovalService) -> None:
    with pytest.raises(PhoneNumberRejected):
        web_login(approvals, tenant, "01 23 45 67 89")


def test_a_tenant_without_the_app_takes_no_request(container: Container, approvals: ApprovalService) -> None:
    with pytest.raises(ApprovalUnavailable):
        web_login(approvals, demo_tenant(container, "poste-ch"))


def test_polling_needs_the_requester_s_handle(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    request = web_login(approvals, tenant).request
    assert approvals.poll(tenant, request.id, "another-browser") is None
    assert approvals.poll(tenant, request.id, "") is None
    assert approvals.poll(demo_tenant(container, "poste-ch"), request.id, HANDLE) is None
    assert approvals.poll(tenant, "ar_unknown", HANDLE) is None


# -- expiry ---------------------------------------------------------------------------------------------------------


def test_an_expired_request_cannot_be_approved(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
) -> None:
    registered, soft = device
    request = web_login(approvals, tenant).request
    clock.advance(seconds=120)
    outcome = approvals.decide(tenant, soft.answer(request), CTX)
    assert outcome.status is DecisionStatus.NOT_PENDING and outcome.request_status is ApprovalStatus.EXPIRED
    assert approvals.pending_for_device(tenant, registered) == []
    assert status_of(approvals, tenant, request, clock.now()) is ApprovalStatus.EXPIRED


def test_an_approval_not_used_in_time_expires(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    approvals.decide(tenant, soft.answer(request), CTX)
    clock.advance(minutes=8)
    polled = approvals.poll(tenant, request.id, HANDLE)
    assert polled is not None and approvals.consume(tenant, polled, CTX).status is ConsumeStatus.EXPIRED


# -- the account's status -------------------------------------------------------------------------------------------


def test_a_locked_account_gets_no_request_and_cannot_use_an_approval(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    approved = web_login(approvals, tenant).request
    approvals.decide(tenant, soft.answer(approved), CTX)
    pending = web_login(approvals, tenant).request
    container.accounts.lock(tenant, EMAIL, "fraud", RequestContext(actor="support:alice"))
    polled = approvals.poll(tenant, approved.id, HANDLE)
    assert polled is not None and approvals.consume(tenant, polled, CTX).status is ConsumeStatus.REFUSED
    assert approvals.decide(tenant, soft.answer(pending), CTX).status is DecisionStatus.ACCOUNT_BARRED
    assert not web_login(approvals, tenant).account_known


def test_a_suspended_account_is_refused_as_the_password_login_refuses_it(
    container: Container, tenant: Tenant, device: tuple[Device, SoftDevice], approvals: ApprovalService
) -> None:
    _, soft = device
    request = web_login(approvals, tenant).request
    for _ in range(tenant.policy.lockout.max_failures):
        outcome = container.authenticator.authenticate(tenant, EMAIL, "Wrong-Password-1", CTX)
    assert outcome.status is AuthStatus.SUSPENDED
    assert approvals.decide(tenant, soft.answer(request), CTX).status is DecisionStatus.ACCOUNT_BARRED
    assert not web_login(approvals, tenant).account_known


# -- step-up -------------------------------------------------------------------------------------------------------


def test_a_step_up_request_names_the_account(
    container: Container,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
    verified: tuple[Account, VerifiedIdentity],
) -> None:
    _, soft = device
    new = NewApproval(kind=ApprovalKind.STEP_UP, service_name="Partenaire", handle=HANDLE, acr="eidas2")
    created = approvals.create_request(tenant, new, CTX, account_id=verified[0].id)
    assert created.account_known and created.request.acr_requested == "eidas2"
    assert approvals.decide(tenant, soft.answer(created.request), CTX).status is DecisionStatus.APPROVED
    with pytest.raises(ValueError, match="mobile number or for an account"):
        approvals.create_request(tenant, new, CTX, mobile=MOBILE, account_id=verified[0].id)


def test_expired_requests_and_activations_are_purged(
    container: Container,
    clock: FrozenClock,
    tenant: Tenant,
    device: tuple[Device, SoftDevice],
    approvals: ApprovalService,
) -> None:
    request = web_login(approvals, tenant).request
    container.devices.start_activation(tenant, EMAIL, PASSWORD, CTX)
    assert approvals.purge(clock.now()) == 0, "nothing has expired yet"
    clock.advance(hours=1)
    assert approvals.purge(clock.now()) == 3  # this request, the fixture's activation and this one
    assert approvals.poll(tenant, request.id, HANDLE) is None

"""OpenID Connect CIBA, poll mode (issue 7 point 4): ``POST /{tenant}/bc-authorize``, then the token
endpoint with ``grant_type=urn:openid:params:grant-type:ciba``.

The client's side is played over HTTP as a client library would; the person's side is a device
of the phone app answering through the real approval service (a WebCrypto-like key and the
4-digit code, tests/app_support.py). Errors of CIBA §11 and §13: authorization_pending,
slow_down, expired_token, access_denied (a refusal, a locked account), invalid_grant (another
client's auth_req_id, a used one), unauthorized_client, invalid_binding_message; and an unknown
number looks, from outside, like a person who did not answer.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.devices import ApprovalRequest, BindingMode, Decision, Device
from sesame.domain.errors import InvalidInput
from sesame.domain.identity import VerifiedIdentity
from sesame.domain.tenants import Tenant
from sesame.services.approvals import DecisionStatus
from tests.app_support import CTX, MOBILE, SoftDevice, activate, verified_account
from tests.protocol import tokens_support
from tests.protocol.authorize_support import ISSUER, app, browser, laposte
from tests.protocol.tokens_support import Registered, post, verify

__all__ = ["app", "browser", "laposte"]  # fixtures

CIBA = "urn:openid:params:grant-type:ciba"
EMAIL = "marie.ciba@example.fr"
UNKNOWN_MOBILE = "+33698765432"
BINDING = "Dossier 4521"
SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access", "given_name", "family_name", "birthdate")


@pytest.fixture
def person(container: Container, laposte: Tenant) -> tuple[Account, VerifiedIdentity]:
    return verified_account(container, laposte, EMAIL)


@pytest.fixture
def phone(container: Container, laposte: Tenant, person: tuple[Account, VerifiedIdentity]) -> tuple[Device, SoftDevice]:
    """The person's phone app, activated (which makes the identity usable at eidas2)."""
    return activate(container, laposte, EMAIL)


@pytest.fixture
def bank(container: Container, laposte: Tenant) -> Registered:
    """A confidential client allowed to use CIBA, with refresh tokens."""
    return register(container, laposte, "Banque Postale Conseil", grant_types=[CIBA, "refresh_token"])


def register(container: Container, tenant: Tenant, name: str, **options: Any) -> Registered:
    refresh = "refresh_token" in options.get("grant_types", ())
    options.setdefault("scopes", tuple(s for s in SCOPES if refresh or s != "offline_access"))
    client, secret = container.oidc_clients.create(tenant, name, [], **options)
    return Registered(client, secret)


def bc_authorize(http: TestClient, client: Registered, **form: str | None) -> httpx.Response:
    defaults: dict[str, str | None] = {"scope": "openid", "login_hint": "06 12 34 56 78", "binding_message": BINDING}
    defaults.update(form)
    return post(http, "/laposte/bc-authorize", client, **{k: v for k, v in defaults.items() if v is not None})


def started(http: TestClient, client: Registered, **form: str | None) -> str:
    response = bc_authorize(http, client, **form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    assert body["expires_in"] == 120 and body["interval"] == 5
    assert len(body["auth_req_id"]) >= 43
    assert response.headers["cache-control"] == "no-store"
    return str(body["auth_req_id"])


def poll(http: TestClient, client: Registered, auth_req_id: str) -> httpx.Response:
    return post(http, "/laposte/token", client, grant_type=CIBA, auth_req_id=auth_req_id)


def assert_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.headers["cache-control"] == "no-store"


def pending_request(container: Container, tenant: Tenant, device: Device) -> ApprovalRequest:
    [request] = container.approvals.pending_for_device(tenant, device)
    return request


def answer(
    container: Container, tenant: Tenant, device: Device, soft: SoftDevice, decision: Decision
) -> DecisionStatus:
    """The person answers in the app: the request as the device lists it, signed, with the code."""
    request = pending_request(container, tenant, device)
    return container.approvals.decide(tenant, soft.answer(request, decision), CTX).status


# -- discovery and registration -----------------------------------------------------------------------------


def test_discovery_advertises_ciba_poll_mode_where_the_app_is_offered(browser: TestClient) -> None:
    metadata = browser.get("/laposte/.well-known/openid-configuration").json()
    assert metadata["backchannel_authentication_endpoint"] == f"{ISSUER}/bc-authorize"
    assert metadata["backchannel_token_delivery_modes_supported"] == ["poll"]
    assert metadata["backchannel_user_code_parameter_supported"] is False
    assert CIBA in metadata["grant_types_supported"]
    # a tenant whose people have no phone app offers no CIBA
    swiss = browser.get("/poste-ch/.well-known/openid-configuration").json()
    assert "backchannel_authentication_endpoint" not in swiss and CIBA not in swiss["grant_types_supported"]


def test_only_confidential_clients_may_register_for_ciba(container: Container, laposte: Tenant) -> None:
    with pytest.raises(InvalidInput, match="public client cannot use CIBA"):
        container.oidc_clients.create(laposte, "Appli", [], public=True, grant_types=[CIBA])
    # refresh tokens come with CIBA as with the code flow; no redirect URI is needed
    client, secret = container.oidc_clients.create(laposte, "Conseiller", [], grant_types=[CIBA, "refresh_token"])
    assert secret is not None and [g.value for g in client.metadata.grant_types] == [CIBA, "refresh_token"]


# -- the happy path ----------------------------------------------------------------------------------------


def test_the_person_approves_in_the_app_and_the_client_gets_eidas2_tokens(
    browser: TestClient,
    container: Container,
    clock: FrozenClock,
    laposte: Tenant,
    bank: Registered,
    person: tuple[Account, VerifiedIdentity],
    phone: tuple[Device, SoftDevice],
) -> None:
    account, identity = person
    device, soft = phone
    auth_req_id = started(
        browser, bank, scope="openid given_name family_name birthdate offline_access", acr_values="eidas2"
    )
    assert_error(poll(browser, bank, auth_req_id), "authorization_pending")

    # The app shows the client's name and the binding message to compare (no number to type).
    shown = pending_request(container, laposte, device)
    assert shown.service_name == "Banque Postale Conseil"
    assert shown.binding_mode is BindingMode.COMPARE and shown.binding_message == BINDING
    assert answer(container, laposte, device, soft, Decision.APPROVE) is DecisionStatus.APPROVED

    clock.advance(seconds=5)
    response = poll(browser, bank, auth_req_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    assert body["scope"] == "openid given_name family_name birthdate offline_access"
    id_token = verify(browser, body["id_token"], typ="JWT")
    assert id_token["iss"] == ISSUER and id_token["aud"] == bank.client_id
    assert (id_token["acr"], id_token["amr"]) == ("eidas2", ["pop", "pin", "mfa"])
    assert id_token["auth_time"] == int(clock.now().timestamp()) - 5  # when the person approved
    assert "sid" not in id_token and "nonce" not in id_token  # no browser session, no nonce
    access = verify(browser, body["access_token"], typ="at+jwt")
    assert (access["acr"], access["sub"]) == ("eidas2", id_token["sub"])

    # The identity claims come from the verified identity.
    claims = tokens_support.userinfo(browser, body["access_token"]).json()
    expected = identity.claims()
    assert {name: claims[name] for name in ("given_name", "family_name", "birthdate")} == {
        name: expected[name] for name in ("given_name", "family_name", "birthdate")
    }
    # The refresh token works like any other (offline_access: no session behind the grant).
    refreshed = tokens_support.refresh(browser, bank, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert verify(browser, refreshed.json()["id_token"], typ="JWT")["acr"] == "eidas2"

    # Used once: polling again is invalid_grant.
    clock.advance(seconds=5)
    assert_error(poll(browser, bank, auth_req_id), "invalid_grant")
    types = tokens_support.audit_types(container, laposte)
    assert {"approval.requested", "approval.approved", "approval.consumed", "oidc.token_issued"} <= set(types)
    with container.uow(readonly=True) as uow:
        issued = [r.event for r in uow.audit.chain(laposte.id) if r.event.type == "oidc.token_issued"]
    assert issued[0].details["grant_type"] == CIBA and issued[0].subject == f"account:{account.id}"


def test_without_offline_access_there_is_no_refresh_token(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    bank: Registered,
    phone: tuple[Device, SoftDevice],
) -> None:
    auth_req_id = started(browser, bank, scope="openid email")
    answer(container, laposte, *phone, Decision.APPROVE)
    response = poll(browser, bank, auth_req_id)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json() and response.json()["scope"] == "openid email"


# -- polling ---------------------------------------------------------------------------------------------------


def test_polling_faster_than_the_interval_is_slow_down(
    browser: TestClient, clock: FrozenClock, bank: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    auth_req_id = started(browser, bank)
    assert_error(poll(browser, bank, auth_req_id), "authorization_pending")
    clock.advance(seconds=2)
    assert_error(poll(browser, bank, auth_req_id), "slow_down")
    clock.advance(seconds=3)
    assert_error(poll(browser, bank, auth_req_id), "authorization_pending")


def test_a_request_nobody_answers_expires(
    browser: TestClient, clock: FrozenClock, bank: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    auth_req_id = started(browser, bank)
    clock.advance(seconds=119)
    assert_error(poll(browser, bank, auth_req_id), "authorization_pending")
    clock.advance(seconds=1)
    assert_error(poll(browser, bank, auth_req_id), "expired_token")


def test_an_unknown_number_looks_like_a_person_who_does_not_answer(
    browser: TestClient, container: Container, clock: FrozenClock, laposte: Tenant, bank: Registered
) -> None:
    """No unknown_user_id: the same answer, a request stored with no account, then expired_token."""
    auth_req_id = started(browser, bank, login_hint=UNKNOWN_MOBILE)
    assert_error(poll(browser, bank, auth_req_id), "authorization_pending")
    clock.advance(seconds=121)
    assert_error(poll(browser, bank, auth_req_id), "expired_token")


def test_a_refusal_in_the_app_is_access_denied(
    browser: TestClient, container: Container, laposte: Tenant, bank: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    auth_req_id = started(browser, bank)
    assert answer(container, laposte, *phone, Decision.DENY) is DecisionStatus.DENIED
    assert_error(poll(browser, bank, auth_req_id), "access_denied")


def test_another_clients_auth_req_id_is_invalid_grant(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    bank: Registered,
    phone: tuple[Device, SoftDevice],
) -> None:
    other = register(container, laposte, "Autre service", grant_types=[CIBA])
    auth_req_id = started(browser, bank)
    answer(container, laposte, *phone, Decision.APPROVE)
    assert_error(poll(browser, other, auth_req_id), "invalid_grant")
    assert_error(poll(browser, bank, "not-an-auth-req-id"), "invalid_grant")
    # still the rightful client's to use
    assert poll(browser, bank, auth_req_id).status_code == 200


# -- the account's lockout rules ---------------------------------------------------------------------------


def test_a_locked_account_is_never_logged_in(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    bank: Registered,
    phone: tuple[Device, SoftDevice],
) -> None:
    """Locked before the person answers: the approval is refused; locked after: the tokens are."""
    device, soft = phone
    auth_req_id = started(browser, bank)
    container.accounts.lock(laposte, EMAIL, "test", CTX)
    assert answer(container, laposte, device, soft, Decision.APPROVE) is DecisionStatus.ACCOUNT_BARRED
    assert_error(poll(browser, bank, auth_req_id), "access_denied")

    container.accounts.unlock(laposte, EMAIL, CTX)
    auth_req_id = started(browser, bank)
    assert answer(container, laposte, device, soft, Decision.APPROVE) is DecisionStatus.APPROVED
    container.accounts.lock(laposte, EMAIL, "test", CTX)
    assert_error(poll(browser, bank, auth_req_id), "access_denied")
    assert "oidc.token_issued" not in tokens_support.audit_types(container, laposte)


def test_a_level_the_approval_does_not_reach_is_access_denied(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    bank: Registered,
    person: tuple[Account, VerifiedIdentity],
    phone: tuple[Device, SoftDevice],
) -> None:
    """eidas2 asked, the identity no longer usable when the person approves: no eidas1 tokens."""
    account, _identity = person
    auth_req_id = started(browser, bank, acr_values="eidas2")
    with container.uow() as uow:
        identity = uow.identities.of_account(account.id)
        assert identity is not None
        identity.app_activated_at = None
        uow.identities.save(identity)
        uow.commit()
    answer(container, laposte, *phone, Decision.APPROVE)
    assert_error(poll(browser, bank, auth_req_id), "access_denied")


# -- clients and requests that are refused -------------------------------------------------------------------


def test_a_client_without_the_grant_is_unauthorized(
    browser: TestClient, container: Container, laposte: Tenant, bank: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    plain = register(container, laposte, "Impots.gouv", grant_types=["client_credentials"], scopes=("openid",))
    assert_error(bc_authorize(browser, plain), "unauthorized_client")
    auth_req_id = started(browser, bank)
    assert_error(poll(browser, plain, auth_req_id), "unauthorized_client")


def test_the_client_must_authenticate(browser: TestClient, bank: Registered) -> None:
    wrong = Registered(bank.client, "not-the-secret")
    assert_error(bc_authorize(browser, wrong), "invalid_client", status=401)
    anonymous = browser.post("/laposte/bc-authorize", data={"scope": "openid", "login_hint": MOBILE})
    assert_error(anonymous, "invalid_client", status=401)


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"scope": None}, "invalid_request"),
        ({"scope": "profile email"}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"login_hint": None}, "invalid_request"),
        ({"login_hint": "01 23 45 67 89"}, "invalid_request"),
        ({"login_hint": "marie.ciba@example.fr"}, "invalid_request"),
        ({"id_token_hint": "eyJ.a.b"}, "invalid_request"),
        ({"login_hint": None, "login_hint_token": "eyJ.a.b"}, "invalid_request"),
        ({"claims": '{"id_token": {"acr": null}}'}, "invalid_request"),
        ({"request": "eyJ.a.b"}, "invalid_request"),
        ({"requested_expiry": "-5"}, "invalid_request"),
        ({"binding_message": None}, "invalid_binding_message"),
        ({"binding_message": "x" * 21}, "invalid_binding_message"),
        ({"binding_message": "ligne\nsuivante"}, "invalid_binding_message"),
    ],
)
def test_malformed_requests_are_refused_and_nothing_is_asked(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    bank: Registered,
    phone: tuple[Device, SoftDevice],
    form: dict[str, str | None],
    error: str,
) -> None:
    assert_error(bc_authorize(browser, bank, **form), error)
    assert container.approvals.pending_for_device(laposte, phone[0]) == []


def test_requests_per_number_are_limited(
    browser: TestClient, bank: Registered, phone: tuple[Device, SoftDevice]
) -> None:
    """No push bombing through CIBA either: the app policy's 3 requests per number per 10 minutes."""
    for _ in range(3):
        started(browser, bank)
    response = bc_authorize(browser, bank)
    assert_error(response, "access_denied", status=429)
    assert int(response.headers["retry-after"]) > 0


def test_a_client_requiring_a_confirmed_email_gets_no_one_without_one(
    browser: TestClient,
    container: Container,
    laposte: Tenant,
    bank: Registered,
    person: tuple[Account, VerifiedIdentity],
    phone: tuple[Device, SoftDevice],
) -> None:
    """As at the authorization endpoint (require_confirmed_email, the default)."""
    account, _identity = person
    with container.uow() as uow:
        stored = uow.accounts.get(account.id)
        assert stored is not None
        stored.email_verified_at = None
        uow.accounts.save(stored)
        uow.commit()
    auth_req_id = started(browser, bank)
    answer(container, laposte, *phone, Decision.APPROVE)
    assert_error(poll(browser, bank, auth_req_id), "access_denied")

"""The account page's digital identity: its status (none, an enrolment under way, verified), the
phone app's devices and their removal (a fresh authentication, an email, the audit log), and the
link to the registered letters."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.devices import Device, DeviceStatus
from sesame.domain.identity import CaseStatus
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from sesame.services.sessions import OpenedSession
from sesame.web.session import session_cookie_name
from tests.app_support import PASSWORD, activate, identity_of, verified_account
from tests.identity_support import walk
from tests.web.conftest import BASE_URL

EMAIL = "marie.compte@example.fr"
OTHER = "paul.autre@example.fr"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOW_RE = re.compile(r"^/laposte/account/factors/[A-Za-z0-9_-]{43}$")


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def verified(container: Container, tenant: Tenant) -> Account:
    return verified_account(container, tenant, EMAIL)[0]


@pytest.fixture
def device(container: Container, tenant: Tenant, verified: Account) -> Device:
    return activate(container, tenant, EMAIL, label="Pixel de Marie")[0]


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def plain_account(container: Container, tenant: Tenant, email: str = EMAIL) -> Account:
    new = NewAccount(email=email, given_name="Marie", family_name="Dupont", verified=True, terms_version="1")
    return container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))


def log_in(client: TestClient, container: Container, tenant: Tenant, account: Account) -> OpenedSession:
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="203.0.113.5", user_agent="t"
        )
        uow.commit()
    client.cookies.set(session_cookie_name(container.settings, tenant), opened.token)
    return opened


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def section(page: str) -> str:
    match = re.search(r'<section id="identity".*?</section>', page, re.S)
    assert match, "the account page has a digital identity section"
    return html.unescape(match.group(0))


def account_page(client: TestClient, query: str = "") -> str:
    response = client.get(f"/laposte/account{query}")
    assert response.status_code == 200
    return response.text


def ask_removal(client: TestClient, device_id: str) -> str:
    """ "Remove" beside the device; returns the factors flow's page."""
    token = csrf(account_page(client))
    response = client.post(
        "/laposte/account/devices/remove", data={"csrf_token": token, "device": device_id}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert FLOW_RE.match(response.headers["location"]), response.headers["location"]
    return str(response.headers["location"])


def submit(client: TestClient, flow_url: str, step: str, **fields: str) -> object:
    token = csrf(client.get(flow_url).text)
    return client.post(flow_url, data={"csrf_token": token, "step": step, **fields}, follow_redirects=False)


def device_of(container: Container, device_id: str) -> Device:
    with container.uow(readonly=True) as uow:
        found = uow.devices.get(device_id)
    assert found is not None
    return found


def audit(container: Container, tenant: Tenant, event: str) -> list[dict[str, object]]:
    with container.uow(readonly=True) as uow:
        return [r.event.details for r in uow.audit.chain(tenant.id) if r.event.type == event]


def emails(container: Container, template: str) -> list[str]:
    return [e.message.recipient for e in list_messages(container.uow, limit=500) if e.message.template == template]


# -- the identity's status ------------------------------------------------------------------------------------


def test_no_identity_yet_leads_to_the_wizard(client: TestClient, container: Container, tenant: Tenant) -> None:
    log_in(client, container, tenant, plain_account(container, tenant))
    text = section(account_page(client))
    assert 'data-identity-status="none"' in text
    assert "Identité Numérique" in text and 'href="/laposte/identity"' in text
    assert "Créer mon Identité Numérique" in text


def test_an_enrolment_under_way_says_its_stage_and_continues(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    account = plain_account(container, tenant)
    case = container.proofing.open_case(tenant, account, RequestContext(actor="test"))
    log_in(client, container, tenant, account)
    text = section(account_page(client, "?lang=en"))
    assert 'data-identity-status="in_progress"' in text and 'data-identity-case="terms"' in text
    assert "step 3 of 6, “Terms”" in text
    assert 'href="/laposte/identity"' in text and "Continue my request" in text
    # A case waiting for the post office says so.
    with container.uow() as uow:
        stored = uow.proofing.get(case.id)
        assert stored is not None
        walked = walk(stored, CaseStatus.IN_PERSON)
        uow.proofing.save(walked)
        uow.commit()
    text = section(account_page(client, "?lang=en"))
    assert 'data-identity-case="in_person"' in text and "step 5 of 6, “Verification”" in text
    assert "post office" in text


def test_a_verified_identity_without_the_app(client: TestClient, container: Container, tenant: Tenant) -> None:
    account, _ = verified_account(container, tenant, EMAIL)
    log_in(client, container, tenant, account)
    text = section(account_page(client))
    assert 'data-identity-status="verified"' in text
    assert 'data-identity-level="substantial"' in text and "Substantiel (eIDAS)" in text
    assert 'data-identity-app="not_activated"' in text
    assert 'href="/app/laposte/"' in text and "Activer l'application sur un téléphone" in text
    assert "Créer mon Identité Numérique" not in text
    assert "<table" not in text, "no device yet"


def test_a_verified_identity_with_its_app_lists_the_device(
    client: TestClient, container: Container, tenant: Tenant, verified: Account, device: Device
) -> None:
    log_in(client, container, tenant, verified)
    text = section(account_page(client, "?lang=en"))
    assert 'data-identity-app="activated"' in text and "Activated on" in text
    assert f'data-device="{device.id}" data-device-status="active"' in text
    assert "Pixel de Marie" in text and "Never" in text and "Active" in text
    assert f'name="device" value="{device.id}"' in text and 'action="/laposte/account/devices/remove"' in text


def test_a_tenant_without_identity_nor_app_shows_no_section(client: TestClient, container: Container) -> None:
    banque_free = container.tenants.get("poste-ch")
    account = plain_account(container, banque_free)
    log_in(client, container, banque_free, account)
    page = client.get("/poste-ch/account").text
    assert 'id="identity"' not in page
    token = csrf(page)
    refused = client.post("/poste-ch/account/devices/remove", data={"csrf_token": token, "device": "dv_x"})
    assert refused.status_code == 404


# -- removing a device ------------------------------------------------------------------------------------------


def test_removing_a_device_after_a_fresh_login(
    client: TestClient, container: Container, tenant: Tenant, verified: Account, device: Device
) -> None:
    log_in(client, container, tenant, verified)
    flow_url = ask_removal(client, device.id)
    confirm = client.get(flow_url)
    assert 'data-flow-state="confirm_removal"' in confirm.text
    assert "Pixel de Marie" in html.unescape(confirm.text)
    assert "votre seul appareil" in html.unescape(confirm.text), "the last device: the identity loses eidas2"
    assert device_of(container, device.id).status is DeviceStatus.ACTIVE, "nothing happens before the confirmation"
    done = submit(client, flow_url, "confirm_removal")
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = client.get(flow_url)
    assert 'data-factor-done="device_removed"' in page.text
    removed = device_of(container, device.id)
    assert removed.status is DeviceStatus.DISABLED and removed.disabled_reason == "removed"
    identity = identity_of(container, verified.id)
    assert identity is not None and identity.app_activated_at is None, "no active device left: not at eidas2"
    assert emails(container, "device_disabled") == [EMAIL]
    assert audit(container, tenant, "device.disabled")[-1]["reason"] == "removed"
    # The account page shows it removed, without a button.
    text = section(account_page(client))
    assert 'data-device-status="disabled"' in text and 'name="device"' not in text
    assert 'data-identity-app="not_activated"' in text
    # The same "Remove" again: nothing to remove.
    token = csrf(account_page(client))
    again = client.post(
        "/laposte/account/devices/remove", data={"csrf_token": token, "device": device.id}, follow_redirects=False
    )
    assert again.headers["location"] == "/laposte/account?notice=factor_unavailable#identity"
    assert emails(container, "device_disabled") == [EMAIL]


def test_an_old_login_asks_for_the_password_first(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, verified: Account, device: Device
) -> None:
    log_in(client, container, tenant, verified)
    clock.advance(seconds=tenant.policy.mfa.fresh_auth_seconds + 60)
    flow_url = ask_removal(client, device.id)
    assert 'data-flow-state="reauthenticate"' in client.get(flow_url).text
    wrong = submit(client, flow_url, "reauthenticate", current_password="Not-the-password-1")
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    assert device_of(container, device.id).active
    assert audit(container, tenant, "factor.reauthentication_refused")
    right = submit(client, flow_url, "reauthenticate", current_password=PASSWORD)
    assert right.status_code == 303  # type: ignore[attr-defined]
    assert 'data-flow-state="confirm_removal"' in client.get(flow_url).text
    assert device_of(container, device.id).active
    submit(client, flow_url, "confirm_removal")
    assert not device_of(container, device.id).active


def test_a_confirmation_left_open_too_long_asks_again(
    client: TestClient, container: Container, clock: FrozenClock, tenant: Tenant, verified: Account, device: Device
) -> None:
    log_in(client, container, tenant, verified)
    flow_url = ask_removal(client, device.id)
    clock.advance(seconds=tenant.policy.mfa.fresh_auth_seconds + 1)
    submit(client, flow_url, "confirm_removal")
    assert 'data-flow-state="reauthenticate"' in client.get(flow_url).text
    assert device_of(container, device.id).active


def test_removal_needs_the_csrf_token(
    client: TestClient, container: Container, tenant: Tenant, verified: Account, device: Device
) -> None:
    log_in(client, container, tenant, verified)
    account_page(client)
    forged = client.post("/laposte/account/devices/remove", data={"device": device.id}, follow_redirects=False)
    assert forged.status_code == 403
    assert device_of(container, device.id).active


def test_another_accounts_device_cannot_be_removed(
    client: TestClient,
    other_browser: TestClient,
    container: Container,
    tenant: Tenant,
    verified: Account,
    device: Device,
) -> None:
    log_in(other_browser, container, tenant, plain_account(container, tenant, OTHER))
    token = csrf(other_browser.get("/laposte/account").text)
    for device_id in (device.id, "dv_unknown", "x" * 500):
        refused = other_browser.post(
            "/laposte/account/devices/remove", data={"csrf_token": token, "device": device_id}, follow_redirects=False
        )
        assert refused.headers["location"] == "/laposte/account?notice=factor_unavailable#identity"
    assert device_of(container, device.id).active
    # Nor through a flow of the owner's opened in another browser.
    log_in(client, container, tenant, verified)
    flow_url = ask_removal(client, device.id)
    stolen = other_browser.post(flow_url, data={"csrf_token": token, "step": "confirm_removal"}, follow_redirects=False)
    assert stolen.status_code in (303, 403)
    assert device_of(container, device.id).active


def test_logged_out_the_form_goes_to_the_login(client: TestClient, container: Container, device: Device) -> None:
    token = csrf(client.get("/laposte/login/app").text)  # any page with a form: the CSRF cookie
    response = client.post(
        "/laposte/account/devices/remove", data={"csrf_token": token, "device": device.id}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/laposte/login")
    assert device_of(container, device.id).active


# -- registered letters -----------------------------------------------------------------------------------------


def test_the_registered_letters_link_appears_with_a_letter(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    account = plain_account(container, tenant)
    log_in(client, container, tenant, account)
    assert 'href="/laposte/letters"' not in account_page(client)
    with container.uow() as uow:
        container.registered_letters.send(
            uow, tenant, account, "Votre code", "Bonjour", purpose="proofing:1", now=container.clock.now()
        )
        uow.commit()
    page = html.unescape(account_page(client))
    assert 'href="/laposte/letters"' in page and "Mes courriers recommandés" in page
    assert 'data-letters-unopened="1"' in page

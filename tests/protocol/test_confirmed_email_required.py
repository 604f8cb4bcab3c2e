"""A client may take only people whose email address is confirmed (ClientMetadata.require_confirmed_email).

On a tenant that lets people log in before confirming (poste-ch-like policies), such a person
is told how to finish (the confirm-email page) instead of being sent back to the client, and
comes back to the same request once confirmed. prompt=none gets interaction_required.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from tests.protocol.authorize_support import (
    RESUME_RE,
    assert_code,
    assert_error,
    authorize,
    browser,
    demo_app,
    location,
    log_in_directly,
    register,
)

__all__ = ["browser"]  # fixtures

EMAIL = "lea.petit@example.fr"
PASSWORD = "Lea-Petit-2026"


@pytest.fixture
def app(container: Container) -> FastAPI:
    """The demo, with laposte letting people log in before they confirm their address, and
    Léa, who has not confirmed hers."""
    built = demo_app(container)
    container.tenants.update_policy("laposte", {"require_confirmed_email": False}, actor="test")
    laposte = container.tenants.get("laposte")
    new = NewAccount(email=EMAIL, given_name="Léa", family_name="Petit", verified=False)
    container.accounts.create(laposte, new, PASSWORD, RequestContext(actor="test"))
    return built


@pytest.fixture
def laposte(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


def confirm(container: Container, laposte: Tenant) -> None:
    with container.uow() as uow:
        account = uow.accounts.by_email(laposte.id, EMAIL)
        assert account is not None
        account.email_verified_at = container.clock.now()
        uow.accounts.save(account)
        uow.commit()


def test_an_unconfirmed_person_is_told_how_to_finish(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    client = register(container, laposte, "Strict", skip_consent=True, require_confirmed_email=True)
    log_in_directly(browser, EMAIL, PASSWORD)
    response = authorize(browser, client)
    assert response.status_code == 403 and "location" not in response.headers
    assert 'data-oidc-page="confirm_email"' in response.text
    assert "/laposte/confirm-email/resend?email=lea.petit%40example.fr" in response.text
    resume = next(
        part.split('"')[0] for part in response.text.split('href="')[1:] if RESUME_RE.match(part.split('"')[0])
    )
    # Still unconfirmed: the same page again. Once confirmed, the same request goes on.
    assert browser.get(resume).status_code == 403
    confirm(container, laposte)
    assert_code(browser.get(resume))


def test_prompt_none_gets_interaction_required(browser: TestClient, container: Container, laposte: Tenant) -> None:
    client = register(container, laposte, "Strict", skip_consent=True, require_confirmed_email=True)
    log_in_directly(browser, EMAIL, PASSWORD)
    assert_error(authorize(browser, client, prompt="none"), "interaction_required")


def test_a_client_that_does_not_require_it_lets_the_person_through(
    browser: TestClient, container: Container, laposte: Tenant
) -> None:
    client = register(container, laposte, "Lenient", skip_consent=True, require_confirmed_email=False)
    log_in_directly(browser, EMAIL, PASSWORD)
    assert_code(authorize(browser, client))


def test_a_confirmed_person_goes_straight_through(browser: TestClient, container: Container, laposte: Tenant) -> None:
    client = register(container, laposte, "Strict", skip_consent=True, require_confirmed_email=True)
    log_in_directly(browser)  # the demo account is confirmed
    assert location(authorize(browser, client)).startswith("https://rp.example/callback?code=")

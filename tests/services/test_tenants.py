"""Tenant service and the demo tenants, on the real test database."""

from __future__ import annotations

import pytest

from sesame.bootstrap import Container
from sesame.domain.errors import AlreadyExists, InvalidInput, NotFound
from sesame.domain.tenants import CredentialKind, IdentifierKind
from sesame.services.demo import load_demo


def test_create_and_get(container: Container) -> None:
    created = container.tenants.create("acme", "  ACME  ")
    assert created.name == "ACME"
    assert container.tenants.get("acme") == created
    assert [t.slug for t in container.tenants.list()] == ["acme"]


def test_duplicate_and_bad_slug(container: Container) -> None:
    container.tenants.create("acme", "ACME")
    with pytest.raises(AlreadyExists):
        container.tenants.create("acme", "Other")
    with pytest.raises(InvalidInput):
        container.tenants.create("Not A Slug", "x")
    with pytest.raises(InvalidInput):
        container.tenants.create("ok", "   ")
    with pytest.raises(NotFound):
        container.tenants.get("nobody")


def test_policy_update_is_validated_and_merged(container: Container) -> None:
    container.tenants.create("acme", "ACME")
    updated = container.tenants.update_policy("acme", {"password": {"min_length": 20}})
    assert updated.policy.password.min_length == 20
    assert updated.policy.password.max_length == 128  # untouched parts kept
    with pytest.raises(InvalidInput):
        container.tenants.update_policy("acme", {"password": {"min_length": 2}})
    assert container.tenants.get("acme").policy.password.min_length == 20


def test_demo_tenants_match_the_design(container: Container) -> None:
    assert load_demo(container.tenants) == [("laposte", "created"), ("banque", "created"), ("poste-ch", "created")]
    laposte, banque, poste_ch = (container.tenants.get(s) for s in ("laposte", "banque", "poste-ch"))
    assert laposte.policy.password.min_length == 8
    assert laposte.policy.password.require_upper and laposte.policy.password.require_digit
    assert laposte.policy.identity.enabled
    assert banque.policy.identifier is IdentifierKind.CUSTOMER_NUMBER
    assert banque.policy.credentials == (CredentialKind.KEYPAD_CODE,)
    assert banque.policy.lockout.max_failures == 3
    assert banque.policy.lockout.suspension_seconds == 3600
    assert poste_ch.policy.password.min_length >= 15


def test_demo_load_is_idempotent(container: Container) -> None:
    load_demo(container.tenants)
    container.tenants.update_policy("banque", {"lockout": {"max_failures": 9}})
    assert load_demo(container.tenants) == [("laposte", "updated"), ("banque", "updated"), ("poste-ch", "updated")]
    assert container.tenants.get("banque").policy.lockout.max_failures == 3
    assert len(container.tenants.list()) == 3

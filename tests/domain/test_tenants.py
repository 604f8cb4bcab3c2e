"""Tenant policies are validated data."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sesame.domain.tenants import (
    Branding,
    CredentialKind,
    IdentifierKind,
    Languages,
    PasswordPolicy,
    TenantPolicy,
    validate_slug,
)


def test_default_password_policy_is_length_first() -> None:
    policy = TenantPolicy().password
    assert policy.min_length >= 15
    assert policy.max_length >= 64
    assert not (policy.require_upper or policy.require_lower or policy.require_digit or policy.require_symbol)
    assert policy.reject_blocklisted


def test_policy_round_trips_through_json() -> None:
    policy = TenantPolicy(password=PasswordPolicy(min_length=8, require_digit=True))
    assert TenantPolicy.model_validate_json(policy.model_dump_json()) == policy


@pytest.mark.parametrize(
    "changes",
    [
        {"password": {"min_length": 200, "max_length": 100}},
        {"languages": {"default": "de", "available": ["fr", "en"]}},
        {"branding": {"primary_color": "red"}},
        {"identifier": "customer_number", "credentials": ["password"]},
        {"credentials": []},
        {"unknown_rule": True},
    ],
)
def test_inconsistent_policies_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TenantPolicy.model_validate(changes)


def test_customer_number_tenant_with_keypad() -> None:
    policy = TenantPolicy(identifier=IdentifierKind.CUSTOMER_NUMBER, credentials=(CredentialKind.KEYPAD_CODE,))
    assert policy.identifier is IdentifierKind.CUSTOMER_NUMBER


def test_branding_colour_normalised() -> None:
    assert Branding(primary_color="#ABCDEF").primary_color == "#abcdef"
    assert Languages().default == "fr"


@pytest.mark.parametrize("slug", ["laposte", "poste-ch", "b2", "a"])
def test_valid_slugs(slug: str) -> None:
    assert validate_slug(slug) == slug


@pytest.mark.parametrize("slug", ["", "LaPoste", "-x", "x-", "a b", "static", "_dev", "healthz", "a" * 41, "é"])
def test_invalid_slugs(slug: str) -> None:
    with pytest.raises(ValueError):
        validate_slug(slug)

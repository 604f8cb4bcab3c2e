"""Scope values to claims (OpenID Connect Core §5.4) and the ``claims`` request parameter (§5.5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sesame.domain.accounts import Account, AccountStatus
from sesame.oidc.claims import (
    IDENTITY_CLAIMS,
    InvalidClaimsRequest,
    identity_claims_requested,
    parse_claims_request,
    release,
    requested_claims,
    scope_claims,
)

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def person(**changes: object) -> Account:
    account = Account(
        id=7,
        tenant_id=1,
        email="camille.martin@example.fr",
        email_verified_at=NOW,
        given_name="Camille",
        family_name="Martin",
        status=AccountStatus.ACTIVE,
        locale="fr",
        created_at=NOW,
        updated_at=NOW,
    )
    for name, value in changes.items():
        setattr(account, name, value)
    return account


def test_scope_values_of_core_5_4() -> None:
    assert scope_claims(["email"]) == {"email", "email_verified"}
    assert scope_claims(["phone"]) == {"phone_number", "phone_number_verified"}
    assert scope_claims(["address"]) == {"address"}
    assert {"name", "given_name", "family_name", "locale", "updated_at"} <= scope_claims(["profile"])
    assert scope_claims(["openid", "offline_access", "unknown"]) == frozenset()
    assert scope_claims(["identite_pivot"]) == IDENTITY_CLAIMS - {"preferred_username"}


def test_the_claims_parameter_is_checked_and_reduced() -> None:
    raw = (
        '{"userinfo": {"email": {"essential": true}, "name": null},'
        ' "id_token": {"acr": {"values": ["eidas2"]}}, "x": 1}'
    )
    assert parse_claims_request(raw) == {
        "userinfo": {"email": {"essential": True}, "name": None},
        "id_token": {"acr": {"values": ["eidas2"]}},
    }
    assert parse_claims_request(None) == {} == parse_claims_request("")


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"userinfo": []}',
        '{"id_token": {"email": 1}}',
        '{"userinfo": {"email": {"essential": 1}}}',
        '{"userinfo": {"email": {"values": "a"}}}',
        '{"userinfo": {"a": null}, "pad": "' + "x" * 5000 + '"}',
    ],
)
def test_malformed_claims_parameters(raw: str) -> None:
    with pytest.raises(InvalidClaimsRequest):
        parse_claims_request(raw)


def test_requested_claims_per_member() -> None:
    request = {"id_token": {"email": None}, "userinfo": {"name": None}}
    assert requested_claims(["openid", "email"], request, "userinfo") == {"email", "email_verified", "name"}
    # scope claims go to userinfo only: an access token is always issued (§5.4)
    assert requested_claims(["openid", "email"], request, "id_token") == {"email"}


def test_identity_claims_requested_by_scope_or_parameter() -> None:
    assert identity_claims_requested(["openid", "email"], {}) == frozenset()
    assert identity_claims_requested(["profile"], {}) >= {"given_name", "family_name", "birthdate"}
    assert identity_claims_requested(["openid"], {"userinfo": {"birthplace": None}}) == {"birthplace"}


def test_release_takes_identity_claims_only_from_a_verified_identity() -> None:
    names = scope_claims(["profile", "email"])
    released = release(names, person())
    assert released == {
        "name": "Camille Martin",
        "locale": "fr",
        "updated_at": int(NOW.timestamp()),
        "email": "camille.martin@example.fr",
        "email_verified": True,
    }
    verified = {"given_name": "CAMILLE", "family_name": "MARTIN", "birthdate": "1990-04-01", "birthplace": "75056"}
    with_identity = release(names | {"birthplace"}, person(), identity=verified)
    assert with_identity["given_name"] == "CAMILLE" and with_identity["birthplace"] == "75056"


def test_release_leaves_out_what_the_account_does_not_have() -> None:
    released = release(scope_claims(["email", "phone", "address"]), person(email=None, email_verified_at=None))
    assert released == {}
    assert release({"name"}, person(given_name="", family_name="")) == {}
    assert release({"email_verified"}, person(email_verified_at=None)) == {"email_verified": False}

"""``POST /api/{tenant}/customers``: the bank enrols a customer with an admin API key.

Every bad request gets a clear 4xx in JSON and creates nothing (no account, no letter).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.bootstrap import Container
from sesame.domain.customer_numbers import is_customer_number
from sesame.services.api_keys import ApiKeys
from sesame.services.banque import CODE_LETTER_DELAY, CUSTOMER_NUMBER_LETTER, FIRST_CODE_LETTER
from sesame.services.context import CLI
from tests.banque_support import bank, code_in, letters

URL = "/api/banque/customers"
CUSTOMER = {
    "given_name": "Marie",
    "family_name": "Dupont",
    "address": ["12 rue des Lilas", "75011 Paris"],
    "birth_date": "1985-04-07",
}


@pytest.fixture
def api_key(app: FastAPI, container: Container) -> str:
    return ApiKeys(container.uow, container.clock, container.keyed).create(bank(container), "back office", CLI).secret


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(client: TestClient, key: str | None, body: Any = CUSTOMER, **headers: str) -> Any:
    sent = {**(auth(key) if key else {}), **headers}
    if isinstance(body, bytes | str):
        sent.setdefault("Content-Type", "application/json")
        return client.post(URL, content=body, headers=sent)
    return client.post(URL, json=body, headers=sent)


def nothing_created(container: Container) -> bool:
    with container.uow(readonly=True) as uow:
        return not uow.accounts.list(bank(container).id) and not letters(container)


def test_enrolment(client: TestClient, container: Container, api_key: str) -> None:
    response = post(client, api_key)
    assert response.status_code == 201, response.text
    data = response.json()
    assert is_customer_number(data["customer_number"])
    assert [letter["template"] for letter in data["letters"]] == [CUSTOMER_NUMBER_LETTER, FIRST_CODE_LETTER]
    not_before = datetime.fromisoformat(data["letters"][1]["not_before"])
    assert not_before == container.clock.now() + CODE_LETTER_DELAY
    number_letter, code_letter = letters(container)
    assert data["customer_number"] in (number_letter.body_text or "")
    code = code_in(code_letter)
    assert code not in response.text  # the code goes by post only
    with container.uow(readonly=True) as uow:
        account = uow.accounts.get(data["account_id"])
        records = uow.audit.chain(bank(container).id)
    assert account is not None and account.given_name == "Marie"
    enrolled = [r for r in records if r.event.type == "customer.enrolled"]
    assert enrolled[0].event.actor.startswith("api_key:") and code not in json.dumps(enrolled[0].event.details)


@pytest.mark.parametrize(
    "key",
    [None, "sk_000000000000_" + "A" * 43, "not-a-key", "Basic dXNlcjpwYXNz"],
)
def test_a_valid_key_is_required(client: TestClient, container: Container, api_key: str, key: str | None) -> None:
    response = post(client, key)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key" and response.headers["www-authenticate"].startswith("Bearer")
    assert nothing_created(container)


def test_a_revoked_key_no_longer_works(client: TestClient, container: Container, api_key: str) -> None:
    keys = ApiKeys(container.uow, container.clock, container.keyed)
    keys.revoke(bank(container), api_key.split("_")[1], CLI)
    assert post(client, api_key).status_code == 401
    assert nothing_created(container)


def test_another_tenants_key_does_not_work(client: TestClient, container: Container) -> None:
    bank(container)
    laposte_key = ApiKeys(container.uow, container.clock, container.keyed).create(
        container.tenants.get("laposte"), "laposte", CLI
    )
    assert post(client, laposte_key.secret).status_code == 401
    # ... and the tenant itself does not enrol customers.
    response = client.post("/api/laposte/customers", json=CUSTOMER, headers=auth(laposte_key.secret))
    assert response.status_code == 404 and response.json()["error"] == "not_offered"


def test_an_unknown_tenant(client: TestClient, api_key: str) -> None:
    response = client.post("/api/nobody/customers", json=CUSTOMER, headers=auth(api_key))
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CUSTOMER, "given_name": ""}, "given_name"),
        ({key: value for key, value in CUSTOMER.items() if key != "family_name"}, "family_name"),
        ({**CUSTOMER, "address": []}, "address"),
        ({key: value for key, value in CUSTOMER.items() if key != "address"}, "address"),
        ({**CUSTOMER, "address": "12 rue des Lilas"}, "address"),
        ({**CUSTOMER, "address": ["  "]}, "address"),
        ({**CUSTOMER, "birth_date": "07/04/1985"}, "birth_date"),
        ({**CUSTOMER, "birth_date": "2999-01-01"}, "birth_date"),
        ({**CUSTOMER, "locale": "de"}, "locale"),
        ({**CUSTOMER, "code": "123456"}, "code"),  # no field of ours: refused, not ignored
        ({**CUSTOMER, "given_name": "Ma\x00rie"}, "given_name"),
        ([CUSTOMER], ""),
    ],
)
def test_invalid_fields(client: TestClient, container: Container, api_key: str, body: Any, field: str) -> None:
    response = post(client, api_key, body)
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["error"] == "invalid_input" and data["correlation_id"]
    assert any(field in detail["loc"] or not field for detail in data["details"]), data
    assert "Ma\x00rie" not in response.text  # what was sent is not echoed
    assert nothing_created(container)


def test_malformed_json(client: TestClient, container: Container, api_key: str) -> None:
    response = post(client, api_key, b'{"given_name": "Marie",')
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"
    assert nothing_created(container)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type(client: TestClient, container: Container, api_key: str, content_type: str) -> None:
    response = client.post(URL, content=json.dumps(CUSTOMER), headers={**auth(api_key), "Content-Type": content_type})
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"
    assert nothing_created(container)


def test_too_large(client: TestClient, container: Container, api_key: str) -> None:
    response = post(client, api_key, json.dumps({**CUSTOMER, "given_name": "x" * 20000}))
    assert response.status_code == 413
    assert nothing_created(container)


def test_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/{tenant}/customers"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "given_name",
        "family_name",
        "address",
    ]
    assert {"201", "401", "415", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"HTTPBearer": []}]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"

"""The search boxes' JSON: towns and countries, public, cacheable, in the OpenAPI schema, 422 on bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_towns_by_name(client: TestClient) -> None:
    response = client.get("/api/referentials/towns", params={"q": "brest"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "public, max-age=86400"
    towns = response.json()["towns"]
    assert towns[0] == {
        "code": "29019",
        "name": "Brest",
        "department": "29",
        "label": "Brest (29)",
        "kind": "commune",
        "postcodes": ["29200"],
        "current_code": None,
        "valid_until": None,
    }
    assert "set-cookie" not in response.headers  # the same answer for everyone


def test_towns_by_postcode_and_former_communes(client: TestClient) -> None:
    by_postcode = client.get("/api/referentials/towns", params={"q": "75011"}).json()["towns"]
    assert [town["code"] for town in by_postcode] == ["75056", "75111"]
    former = client.get("/api/referentials/towns", params={"q": "Voisinlieu"}).json()["towns"][0]
    assert (former["kind"], former["current_code"]) == ("former", "60057")
    chisa = client.get("/api/referentials/towns", params={"q": "chisa"}).json()["towns"]
    assert any(town["code"] == "20366" and town["valid_until"] == "1976-01-01" for town in chisa)


def test_the_limit(client: TestClient) -> None:
    towns = client.get("/api/referentials/towns", params={"q": "saint", "limit": 50}).json()["towns"]
    assert len(towns) == 50
    assert len(client.get("/api/referentials/towns", params={"q": "saint"}).json()["towns"]) == 10


def test_countries(client: TestClient) -> None:
    response = client.get("/api/referentials/countries", params={"q": "allem"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=86400"
    first = response.json()["countries"][0]
    assert first == {"code": "99109", "name": "Allemagne", "other_names": [], "iso2": "DE"}
    france = client.get("/api/referentials/countries", params={"q": "France"}).json()["countries"][0]
    assert france["code"] == "99100"
    jersey = client.get("/api/referentials/countries", params={"q": "jersey"}).json()["countries"]
    assert [country["code"] for country in jersey] == ["99132"]


@pytest.mark.parametrize("path", ["/api/referentials/towns", "/api/referentials/countries"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "paris", "limit": "0"}, "limit"),
        ({"q": "paris", "limit": "51"}, "limit"),
        ({"q": "paris", "limit": "ten"}, "limit"),
    ],
)
def test_bad_queries_get_a_clear_422(client: TestClient, path: str, params: dict[str, str], field: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["correlation_id"]
    assert [problem["loc"] for problem in body["details"]] == [["query", field]]
    assert "x" * 101 not in response.text  # what was sent is not echoed


def test_nothing_found_is_an_empty_list(client: TestClient) -> None:
    assert client.get("/api/referentials/towns", params={"q": "zzzzzz"}).json() == {"towns": []}
    assert client.get("/api/referentials/countries", params={"q": "atlantide"}).json() == {"countries": []}


def test_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    towns = paths["/api/referentials/towns"]["get"]
    assert {parameter["name"] for parameter in towns["parameters"]} == {"q", "limit"}
    q = next(parameter for parameter in towns["parameters"] if parameter["name"] == "q")
    assert q["required"] is True and q["schema"]["maxLength"] == 100
    assert "TownsOut" in towns["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "/api/referentials/countries" in paths

"""The back office in the web: login (CSRF, generic errors, its own cookie), queue, case, images,
decisions, idle timeout, logout, the one-time password's replacement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.agents import BACKOFFICE_IDLE_SECONDS, Agent, InPersonCheck
from sesame.domain.identity import CaseStatus, MrzOutcome, VerificationMethod
from sesame.domain.tenants import Tenant
from tests.backoffice.support import (
    ADMIN,
    AGENT_PASSWORD,
    DECIDE_AT,
    MISMATCH_DETAIL,
    audit,
    documents_of,
    make_agent,
    reload,
    specimen_images,
    store_case,
)
from tests.web.conftest import BASE_URL

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "__Secure-sesame_backoffice"
CHECKS = [check.value for check in InPersonCheck]


@pytest.fixture
def laposte(app: FastAPI, container: Container, clock: FrozenClock) -> Tenant:
    clock.set(DECIDE_AT)
    return container.tenants.get("laposte")


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def log_in(client: TestClient, email: str, password: str = AGENT_PASSWORD, **extra: str) -> object:
    page = client.get("/backoffice/login")
    assert page.status_code == 200
    form = {"csrf_token": csrf(page.text), "email": email, "password": password, **extra}
    return client.post("/backoffice/login", data=form, follow_redirects=False)


def logged_in(client: TestClient, agent: Agent) -> None:
    response = log_in(client, agent.email)
    assert response.status_code == 303 and response.headers["location"] == "/backoffice"  # type: ignore[attr-defined]


def test_login_page_is_french_by_default_and_english_on_request(client: TestClient, laposte: Tenant) -> None:
    page = client.get("/backoffice/login")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert 'for="email"' in page.text and 'autocomplete="current-password"' in page.text
    assert "Se connecter" in page.text
    english = client.get("/backoffice/login?lang=en")
    assert '<html lang="en">' in english.text and "Log in" in english.text


def test_login_sets_a_strict_cookie_for_the_back_office_only(
    client: TestClient, container: Container, laposte: Tenant
) -> None:
    agent = make_agent(container, ["clerk"], email="claire@laposte.example")
    response = log_in(client, "Claire@LaPoste.example")
    assert response.status_code == 303  # type: ignore[attr-defined]
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE))  # type: ignore[attr-defined]
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie[COOKIE]
    assert morsel["path"] == "/backoffice" and morsel["samesite"] == "Strict"
    assert morsel["secure"] and morsel["httponly"]
    assert [r.event.type for r in audit(container, None, "backoffice.login")] == ["backoffice.login"]
    queue = client.get("/backoffice")
    assert queue.status_code == 200 and agent.display_name in queue.text
    assert queue.headers["cache-control"] == "no-store"


def test_login_errors_are_generic(client: TestClient, container: Container, laposte: Tenant) -> None:
    make_agent(container, ["clerk"], email="claire@laposte.example")
    wrong = log_in(client, "claire@laposte.example", "not-the-password")
    unknown = log_in(client, "nobody@laposte.example")
    assert wrong.status_code == unknown.status_code == 401  # type: ignore[attr-defined]
    assert "L’adresse e-mail ou le mot de passe n’est pas bon." in wrong.text  # type: ignore[attr-defined]
    assert wrong.text.count("alert") == unknown.text.count("alert")  # type: ignore[attr-defined]
    assert COOKIE not in str(wrong.headers)  # type: ignore[attr-defined]


def test_forms_need_their_csrf_token(client: TestClient, container: Container, laposte: Tenant) -> None:
    agent = make_agent(container, ["clerk"])
    client.get("/backoffice/login")
    refused = client.post("/backoffice/login", data={"email": agent.email, "password": AGENT_PASSWORD})
    assert refused.status_code == 403
    logged_in(client, agent)
    stored = store_case(container, laposte)
    form = {"decision": "approve", "checks": CHECKS, "day_code": stored.day_code}
    assert client.post(f"/backoffice/cases/{stored.case.id}/in-person", data=form).status_code == 403
    assert client.post("/backoffice/logout", data={}).status_code == 403
    assert reload(container, stored.case.id).status is CaseStatus.IN_PERSON


def test_pages_need_a_logged_in_agent(client: TestClient, container: Container, laposte: Tenant) -> None:
    stored = store_case(container, laposte)
    for path in (
        "/backoffice",
        f"/backoffice/cases/{stored.case.id}",
        f"/backoffice/cases/{stored.case.id}/documents/0",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/backoffice/login?return_to=/backoffice")
    # A customer's session is no agent's session.
    assert client.get("/backoffice", follow_redirects=False).status_code == 303


def test_the_login_brings_the_agent_back(client: TestClient, container: Container, laposte: Tenant) -> None:
    agent = make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    back = f"/backoffice/cases/{stored.case.id}"
    assert log_in(client, agent.email, return_to=back).headers["location"] == back  # type: ignore[attr-defined]
    assert log_in(client, agent.email, return_to="//evil.example/").headers["location"] == "/backoffice"  # type: ignore[attr-defined]


def test_queue_case_and_decision(client: TestClient, container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"], name="Claire Guichet")
    stored = store_case(container, laposte)
    other = store_case(container, container.tenants.get("poste-ch"))
    logged_in(client, clerk)

    queue = client.get("/backoffice")
    assert f'data-case="{stored.case.id}"' in queue.text and f'data-case="{other.case.id}"' not in queue.text
    assert "Marie Louise Dupont" in queue.text

    page = client.get(f"/backoffice/cases/{stored.case.id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'data-mrz="match"' in page.text and f"/backoffice/cases/{stored.case.id}/documents/0" in page.text
    assert stored.account.email not in page.text and "+33612345678" not in page.text
    image = client.get(f"/backoffice/cases/{stored.case.id}/documents/0")
    assert image.status_code == 200 and image.content == specimen_images()[0]
    assert image.headers["content-type"] == "image/png" and image.headers["cache-control"] == "no-store"

    wrong = client.post(
        f"/backoffice/cases/{stored.case.id}/in-person",
        data={
            "csrf_token": csrf(page.text),
            "decision": "approve",
            "checks": CHECKS,
            "day_code": "000000" if stored.day_code != "000000" else "111111",
        },
    )
    assert wrong.status_code == 400 and "code du jour" in wrong.text and "4 essais restants" in wrong.text
    assert "checked" in wrong.text  # the ticks are kept

    done = client.post(
        f"/backoffice/cases/{stored.case.id}/in-person",
        data={"csrf_token": csrf(page.text), "decision": "approve", "checks": CHECKS, "day_code": stored.day_code},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/backoffice?done={stored.case.id}&outcome=approved"
    assert "code d’activation" in client.get(done.headers["location"]).text
    assert reload(container, stored.case.id).status is CaseStatus.ACTIVATION
    # Decided: the images are gone, the case no longer opens.
    assert client.get(f"/backoffice/cases/{stored.case.id}/documents/0").status_code == 404
    assert client.get(f"/backoffice/cases/{stored.case.id}").status_code == 404
    assert documents_of(container, stored.case.id) == 0


def test_the_mrz_mismatch_is_shown_field_by_field(client: TestClient, container: Container, laposte: Tenant) -> None:
    clerk = make_agent(container, ["clerk"])
    stored = store_case(container, laposte, mrz=MrzOutcome.MISMATCH, mrz_detail=MISMATCH_DETAIL)
    logged_in(client, clerk)
    page = client.get(f"/backoffice/cases/{stored.case.id}")
    assert 'data-mrz="mismatch"' in page.text and 'data-field="birth_date"' in page.text
    assert "850616" in page.text and "1985-06-14" in page.text
    assert "superviseur" in page.text  # approving would need a second approval


def test_a_second_decision_gets_a_clear_message(
    client: TestClient, other_browser: TestClient, container: Container, laposte: Tenant
) -> None:
    first, second = make_agent(container, ["clerk"]), make_agent(container, ["clerk"])
    stored = store_case(container, laposte)
    logged_in(client, first)
    logged_in(other_browser, second)
    page_1 = client.get(f"/backoffice/cases/{stored.case.id}")
    page_2 = other_browser.get(f"/backoffice/cases/{stored.case.id}")
    form = {"decision": "reject", "reason": "Not the person"}
    assert (
        client.post(
            f"/backoffice/cases/{stored.case.id}/in-person",
            data={**form, "csrf_token": csrf(page_1.text)},
            follow_redirects=False,
        ).status_code
        == 303
    )
    late = other_browser.post(
        f"/backoffice/cases/{stored.case.id}/in-person", data={**form, "csrf_token": csrf(page_2.text)}
    )
    assert late.status_code == 409 and 'data-conflict="case_already_decided"' in late.text
    assert "Un autre agent a décidé" in late.text
    again = client.post(f"/backoffice/cases/{stored.case.id}/in-person", data={**form, "csrf_token": csrf(page_1.text)})
    assert again.status_code == 409 and "Vous avez déjà décidé" in again.text  # a double submit


def test_a_postman_cannot_open_an_online_case(client: TestClient, container: Container, laposte: Tenant) -> None:
    postman = make_agent(container, ["postman"])
    online = store_case(container, laposte, VerificationMethod.ONLINE)
    logged_in(client, postman)
    assert client.get(f"/backoffice/cases/{online.case.id}").status_code == 404
    assert client.get(f"/backoffice/cases/{online.case.id}/documents/0").status_code == 404
    page = client.get("/backoffice")
    response = client.post(
        f"/backoffice/cases/{online.case.id}/review", data={"csrf_token": csrf(page.text), "action": "approve"}
    )
    assert response.status_code == 404
    assert reload(container, online.case.id).status is CaseStatus.ONLINE_REVIEW


def test_a_reviewer_asks_for_a_new_video(client: TestClient, container: Container, laposte: Tenant) -> None:
    reviewer = make_agent(container, ["reviewer"])
    online = store_case(container, laposte, VerificationMethod.ONLINE)
    logged_in(client, reviewer)
    page = client.get(f"/backoffice/cases/{online.case.id}")
    assert "<video" in page.text
    missing = client.post(
        f"/backoffice/cases/{online.case.id}/review", data={"csrf_token": csrf(page.text), "action": "video_unusable"}
    )
    assert missing.status_code == 400
    done = client.post(
        f"/backoffice/cases/{online.case.id}/review",
        data={"csrf_token": csrf(page.text), "action": "video_unusable", "reason": "Trop sombre"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "outcome=video_unusable" in done.headers["location"]
    assert reload(container, online.case.id).status is CaseStatus.ONLINE_LETTER
    assert "une nouvelle vidéo sera demandée" in client.get(done.headers["location"]).text
    # After the second unusable video, the message says until when the video path is blocked.
    blocked = client.get(f"/backoffice?done={online.case.id}&outcome=video_unusable&blocked_until=1772500000")
    assert "Deux vidéos étaient inutilisables" in blocked.text and "03/03/2026" in blocked.text


def test_idle_agents_are_logged_out(
    client: TestClient, container: Container, laposte: Tenant, clock: FrozenClock
) -> None:
    logged_in(client, make_agent(container, ["clerk"]))
    clock.advance(seconds=BACKOFFICE_IDLE_SECONDS - 30)
    assert client.get("/backoffice").status_code == 200
    clock.advance(seconds=BACKOFFICE_IDLE_SECONDS + 1)
    response = client.get("/backoffice", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/backoffice/login")


def test_logout(client: TestClient, container: Container, laposte: Tenant) -> None:
    logged_in(client, make_agent(container, ["clerk"]))
    page = client.get("/backoffice")
    response = client.post("/backoffice/logout", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/backoffice/login?logged_out=1"
    assert client.get("/backoffice", follow_redirects=False).status_code == 303


def test_the_one_time_password_must_be_replaced(client: TestClient, container: Container, laposte: Tenant) -> None:
    created = container.backoffice.directory.create(
        ["laposte"], "new@laposte.example", "Nouvel Agent", ["clerk"], ADMIN
    )
    assert created.one_time_password is not None
    response = log_in(client, "new@laposte.example", created.one_time_password)
    assert response.headers["location"] == "/backoffice/password"  # type: ignore[attr-defined]
    assert client.get("/backoffice", follow_redirects=False).headers["location"] == "/backoffice/password"
    page = client.get("/backoffice/password")
    new = "Sacoche-Jaune-Velo-Electrique-42"
    mismatch = client.post(
        "/backoffice/password",
        data={"csrf_token": csrf(page.text), "current": created.one_time_password, "new": new, "confirm": new + "x"},
    )
    assert mismatch.status_code == 400
    weak = client.post(
        "/backoffice/password",
        data={
            "csrf_token": csrf(page.text),
            "current": created.one_time_password,
            "new": "azerty",
            "confirm": "azerty",
        },
    )
    assert weak.status_code == 400
    done = client.post(
        "/backoffice/password",
        data={"csrf_token": csrf(page.text), "current": created.one_time_password, "new": new, "confirm": new},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/backoffice"
    assert client.get("/backoffice").status_code == 200

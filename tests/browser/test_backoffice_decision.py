"""In Chromium: an agent logs in to the back office, opens an in-person case, sees the MRZ result
and the document's images, ticks the checks, types the person's code of the day and approves.

The case is built with tests/identity_support.walk and stored with real encrypted specimen images
(tests/backoffice/support.py), in the running server's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from sesame.domain.identity import CaseStatus, MrzOutcome, VerificationMethod
from tests.backoffice.support import AGENT_PASSWORD, MISMATCH_DETAIL, documents_of, make_agent, reload, store_case
from tests.live_servers import Sesame, sesame_server

pytestmark = pytest.mark.browser

STARTUP_SECONDS = 15.0


BackofficeServer = Sesame


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackofficeServer]:
    """A running Sésame whose container the test uses to create the agent and the case."""
    with sesame_server(tmp_path_factory.mktemp("backoffice-browser-var"), name="backoffice-live-server") as sesame:
        yield sesame


def log_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/backoffice")
    expect(page).to_have_url(f"{base_url}/backoffice/login?return_to=/backoffice")
    expect(page.get_by_role("heading", level=1)).to_have_text("Back-office : se connecter")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(AGENT_PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ma file")


def test_a_clerk_approves_an_in_person_case(server: BackofficeServer, page: Page) -> None:
    container, base_url = server.container, server.base_url
    laposte = container.tenants.get("laposte")
    clerk = make_agent(container, ["clerk"], email="claire.guichet@laposte.example", name="Claire Guichet")
    stored = store_case(container, laposte, VerificationMethod.POST_OFFICE, code_sent_at=datetime.now(UTC))
    case_id = stored.case.id

    log_in(page, base_url, clerk.email)
    row = page.locator(f'tr[data-case="{case_id}"]')
    expect(row).to_contain_text("Marie Louise Dupont")
    row.get_by_role("link", name=f"Dossier {case_id}").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Dossier {case_id}")
    expect(page.locator("[data-mrz]")).to_have_text("La bande de lecture automatique correspond au formulaire")
    recto = page.get_by_role("img", name="Recto de la pièce")
    expect(recto).to_be_visible()
    assert recto.evaluate("image => image.complete && image.naturalWidth > 0")

    for label in (
        "J’ai vu la pièce originale (pas une copie, pas une photo)",
        "La photo de la pièce est bien la personne en face de moi",
        "La pièce dit la même chose que le formulaire",
        "La pièce est authentique et en bon état",
    ):
        page.get_by_label(label).check()
    page.get_by_label("Le code du jour de la personne").fill(stored.day_code or "")
    page.get_by_role("button", name="Approuver", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text(f"Dossier {case_id} approuvé")
    expect(page.locator(f'tr[data-case="{case_id}"]')).to_have_count(0)
    case = reload(container, case_id)
    assert case.status is CaseStatus.ACTIVATION and case.decided_by == clerk.actor
    assert documents_of(container, case_id) == 0


def test_a_wrong_code_is_refused_and_a_mismatch_is_shown(server: BackofficeServer, page: Page) -> None:
    container, base_url = server.container, server.base_url
    laposte = container.tenants.get("laposte")
    postman = make_agent(container, ["postman"], email="paul.tournee@laposte.example")
    stored = store_case(
        container,
        laposte,
        VerificationMethod.POSTMAN,
        mrz=MrzOutcome.MISMATCH,
        mrz_detail=MISMATCH_DETAIL,
        code_sent_at=datetime.now(UTC),
    )
    log_in(page, base_url, postman.email)
    page.goto(f"{base_url}/backoffice/cases/{stored.case.id}")
    expect(page.locator("[data-mrz]")).to_have_text("La bande de lecture automatique ne correspond pas au formulaire")
    expect(page.locator('tr[data-field="birth_date"]')).to_contain_text("850616")
    expect(page.locator(".bo-address")).to_contain_text("75015 Paris")  # the postman visits

    page.get_by_label("La pièce est authentique et en bon état").check()
    page.get_by_label("Le code du jour de la personne").fill("999999" if stored.day_code != "999999" else "888888")
    page.get_by_role("button", name="Approuver", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Cochez chaque vérification")
    assert reload(container, stored.case.id).status is CaseStatus.IN_PERSON

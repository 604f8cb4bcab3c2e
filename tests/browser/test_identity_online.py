"""In Chromium, in French, on laposte: the whole online path of the digital identity (seed 001).

From the prerequisites to the login, the terms, the document (specimen images the suite renders),
the identity form, the mobile and its SMS code, the address, the 100 % online choice, the
registered letter, the video page (Chromium's fake camera, recorded with MediaRecorder), the
reviewer's approval (what the back office does, done here on the case), the activation code read
in the second registered letter, and "your digital identity is created".

The server runs in a thread with its own container (the test reads the SMS codes from the outbox
and plays the reviewer through it), like tests/browser/conftest.py's ``live_server``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from sesame.bootstrap import Container
from sesame.domain.identity import CaseStatus, Decision
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from tests.browser.conftest import ACTION_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS
from tests.live_servers import sesame_server
from tests.specimens import MARIE, french_id_card_recto, french_id_card_verso

pytestmark = pytest.mark.browser

EMAIL = "maelys.martin@example.fr"
PASSWORD = "Colis-Rouge-2026"
MOBILE = "+33612345678"
CODE_RE = re.compile(r"\b(\d{6})\b")
#: Chromium's fake camera and microphone, allowed without a prompt: MediaRecorder really records.
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with sesame_server(tmp_path_factory.mktemp("identity-browser-var"), name="identity-server") as sesame:
        yield sesame.base_url, sesame.container


@pytest.fixture(scope="module")
def camera_browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *FAKE_MEDIA])
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def page(camera_browser: Browser, server: tuple[str, Container]) -> Iterator[Page]:
    base_url, _ = server
    context = camera_browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    context.grant_permissions(["camera", "microphone"], origin=base_url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def heading(page: Page, text: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def current_stage(page: Page, label: str) -> None:
    expect(page.locator('.identity-progress [aria-current="step"] .identity-progress__label')).to_have_text(label)


def sms_code(container: Container) -> str:
    for entry in list_messages(container.uow, tenant_slug="laposte"):
        message = entry.message
        if message.channel.value == "sms" and message.recipient == MOBILE and message.template == "identity_code":
            found = CODE_RE.search(message.body_text)
            if found:
                return found.group(1)
    raise AssertionError("no SMS code in the outbox")


def approve_as_reviewer(container: Container) -> None:
    """What the back office does when a reviewer approves: decide, delete the images, deliver the code."""
    tenant = container.tenants.get("laposte")
    with container.uow() as uow:
        account = uow.accounts.by_email(tenant.id, EMAIL)
        assert account is not None
        case = uow.proofing.open_case_of(account.id)
        assert case is not None and case.status is CaseStatus.ONLINE_REVIEW
        now = container.clock.now()
        for document_id in case.decide(Decision.APPROVED, "agent:reviewer", "video ok", tenant.policy.identity, now):
            uow.documents.delete(document_id)
        container.proofing.deliver_activation_code(uow, tenant, account, case, now)
        uow.commit()


def open_letter(page: Page) -> str:
    """On a letter's page: confirm my identity (the acknowledgement of receipt), then read it."""
    page.get_by_role("button", name="Confirmer mon identité").click()
    content = page.locator("#letter-content")
    expect(content).to_be_visible()
    return content.inner_text()


def test_the_whole_online_path(page: Page, server: tuple[str, Container]) -> None:
    base_url, container = server
    tenant = container.tenants.get("laposte")
    new = NewAccount(email=EMAIL, given_name="Maëlys", family_name="Martin", verified=True, terms_version="1")
    container.accounts.create(tenant, new, PASSWORD, RequestContext(actor="test"))

    # Step 1: the prerequisites, to anyone; "Continuer" leads to the login, and back.
    page.goto(f"{base_url}/laposte/identity")
    heading(page, "Créer votre Identité Numérique")
    current_stage(page, "Demande")
    expect(page.get_by_text("avez 18 ans ou plus ;")).to_be_visible()
    page.get_by_role("link", name="Continuer").click()
    heading(page, "Se connecter")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page).to_have_url(f"{base_url}/laposte/identity")
    current_stage(page, "Compte")
    page.get_by_role("button", name="Continuer").click()

    # Step 3: the terms.
    heading(page, "Confirmez votre demande")
    current_stage(page, "Conditions")
    page.get_by_role("button", name="Accepter").click()
    expect(page.get_by_role("alert")).to_be_visible()  # the box was not ticked
    page.get_by_label(re.compile("J’ai lu et j’accepte")).check()
    page.get_by_role("button", name="Accepter").click()

    # Step 4: the document, recto and verso (specimens rendered by the suite).
    heading(page, "Téléchargez votre pièce d’identité")
    current_stage(page, "Pièce d’identité")
    page.get_by_label("Carte d’identité").check()
    page.get_by_label("Recto").set_input_files(
        {"name": "recto.png", "mimeType": "image/png", "buffer": french_id_card_recto(MARIE, dpi=200)}
    )
    page.get_by_label("Verso").set_input_files(
        {"name": "verso.jpg", "mimeType": "image/jpeg", "buffer": french_id_card_verso(MARIE, dpi=250)}
    )
    page.get_by_role("button", name="Valider").click()

    # The identity form, then the review.
    heading(page, "Complétez les informations")
    page.get_by_label("Numéro de la pièce d'identité").fill(MARIE.document_number)
    page.get_by_label("Mme").check()
    page.get_by_label("Prénom(s)").fill("Maëlys-Gaëlle Marie")
    page.get_by_label("Nom de naissance").fill("Martin")
    page.get_by_label("Date de naissance").fill(MARIE.birth_date.isoformat())
    page.get_by_label("Commune de naissance").fill("Brest (29)")
    page.get_by_label("Date d’expiration").fill("2030-02-11")
    page.get_by_role("button", name="Valider").click()
    heading(page, "Vérifiez vos informations personnelles")
    expect(page.get_by_text("Brest (29)")).to_be_visible()
    page.get_by_role("button", name="Mes informations sont correctes").click()

    # The mobile, and the SMS code (a visible countdown before "resend").
    heading(page, "Votre numéro de mobile")
    page.get_by_label("Numéro de mobile").fill("06 12 34 56 78")
    page.get_by_role("button", name="Suivant").click()
    heading(page, "Saisissez le code de vérification reçu par SMS")
    expect(page.get_by_text("+33 6 •• •• •• 78", exact=False)).to_be_visible()
    expect(page.locator("#resend-countdown")).to_be_visible()
    expect(page.get_by_role("button", name="Renvoyer le SMS")).to_be_disabled()
    page.get_by_label("Code de vérification").fill(sms_code(container))
    page.get_by_role("button", name="Suivant").click()

    # Step 5: the address, and 100 % online.
    heading(page, "Votre adresse de domicile")
    page.get_by_label("Numéro et voie").fill("12 rue des Lilas")
    page.get_by_label("Code postal").fill("75011")
    page.get_by_label("Commune", exact=True).fill("Paris")
    page.get_by_role("button", name="Suivant").click()
    heading(page, "Faites vérifier votre identité")
    page.get_by_label("Faire vérifier votre identité 100% en ligne").check()
    page.get_by_label(re.compile("j’accepte de recevoir une lettre recommandée")).check()
    page.get_by_role("button", name="Confirmer").click()
    heading(page, "Votre vérification d’identité en ligne")
    current_stage(page, "Vérification")

    # The registered letter: opening it is the acknowledgement; its button leads to the video.
    page.get_by_role("link", name="Ouvrir ma lettre recommandée").click()
    text = open_letter(page)
    assert "identification visuelle" in text
    page.get_by_role("link", name="Commencer l'identification vidéo").click()
    heading(page, "Identification vidéo")
    page.get_by_role("button", name="Commencer").click()
    digits = page.locator("[data-challenge]").inner_text()
    assert re.fullmatch(r"\d\s*\d\s*\d", digits.strip())
    page.get_by_label("Recto").set_input_files(
        {
            "name": "photo.jpg",
            "mimeType": "image/jpeg",
            "buffer": french_id_card_recto(MARIE, dpi=150, image_format="JPEG"),
        }
    )
    page.get_by_label("Verso").set_input_files(
        {"name": "photo-verso.png", "mimeType": "image/png", "buffer": french_id_card_verso(MARIE, dpi=150)}
    )
    # The video, recorded in the browser (Chromium's fake camera) into the form's file input.
    page.get_by_role("button", name="Activer la caméra").click()
    expect(page.locator("[data-recorder-status]")).to_contain_text("La caméra est activée")
    page.get_by_role("button", name="Commencer l’enregistrement").click()
    page.wait_for_timeout(2500)
    page.get_by_role("button", name="Arrêter").click()
    expect(page.locator("[data-recorder-status]")).to_contain_text("Votre vidéo est prête")
    assert page.locator("input#video").evaluate("input => input.files.length") == 1
    page.get_by_role("button", name="Envoyer ma photo et ma vidéo").click()
    heading(page, "Votre identification est en cours de traitement")

    # The reviewer approves (the back office's part), the code comes in a second letter.
    approve_as_reviewer(container)
    page.goto(f"{base_url}/laposte/identity")
    heading(page, "Votre identité est vérifiée")
    current_stage(page, "Code d’activation")
    letters = container.registered_letters.list(tenant, purpose=None)
    activation = [letter for letter in letters if letter.purpose.endswith(":activation")]
    assert len(activation) == 1
    page.goto(f"{base_url}/laposte/letters/{activation[0].reference}")
    text = open_letter(page)
    code = CODE_RE.search(text)
    assert code, text
    page.get_by_role("link", name="Activer mon Identité Numérique").click()
    heading(page, "Votre identité est vérifiée")
    page.get_by_label("Code d’activation").fill(code.group(1))
    page.get_by_role("button", name="Activer").click()
    heading(page, "Votre Identité Numérique est créée")
    expect(page.get_by_text("Prochaine étape : votre smartphone")).to_be_visible()
    with container.uow(readonly=True) as uow:
        account = uow.accounts.by_email(tenant.id, EMAIL)
        assert account is not None
        identity = uow.identities.of_account(account.id)
    assert identity is not None and identity.level == "substantial"
    assert identity.evidence.method.value == "online"

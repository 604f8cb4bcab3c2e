"""The identity enrolment pages through HTTP: the whole in-person path to activation, the online
path to the review, and what the pages refuse (skipping steps, another account, bad files)."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.identity import CaseStatus, Decision, MrzOutcome, ProofingCase
from sesame.domain.tenants import Tenant
from sesame.services.outbox import list_messages
from tests.specimens import MARIE, french_id_card_recto, french_id_card_verso
from tests.web.conftest import BASE_URL
from tests.web.pages.test_account_pages import csrf, log_in, make_account

EMAIL = "lea.martin@example.fr"
MOBILE = "06 12 34 56 78"
FLOW_RE = re.compile(r"/laposte/identity/([A-Za-z0-9_-]{20,})$")
CODE_RE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def tenant(app: FastAPI, container: Container) -> Tenant:
    return container.tenants.get("laposte")


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    return make_account(container, tenant, EMAIL)


@pytest.fixture
def browser(client: TestClient, container: Container, tenant: Tenant, account: Account) -> TestClient:
    log_in(client, container, tenant, account)
    return client


def identity_form(**changes: str) -> dict[str, str]:
    form = {
        "document_number": MARIE.document_number,
        "civility": "F",
        "given_names": "Maëlys-Gaëlle Marie",
        "birth_name": "Martin",
        "usage_name": "",
        "birth_date": MARIE.birth_date.isoformat(),
        "birth_country": "France",
        "birth_town": "Brest (29)",
        "document_expiry": "11/02/2030",
        "nationality": "FRA",
    }
    form.update(changes)
    return form


def png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 80, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


class Wizard:
    """A person going through /laposte/identity in one browser."""

    def __init__(self, client: TestClient, container: Container) -> None:
        self.client, self.container = client, container
        self.url = ""

    def start(self) -> str:
        page = self.client.get("/laposte/identity")
        assert page.status_code == 200
        response = self.client.post("/laposte/identity", data={"csrf_token": csrf(page.text)}, follow_redirects=False)
        assert response.status_code == 303
        self.url = response.headers["location"]
        assert FLOW_RE.search(self.url)
        return self.url

    def page(self) -> str:
        response = self.client.get(self.url)
        assert response.status_code == 200, response.text
        return response.text

    def state(self) -> str:
        match = re.search(r'name="step" value="([a-z_]+)"', self.page())
        return match.group(1) if match else ""

    def submit(self, data: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None = None, step: str = ""):
        page = self.page()
        token = csrf(page)
        current = step or re.search(r'name="step" value="([a-z_]+)"', page).group(1)  # type: ignore[union-attr]
        return self.client.post(
            self.url,
            data={"csrf_token": token, "step": current, **data},
            files=files or None,
            follow_redirects=False,
        )

    def ok(self, data: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None = None) -> None:
        response = self.submit(data, files)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == self.url

    def documents(self) -> None:
        self.ok(
            {"kind": "national_id_card"},
            {
                "recto": ("recto.png", french_id_card_recto(MARIE, dpi=200), "image/png"),
                "verso": ("verso.png", french_id_card_verso(MARIE, dpi=200), "image/png"),
            },
        )

    def through_mobile(self) -> None:
        self.ok({"accept": "yes"})
        self.documents()
        self.ok(identity_form())
        self.ok({"action": "confirm"})
        self.ok({"mobile": MOBILE})
        self.ok({"action": "verify", "code": last_code(self.container, "+33612345678")})

    def case_or_none(self) -> ProofingCase | None:
        with self.container.uow(readonly=True) as uow:
            return uow.proofing.open_case_of(account_id_of(self.container))

    def case(self) -> ProofingCase:
        with self.container.uow(readonly=True) as uow:
            found = uow.proofing.open_case_of(account_id_of(self.container))
            assert found is not None
            return found


def account_id_of(container: Container) -> int:
    with container.uow(readonly=True) as uow:
        tenant = uow.tenants.get_by_slug("laposte")
        assert tenant is not None
        found = uow.accounts.by_email(tenant.id, EMAIL)
        assert found is not None
        return found.id


def last_code(container: Container, recipient: str) -> str:
    for entry in list_messages(container.uow, tenant_slug="laposte"):
        if entry.message.recipient == recipient and entry.message.channel.value == "sms":
            match = CODE_RE.search(entry.message.body_text)
            if match:
                return match.group(1)
    raise AssertionError("no code sent")


def approve(container: Container, tenant: Tenant, case_id: int, clock: FrozenClock) -> None:
    """What the back office does on an approval: decide, then deliver the activation code."""
    with container.uow() as uow:
        case = uow.proofing.get(case_id)
        assert case is not None
        for document_id in case.decide(Decision.APPROVED, "agent:1", "seen", tenant.policy.identity, clock.now()):
            uow.documents.delete(document_id)
        account = uow.accounts.get(case.account_id)
        assert account is not None
        container.proofing.deliver_activation_code(uow, tenant, account, case, clock.now())
        uow.commit()


# -- the start ------------------------------------------------------------------------------------------


def test_logged_out_sees_the_prerequisites_and_a_way_to_log_in(client: TestClient) -> None:
    page = client.get("/laposte/identity")
    assert page.status_code == 200
    assert "18" in page.text and 'aria-current="step"' in page.text
    assert "/laposte/login?return_to=/laposte/identity" in page.text
    assert "/laposte/register" in page.text
    # a step of someone's wizard is not shown to a logged-out browser: the login comes first
    response = client.get("/laposte/identity/" + "x" * 43, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/laposte/login?return_to=")


def test_tenants_without_identity_answer_404(client: TestClient) -> None:
    assert client.get("/banque/identity").status_code == 404


def test_the_in_person_path_to_activation(
    browser: TestClient, container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    assert wizard.state() == "terms"
    assert 'aria-current="step"' in wizard.page()
    wizard.through_mobile()
    assert wizard.state() == "address"
    wizard.ok({"line1": "12 rue des Lilas", "postcode": "75011", "town": "Paris"})
    assert wizard.state() == "method"
    wizard.ok({"method": "post_office"})
    page = wizard.page()
    assert "post office" in page or "bureau de poste" in page
    day_code = last_code(container, "+33612345678")
    case = wizard.case()
    assert case.status is CaseStatus.IN_PERSON and case.codes["in_person"].expires_at > clock.now()
    assert case.mrz_outcome is MrzOutcome.MATCH  # the specimen's zone, read by Tesseract, agrees with the form

    approve(container, tenant, case.id, clock)
    page = browser.get(wizard.url)  # the case moved on: a fresh flow resumes it
    assert page.status_code == 200
    wizard.url = str(page.url).removeprefix(BASE_URL)
    assert wizard.state() == "activation"
    activation = last_code(container, "+33612345678")
    assert activation != day_code
    wrong = wizard.submit({"action": "activate", "code": "000000" if activation != "000000" else "111111"})
    assert wrong.status_code == 400
    wizard.ok({"action": "activate", "code": activation})
    done = wizard.page()
    assert "smartphone" in done
    with container.uow(readonly=True) as uow:
        identity = uow.identities.of_account(case.account_id)
    assert identity is not None and identity.level == "substantial"
    assert browser.get("/laposte/identity").status_code == 200  # "already created"


def test_steps_cannot_be_skipped_by_url_or_post(browser: TestClient, container: Container) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    # a form for a later step, posted at the terms: nothing changes
    response = wizard.submit({"mobile": MOBILE}, step="mobile")
    assert response.status_code == 303
    assert wizard.state() == "terms"
    assert wizard.case().mobile is None
    # the mobile step's input sent as the terms step: refused, still at the terms
    response = wizard.submit({"mobile": MOBILE})
    assert response.status_code == 400
    assert wizard.case().status is CaseStatus.TERMS


def test_bad_document_files_are_refused_with_a_reason(browser: TestClient, container: Container) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    wizard.ok({"accept": "yes"})
    polyglot = png() + b"PK\x03\x04" + b"\x00" * 200
    response = wizard.submit(
        {"kind": "national_id_card"},
        {"recto": ("recto.jpg", b"%PDF-1.4 not an image", "image/jpeg"), "verso": ("v.png", polyglot, "image/png")},
    )
    assert response.status_code == 400
    assert 'id="recto-error"' in response.text and 'id="verso-error"' in response.text
    assert wizard.case().status is CaseStatus.DOCUMENT
    # a JPEG named .png is judged by its content: accepted
    wizard.ok({"kind": "passport"}, {"recto": ("photo.png", jpeg(), "image/png")})
    assert wizard.case().status is CaseStatus.IDENTITY


def test_bad_identity_form_keeps_what_was_typed(browser: TestClient, container: Container) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    wizard.ok({"accept": "yes"})
    wizard.documents()
    response = wizard.submit(identity_form(birth_date="31/02/1990", birth_town="Saint-Denis", given_names=""))
    assert response.status_code == 400
    assert 'id="birth_date-error"' in response.text and 'id="given_names-error"' in response.text
    assert "Saint-Denis (93)" in response.text  # an ambiguous town: the ones to choose from
    assert "Martin" in response.text
    # under 18: a refusal with its reason
    young = date(2010, 1, 1).isoformat()  # 16 on the test clock's day
    wizard.ok(identity_form(birth_date=young))
    page = wizard.page()
    assert "18" in page
    assert wizard.case_or_none() is None


def test_the_online_path_up_to_the_review(
    browser: TestClient, container: Container, tenant: Tenant, clock: FrozenClock
) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    wizard.through_mobile()
    wizard.ok({"line1": "12 rue des Lilas", "postcode": "75011", "town": "Paris"})
    refused = wizard.submit({"method": "online"})
    assert refused.status_code == 400 and 'id="online_terms-error"' in refused.text
    wizard.ok({"method": "online", "online_terms": "yes"})
    case = wizard.case()
    assert case.status is CaseStatus.ONLINE_LETTER and case.letter_ref
    assert f"/laposte/letters/{case.letter_ref}" in wizard.page()
    # the video page comes after the letter's opening
    video = browser.get("/laposte/identity/video")
    assert video.status_code == 200 and f"/laposte/letters/{case.letter_ref}" in video.text
    with container.uow() as uow:
        letter = uow.letters.get(tenant.id, case.letter_ref)
        assert letter is not None
        letter.acknowledge(clock.now())
        uow.letters.save(letter)
        uow.commit()
    video = browser.get("/laposte/identity/video")
    assert "media-src 'self' blob:" in video.headers["content-security-policy"]
    started = browser.post(
        "/laposte/identity/video/start", data={"csrf_token": csrf(video.text)}, follow_redirects=False
    )
    assert started.status_code == 303
    video = browser.get("/laposte/identity/video")
    challenge = wizard.case().video_challenge
    assert challenge and all(digit in video.text for digit in challenge)
    webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 4000
    bad = browser.post(
        "/laposte/identity/video",
        data={"csrf_token": csrf(video.text)},
        files={"photo_recto": ("r.png", png(), "image/png"), "video": ("v.webm", b"not a video" * 200, "video/webm")},
    )
    assert bad.status_code == 400 and 'id="video-error"' in bad.text
    sent = browser.post(
        "/laposte/identity/video",
        data={"csrf_token": csrf(video.text)},
        files={
            "photo_recto": ("r.png", french_id_card_recto(MARIE, dpi=150), "image/png"),
            "photo_verso": ("v.png", french_id_card_verso(MARIE, dpi=150), "image/png"),
            "video": ("v.webm", webm, "video/webm"),
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    case = wizard.case()
    assert case.status is CaseStatus.ONLINE_REVIEW and case.submitted_at == clock.now()
    page = browser.get("/laposte/identity")
    assert "48" in page.text


def test_expired_or_foreign_flows_resume_the_case(
    browser: TestClient, container: Container, clock: FrozenClock, app: FastAPI, tenant: Tenant, account: Account
) -> None:
    wizard = Wizard(browser, container)
    old_url = wizard.start()
    wizard.ok({"accept": "yes"})
    clock.advance(hours=3)  # past the flow's lifetime (and the session's): the case is what lasts
    log_in(browser, container, tenant, account)
    response = browser.get(old_url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/laposte/identity"
    resumed = browser.get(old_url)
    assert resumed.status_code == 200 and 'name="step" value="document"' in resumed.text
    # someone else's flow id, in another browser logged in as another account: nothing of it shows
    with TestClient(app, base_url=BASE_URL) as other:
        log_in(other, container, tenant, make_account(container, tenant, "autre.personne@example.fr"))
        response = other.get(str(resumed.url).removeprefix(BASE_URL), follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/laposte/identity"
        assert "X4RTBPFW4" not in other.get("/laposte/identity").text


def test_a_double_submit_applies_once(browser: TestClient, container: Container) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    page = wizard.page()
    token = csrf(page)
    first = browser.post(
        wizard.url, data={"csrf_token": token, "step": "terms", "accept": "yes"}, follow_redirects=False
    )
    second = browser.post(
        wizard.url, data={"csrf_token": token, "step": "terms", "accept": "yes"}, follow_redirects=False
    )
    assert first.status_code == second.status_code == 303
    assert wizard.case().status is CaseStatus.DOCUMENT
    history = [event.action for event in wizard.case().history]
    assert history.count("terms_accepted") == 1


def test_a_form_without_its_csrf_token_is_refused(browser: TestClient, container: Container) -> None:
    wizard = Wizard(browser, container)
    wizard.start()
    response = browser.post(wizard.url, data={"step": "terms", "accept": "yes"}, follow_redirects=False)
    assert response.status_code == 403
    assert wizard.case().status is CaseStatus.TERMS

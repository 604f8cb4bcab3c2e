"""The identity enrolment flow through the flow runner: it follows the case, it refuses forms for
another step without change, and its forms say what is wrong field by field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from sesame.adapters.referentials import ShippedReferentials
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import FlowNotFound
from sesame.domain.identity import CaseStatus, ProofingCase
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner, SubmitResult
from sesame.flows.proofing import forms, steps
from sesame.flows.proofing.flow import PROOFING
from sesame.flows.proofing.states import ProofingContext, ProofingState
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo
from sesame.services.outbox import list_messages
from sesame.services.proofing import ProofingService, Upload
from sesame.services.sessions import LiveSession
from tests.specimens import MARIE, french_id_card_recto, french_id_card_verso

BROWSER = "browser-cookie-of-the-proofing-tests"
OTHER_BROWSER = "another-browser-cookie-of-the-proofing-tests"
CONTEXT = RequestContext(ip="192.0.2.8", correlation_id="corr-proofing-flow", actor="account:test")
CODE_RE = re.compile(r"\b(\d{6})\b")
PLACES = ShippedReferentials()


@pytest.fixture
def tenant(container: Container) -> Tenant:
    load_demo(container.tenants)
    return container.tenants.get("laposte")


def new_account(container: Container, tenant: Tenant, email: str = "jade.roux@example.fr") -> Account:
    new = NewAccount(email=email, given_name="Jade", family_name="Roux", verified=True)
    return container.accounts.create(tenant, new, "Proofing-Flow-2026", RequestContext(actor="test"))


@pytest.fixture
def account(container: Container, tenant: Tenant) -> Account:
    return new_account(container, tenant)


def identity_form(**changes: str) -> dict[str, str]:
    form = {
        "document_number": MARIE.document_number,
        "civility": "F",
        "given_names": "Maëlys-Gaëlle Marie",
        "birth_name": "Martin",
        "birth_date": "13/07/1990",
        "birth_country": "FRANCE",
        "birth_town": "29019",
        "document_expiry": "2030-02-11",
        "nationality": "FRA",
    }
    form.update(changes)
    return form


class Browser:
    """One browser's flow over the account's case."""

    def __init__(self, container: Container, tenant: Tenant, account: Account, cookie: str = BROWSER) -> None:
        self.container, self.tenant, self.account, self.cookie = container, tenant, account, cookie
        self.service: ProofingService = container.proofing
        self.runner = FlowRunner(container.uow, container.clock)
        case = self.service.open_case(tenant, account, CONTEXT)
        self.flow: Flow[ProofingState, ProofingContext] = self.runner.start(
            PROOFING,
            tenant,
            cookie,
            context=ProofingContext(account_id=account.id, case_id=case.id),
            state=case.status,
        )

    def live(self, account: Account | None = None) -> LiveSession:
        who = account or self.account
        with self.container.uow() as uow:
            opened = self.container.sessions.open(
                uow, who, self.tenant, self.container.clock.now(), acr="eidas1", amr=["pwd"], ip="", user_agent=""
            )
            uow.commit()
        found = self.container.sessions.resolve(self.tenant, opened.token)
        assert found is not None
        return found

    def extras(self, uploads: Mapping[str, Upload] | None = None, account: Account | None = None) -> Mapping[str, Any]:
        return {
            steps.LIVE: self.live(account),
            steps.CONTEXT: CONTEXT,
            steps.SERVICE: self.service,
            steps.PLACES: PLACES,
            steps.UPLOADS: dict(uploads or {}),
        }

    def submit(
        self,
        data: Mapping[str, str],
        *,
        state: ProofingState | None = None,
        uploads: Mapping[str, Upload] | None = None,
        account: Account | None = None,
    ) -> SubmitResult[ProofingState, ProofingContext]:
        result = self.runner.submit(
            PROOFING,
            self.tenant,
            self.flow.id,
            self.cookie,
            data,
            expected_state=(state or self.flow.state).value,
            extras=self.extras(uploads, account),
        )
        self.flow = result.flow
        return result

    def case(self) -> ProofingCase:
        return self.service.case_of(self.tenant, self.account.id, self.flow.context.case_id)

    def documents(self) -> SubmitResult[ProofingState, ProofingContext]:
        return self.submit(
            {"kind": "national_id_card"},
            uploads={
                "recto": Upload("r.png", "image/png", french_id_card_recto(MARIE, dpi=150)),
                "verso": Upload("v.png", "image/png", french_id_card_verso(MARIE, dpi=150)),
            },
        )


def last_code(container: Container) -> str:
    for entry in list_messages(container.uow, tenant_slug="laposte"):
        match = CODE_RE.search(entry.message.body_text)
        if entry.message.channel.value == "sms" and match:
            return match.group(1)
    raise AssertionError("no SMS code")


def test_the_flow_follows_the_wizard(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    assert browser.flow.state is ProofingState.TERMS
    assert browser.submit({"accept": "yes"}).flow.state is ProofingState.DOCUMENT
    assert browser.documents().flow.state is ProofingState.IDENTITY
    assert browser.submit(identity_form()).flow.state is ProofingState.REVIEW
    assert browser.submit({"action": "back", "to": "identity"}).flow.state is ProofingState.IDENTITY
    assert browser.submit(identity_form()).flow.state is ProofingState.REVIEW
    assert browser.submit({"action": "confirm"}).flow.state is ProofingState.MOBILE
    assert browser.submit({"mobile": "07 00 00 00 00"}).errors == {"mobile": "phone_invalid"}
    assert browser.submit({"mobile": "+33 6 12 34 56 78"}).flow.state is ProofingState.MOBILE_CODE
    assert browser.submit({"action": "verify", "code": last_code(container)}).flow.state is ProofingState.ADDRESS
    result = browser.submit({"line1": "12 rue des Lilas", "postcode": "75011", "town": "Lyon"})
    assert result.errors == {"town": "address_town_mismatch"}
    result = browser.submit({"line1": "12 rue des Lilas", "postcode": "75011", "town": "paris 11e"})
    assert result.flow.state is ProofingState.METHOD
    assert browser.case().address is not None and browser.case().address.town_code == "75111"  # type: ignore[union-attr]
    assert browser.submit({"method": "postman"}).flow.state is ProofingState.IN_PERSON
    assert browser.case().identity is not None and browser.case().identity.birth_town == "29019"  # type: ignore[union-attr]


def test_a_form_for_another_step_changes_nothing(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    before = browser.case().version
    result = browser.submit({"mobile": "0612345678"}, state=ProofingState.MOBILE)  # a stale or forged form
    assert result.ok and result.flow.state is ProofingState.TERMS
    assert browser.case().version == before
    result = browser.submit({"mobile": "0612345678"})  # the terms step, without its box ticked
    assert result.errors == {"accept": "required"}
    assert browser.case().status is CaseStatus.TERMS and browser.case().mobile is None


def test_a_flow_left_behind_follows_the_case(container: Container, tenant: Tenant, account: Account) -> None:
    laptop = Browser(container, tenant, account)
    phone = Browser(container, tenant, account, OTHER_BROWSER)  # same case, another browser
    assert phone.flow.context.case_id == laptop.flow.context.case_id
    phone.submit({"accept": "yes"})
    version = laptop.case().version
    result = laptop.submit({"accept": "yes"})  # the laptop's page is still at the terms
    assert result.ok and result.flow.state is ProofingState.DOCUMENT
    assert laptop.case().version == version  # nothing applied twice


def test_the_flow_is_the_account_s(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    other = new_account(container, tenant, "someone.else@example.fr")
    with pytest.raises(FlowNotFound):
        browser.submit({"accept": "yes"}, account=other)
    assert browser.case().status is CaseStatus.TERMS


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"birth_date": "31/02/1990"}, {"birth_date": "invalid_date"}),
        ({"birth_date": "1890-01-01"}, {"birth_date": "out_of_range"}),
        ({"birth_date": ""}, {"birth_date": "required"}),
        ({"civility": "X", "given_names": "J0hn"}, {"civility": "required", "given_names": "characters"}),
        ({"document_number": "AB#12"}, {"document_number": "invalid"}),
        ({"birth_country": "Atlantide"}, {"birth_country": "unknown"}),
        ({"birth_town": ""}, {"birth_town": "required"}),
        ({"birth_town": "Nulle-Part-sur-Rien"}, {"birth_town": "unknown"}),
        ({"nationality": "XXX"}, {"nationality": "unknown"}),
        ({"document_expiry": "2099-01-01"}, {"document_expiry": "out_of_range"}),
    ],
)
def test_identity_form_problems(
    container: Container, tenant: Tenant, account: Account, changes: dict[str, str], errors: dict[str, str]
) -> None:
    browser = Browser(container, tenant, account)
    browser.submit({"accept": "yes"})
    browser.documents()
    result = browser.submit(identity_form(**changes))
    assert dict(result.errors) == errors
    assert browser.case().identity is None and browser.case().status is CaseStatus.IDENTITY


def test_an_ambiguous_town_lists_the_choices(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    browser.submit({"accept": "yes"})
    browser.documents()
    result = browser.submit(identity_form(birth_town="Saint-Denis"))
    assert result.errors["birth_town"] == "ambiguous"
    assert "93066" in result.errors["birth_town_choices"].split(",")
    result = browser.submit(identity_form(birth_town="93066"))
    assert result.ok and browser.case().identity.birth_town == "93066"  # type: ignore[union-attr]


def test_a_person_born_abroad_has_no_town(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    browser.submit({"accept": "yes"})
    browser.documents()
    result = browser.submit(identity_form(birth_country="Maroc", birth_town="Casablanca", nationality="MAR"))
    assert result.ok
    identity = browser.case().identity
    assert identity is not None and identity.birth_country == "99350" and identity.birth_town is None
    assert identity.nationality == "MAR"


def test_a_wrong_sms_code_is_counted_on_the_case(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    browser.submit({"accept": "yes"})
    browser.documents()
    browser.submit(identity_form())
    browser.submit({"action": "confirm"})
    browser.submit({"mobile": "0612345678"})
    code = last_code(container)
    wrong = "000000" if code != "000000" else "111111"
    result = browser.submit({"action": "verify", "code": wrong})
    assert result.errors == {"code": "wrong"} and result.flow.record.attempts == 1
    assert browser.case().codes["mobile"].tries == 1  # committed with the refusal
    result = browser.submit({"action": "resend"})
    assert result.errors["resend"] == "wait" and int(result.errors["seconds"]) > 0
    assert browser.submit({"action": "verify", "code": ""}).errors == {"code": "required"}


def test_the_document_step_refuses_bad_uploads(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    browser.submit({"accept": "yes"})
    result = browser.submit(
        {"kind": "national_id_card"}, uploads={"recto": Upload("r.png", "image/png", b"\x89PNG\r\n\x1a\nbroken")}
    )
    assert result.errors == {"recto": "truncated", "verso": "missing"}
    assert browser.case().status is CaseStatus.DOCUMENT


def test_cancel_needs_a_confirmation(container: Container, tenant: Tenant, account: Account) -> None:
    browser = Browser(container, tenant, account)
    assert browser.submit({"action": "cancel"}).errors == {"confirm_cancel": "required"}
    result = browser.submit({"action": "cancel", "confirm_cancel": "yes"})
    assert result.flow.state is ProofingState.ABANDONED


# -- the forms ------------------------------------------------------------------------------------------


def test_dates_are_read_both_ways() -> None:
    assert forms.parse_date("2026-03-02") == date(2026, 3, 2)
    assert forms.parse_date("02/03/2026") == date(2026, 3, 2)
    assert forms.parse_date("2/3/2026") == date(2026, 3, 2)
    assert forms.parse_date("31/02/2026") is None
    assert forms.parse_date("02/03/26") is None


def test_towns_by_code_label_or_unique_name() -> None:
    assert forms.resolve_town("29019", PLACES)[0].code == "29019"  # type: ignore[union-attr]
    assert forms.resolve_town("Brest (29)", PLACES)[0].code == "29019"  # type: ignore[union-attr]
    assert forms.resolve_town("brest", PLACES)[0].code == "29019"  # type: ignore[union-attr]
    town, choices = forms.resolve_town("Saint-Denis", PLACES)
    assert town is None and {"93066", "97411"} <= {choice.code for choice in choices}
    assert forms.resolve_town("Saint-Denis (93)", PLACES)[0].code == "93066"  # type: ignore[union-attr]
    assert forms.resolve_town("2A004", PLACES)[0].name == "Ajaccio"  # type: ignore[union-attr]


def test_nationalities_are_iso_alpha3() -> None:
    assert forms.resolve_nationality("FRA", PLACES) == "FRA"
    assert forms.resolve_nationality("allemagne", PLACES) == "DEU"
    assert forms.resolve_nationality("99350", PLACES) == "MAR"
    assert forms.resolve_nationality("Atlantide", PLACES) is None
    choices = forms.nationality_choices("fr")
    assert choices[0][0] == "FRA" and len({code for code, _ in choices}) == len(choices)

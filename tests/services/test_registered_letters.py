"""Registered letters as a use case, on the real database: sending through the outbox, opening as
the recipient (the acknowledgement), refusing, and proofs checked with the tenant's JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

import orjson
import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import text

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.errors import InvalidInput
from sesame.domain.messages import DeliveryStatus
from sesame.domain.registered_letters import (
    LetterAction,
    LetterNotFound,
    LetterStateError,
    LetterStatus,
    ProofKind,
    RegisteredLetter,
)
from sesame.domain.tenants import Tenant
from sesame.oidc.discovery import issuer
from sesame.services.context import RequestContext
from sesame.services.outbox import list_messages
from sesame.services.registered_letters import (
    FRESH_LOGIN,
    PROOF_TYPE,
    FreshLoginRequired,
    InvalidProof,
    LetterSealer,
    RegisteredLetters,
    verify_proof,
)
from sesame.services.sessions import LiveSession
from tests.conftest import TEST_SECRET
from tests.services.accounts_support import audit_events, create_account, demo_tenant

CODE = "914207"
BODY = f"Bonjour Marie,\n\nVotre identité a été vérifiée.\n\nVotre code d'activation : {CODE}\n\nLa Poste"
SUBJECT = "Votre code d'activation de L'Identité Numérique"
ACTION = LetterAction("Continuer vers l'identification vidéo", "https://testserver/laposte/identity/video")
MARIE = RequestContext(actor="account:marie", ip="203.0.113.9", correlation_id="corr-open")


@pytest.fixture
def tenant(container: Container) -> Tenant:
    return demo_tenant(container)


@pytest.fixture
def marie(container: Container, tenant: Tenant) -> Account:
    return create_account(container, tenant, "marie.dupont@example.fr")


@pytest.fixture
def service(container: Container) -> RegisteredLetters:
    return container.registered_letters


def send(
    container: Container, tenant: Tenant, account: Account, *, body: str = BODY, purpose: str = "proofing:7"
) -> RegisteredLetter:
    with container.uow() as uow:
        letter = container.registered_letters.send(
            uow, tenant, account, SUBJECT, body, action=ACTION, purpose=purpose, now=container.clock.now()
        )
        uow.commit()
    return letter


def logged_in(container: Container, tenant: Tenant, account: Account) -> LiveSession:
    with container.uow() as uow:
        opened = container.sessions.open(
            uow, account, tenant, container.clock.now(), acr="eidas1", amr=["pwd"], ip="203.0.113.9", user_agent="t"
        )
        uow.commit()
    return LiveSession(session=opened.session, account=account)


def stored(container: Container, tenant: Tenant, reference: str) -> RegisteredLetter:
    with container.uow(readonly=True) as uow:
        letter = uow.letters.get(tenant.id, reference)
    assert letter is not None
    return letter


def published_jwks(container: Container, tenant: Tenant) -> dict[str, object]:
    """What ``/{tenant}/jwks`` serves now."""
    container.signing_keys.invalidate(tenant.id)
    return container.signing_keys.keyset(tenant).jwks(container.clock.now())


# -- sending -----------------------------------------------------------------------------------------


def test_sending_stores_the_letter_sealed_and_queues_a_notification_without_the_content(
    container: Container, tenant: Tenant, marie: Account
) -> None:
    letter = send(container, tenant, marie)

    assert (letter.status, letter.recipient_account_id, letter.recipient_email) == (
        LetterStatus.SENT,
        marie.id,
        "marie.dupont@example.fr",
    )
    assert (letter.sender_name, letter.subject, letter.purpose) == (tenant.name, SUBJECT, "proofing:7")
    assert letter.sent_at == container.clock.now() and letter.opened_at is None

    (message,) = [m for m in list_messages(container.uow) if m.message.template == "registered_letter"]
    email = message.message
    assert email.recipient == "marie.dupont@example.fr" and email.id == letter.notification_message_id
    assert email.subject == "Vous avez reçu un courrier recommandé électronique"
    assert f"https://testserver/laposte/letters/{letter.reference}" in email.body_text
    assert email.body_html is not None and "Voir mon courrier" in email.body_html
    everything = json.dumps(message.to_json(), ensure_ascii=False)
    for secret in (CODE, "Votre identité a été vérifiée", ACTION.url, SUBJECT):
        assert secret not in everything

    # At rest, the row holds the content sealed, never in clear.
    with container.database.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM registered_letters")).mappings().one()
    # The content's digest is salted hex noise, where 6 given digits turn up by chance: checked apart.
    assert re.fullmatch(r"[0-9a-f]{64}", row["content_sha256"])
    assert CODE not in json.dumps({key: value for key, value in row.items() if key != "content_sha256"}, default=str)
    assert row["sealed_content"].startswith("v1.")

    (event,) = audit_events(container, tenant, "registered_letter.")
    assert event.event.type == "registered_letter.sent"
    assert event.event.subject == f"account:{marie.id}"
    assert event.event.details["reference"] == letter.reference
    assert CODE not in json.dumps(event.event.details)


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(
    container: Container, tenant: Tenant, marie: Account
) -> None:
    with container.uow() as uow:
        container.registered_letters.send(
            uow, tenant, marie, SUBJECT, BODY, purpose="proofing:7", now=container.clock.now()
        )
        # no commit: the proofing step failed after sending
    assert container.registered_letters.list(tenant) == []
    assert list_messages(container.uow) == []


@pytest.mark.parametrize(
    ("subject", "body", "purpose", "field"),
    [
        ("", BODY, "proofing:7", "subject"),
        (SUBJECT, "", "proofing:7", "body"),
        (SUBJECT, BODY, "not a purpose", "purpose"),
    ],
)
def test_bad_letters_are_refused_and_nothing_is_written(
    container: Container, tenant: Tenant, marie: Account, subject: str, body: str, purpose: str, field: str
) -> None:
    with container.uow() as uow, pytest.raises(InvalidInput) as raised:
        container.registered_letters.send(uow, tenant, marie, subject, body, purpose=purpose, now=container.clock.now())
    assert raised.value.details["field"] == field
    assert container.registered_letters.list(tenant) == []


def test_the_recipient_must_be_an_open_account_of_the_tenant_with_an_email(
    container: Container, tenant: Tenant, marie: Account
) -> None:
    other_tenant = demo_tenant(container, "poste-ch")
    with container.uow() as uow, pytest.raises(InvalidInput):
        container.registered_letters.send(
            uow, other_tenant, marie, SUBJECT, BODY, purpose="p", now=container.clock.now()
        )
    no_email = Account(**{**_fields(marie), "email": None})
    with container.uow() as uow, pytest.raises(InvalidInput):
        container.registered_letters.send(uow, tenant, no_email, SUBJECT, BODY, purpose="p", now=container.clock.now())


def _fields(account: Account) -> dict[str, object]:
    return {name: getattr(account, name) for name in account.__dataclass_fields__}


# -- opening -----------------------------------------------------------------------------------------


def test_the_first_opening_is_the_acknowledgement_and_later_ones_keep_it(
    container: Container, clock: FrozenClock, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    clock.advance(hours=3)
    first_time = clock.now()
    opened = service.open(tenant, logged_in(container, tenant, marie), letter.reference.lower(), MARIE)

    assert opened.first_opening is True
    assert opened.content.body == BODY and opened.content.action == ACTION and opened.content.subject == SUBJECT
    assert opened.content.sha256() == letter.content_sha256
    assert (opened.letter.status, opened.letter.opened_at) == (LetterStatus.OPENED, first_time)

    clock.advance(days=2)
    again = service.open(tenant, logged_in(container, tenant, marie), letter.reference, MARIE)
    assert again.first_opening is False and again.letter.opened_at == first_time
    assert stored(container, tenant, letter.reference).opened_at == first_time
    assert service.read(tenant, marie.id, letter.reference).content.body == BODY

    opened_events = audit_events(container, tenant, "registered_letter.opened")
    assert len(opened_events) == 1
    event = opened_events[0].event
    assert (event.actor, event.ip, event.correlation_id) == ("account:marie", "203.0.113.9", "corr-open")


def test_someone_else_cannot_open_nor_see_the_letter(
    container: Container, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    mallory = create_account(container, tenant, "mallory@example.fr")
    as_mallory = logged_in(container, tenant, mallory)

    with pytest.raises(LetterNotFound):
        service.open(tenant, as_mallory, letter.reference, MARIE)
    with pytest.raises(LetterNotFound):
        service.refuse(tenant, as_mallory, letter.reference, MARIE)
    with pytest.raises(LetterNotFound):
        service.for_recipient(tenant, mallory.id, letter.reference)
    assert service.letters_of(tenant, mallory.id) == []
    # The same answer as for a letter that does not exist.
    with pytest.raises(LetterNotFound):
        service.open(tenant, as_mallory, "AAAA-BBBB-CCCC-DDDD", MARIE)
    assert stored(container, tenant, letter.reference).status is LetterStatus.SENT


def test_a_letter_is_found_only_at_its_tenant(
    container: Container, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    other = demo_tenant(container, "poste-ch")
    with pytest.raises(LetterNotFound):
        service.get(other, letter.reference)
    assert service.get(tenant, letter.reference).reference == letter.reference


def test_opening_needs_a_recent_login(
    container: Container, clock: FrozenClock, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    live = logged_in(container, tenant, marie)
    clock.advance(seconds=FRESH_LOGIN.total_seconds() + 1)
    with pytest.raises(FreshLoginRequired):
        service.open(tenant, live, letter.reference, MARIE)
    with pytest.raises(FreshLoginRequired):
        service.refuse(tenant, live, letter.reference, MARIE)
    assert stored(container, tenant, letter.reference).status is LetterStatus.SENT


def test_i_am_not_this_person(container: Container, tenant: Tenant, marie: Account, service: RegisteredLetters) -> None:
    letter = send(container, tenant, marie)
    live = logged_in(container, tenant, marie)
    refused = service.refuse(tenant, live, letter.reference, MARIE)
    assert (refused.status, refused.refused_at) == (LetterStatus.REFUSED, container.clock.now())
    assert service.refuse(tenant, live, letter.reference, MARIE).refused_at == refused.refused_at
    with pytest.raises(LetterStateError):
        service.open(tenant, live, letter.reference, MARIE)
    with pytest.raises(LetterNotFound):
        service.read(tenant, marie.id, letter.reference)
    assert len(audit_events(container, tenant, "registered_letter.refused")) == 1

    receipt = service.proof(tenant, refused, ProofKind.RECEIPT, context=MARIE)
    claims = service.verify(tenant, receipt).claims
    assert claims["status"] == "refused" and "opened_at" not in claims


def test_the_delivery_of_the_notification_is_recorded(
    container: Container, clock: FrozenClock, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    assert service.get(tenant, letter.reference).notified_at is None
    delivered = clock.advance(minutes=2)
    assert letter.notification_message_id is not None
    with container.uow() as uow:
        uow.outbox.mark_sent(letter.notification_message_id, delivered)
        uow.commit()
    assert service.get(tenant, letter.reference).notified_at == delivered

    clock.advance(hours=1)
    service.open(tenant, logged_in(container, tenant, marie), letter.reference, MARIE)
    assert stored(container, tenant, letter.reference).notified_at == delivered  # kept with the letter
    with container.uow(readonly=True) as uow:
        message = uow.outbox.get(letter.notification_message_id)
    assert message is not None and message.status is DeliveryStatus.SENT


# -- proofs ------------------------------------------------------------------------------------------


def test_the_proof_of_sending_verifies_with_the_tenant_jwks(
    container: Container, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    proof = service.proof(tenant, letter, ProofKind.SENDING, context=RequestContext(actor="agent:7"))

    verified = verify_proof(proof, published_jwks(container, tenant), issuer=issuer("https://testserver", "laposte"))
    claims = verified.claims
    assert (verified.kind, verified.reference) == (ProofKind.SENDING, letter.reference)
    assert claims["iss"] == "https://testserver/laposte"
    assert claims["sender"] == {"tenant": "laposte", "name": tenant.name}
    assert claims["recipient"]["email"] == "marie.dupont@example.fr"
    assert str(marie.id) != claims["recipient"]["sub"] and len(claims["recipient"]["sub"]) == 40
    assert claims["subject"] == SUBJECT and claims["content_sha256"] == letter.content_sha256
    # The content's digest (salted hex noise, where 6 given digits turn up by chance) aside.
    assert "opened_at" not in claims and CODE not in json.dumps({**claims, "content_sha256": ""})
    assert jws.extract_compact(proof.encode()).headers()["typ"] == PROOF_TYPE

    (issued,) = audit_events(container, tenant, "registered_letter.proof_issued")
    assert issued.event.actor == "agent:7" and issued.event.details["kind"] == "sending"


def test_the_proof_of_receipt_states_the_first_opening_and_the_content_hash(
    container: Container, clock: FrozenClock, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    with pytest.raises(LetterStateError):
        service.proof(tenant, letter, ProofKind.RECEIPT, context=MARIE)
    clock.advance(hours=1)
    opened = service.open(tenant, logged_in(container, tenant, marie), letter.reference, MARIE)
    proof = service.proof(tenant, opened.letter, ProofKind.RECEIPT, context=MARIE)
    claims = service.verify(tenant, proof).claims
    assert claims["proof"] == "receipt" and claims["status"] == "opened"
    assert claims["opened_at"].startswith(opened.letter.opened_at.strftime("%Y-%m-%dT%H:%M:%S"))
    # The content the recipient can download is the one whose hash the proof states.
    assert hashlib.sha256(opened.content.canonical_bytes()).hexdigest() == claims["content_sha256"]


def _tamper(proof: str, **changes: object) -> str:
    header, payload, signature = proof.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_tampered_or_foreign_proof_does_not_verify(
    container: Container, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    proof = service.proof(tenant, letter, ProofKind.SENDING, context=MARIE)
    jwks = published_jwks(container, tenant)
    laposte = issuer("https://testserver", "laposte")

    with pytest.raises(InvalidProof):
        verify_proof(_tamper(proof, sent_at="2020-01-01T00:00:00.000000Z"), jwks, issuer=laposte)
    with pytest.raises(InvalidProof):
        service.verify(tenant, _tamper(proof, subject="Autre chose"))
    with pytest.raises(InvalidProof):
        verify_proof(proof[:-4] + ("AAAA" if not proof.endswith("AAAA") else "QQQQ"), jwks, issuer=laposte)
    with pytest.raises(InvalidProof):  # another issuer's name
        verify_proof(proof, jwks, issuer=issuer("https://testserver", "banque"))
    with pytest.raises(InvalidProof):  # another tenant's keys
        service.verify(demo_tenant(container, "banque"), proof)
    with pytest.raises(InvalidProof):
        service.verify(tenant, "not a proof")

    # Signed by a key that is not the tenant's, with the tenant's kid: refused.
    header = jws.extract_compact(proof.encode()).headers()
    intruder = ECKey.generate_key("P-256")
    forged = jws.serialize_compact(header, b'{"iss":"x"}', intruder, algorithms=["ES256"])
    with pytest.raises(InvalidProof):
        verify_proof(forged, jwks, issuer=laposte)
    # alg "none" and an unexpected typ are refused before any key is looked at.
    unsigned = base64.urlsafe_b64encode(orjson.dumps({**header, "alg": "none"})).rstrip(b"=").decode()
    with pytest.raises(InvalidProof):
        verify_proof(f"{unsigned}.{proof.split('.')[1]}.", jwks, issuer=laposte)
    as_token = base64.urlsafe_b64encode(orjson.dumps({**header, "typ": "at+jwt"})).rstrip(b"=").decode()
    with pytest.raises(InvalidProof):
        verify_proof(f"{as_token}.{proof.split('.', 1)[1]}", jwks, issuer=laposte)


def test_a_proof_outlives_the_publication_of_its_key(
    container: Container, clock: FrozenClock, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    letter = send(container, tenant, marie)
    proof = service.proof(tenant, letter, ProofKind.SENDING, context=MARIE)
    container.signing_keys.rotate(tenant)
    clock.advance(days=30)  # the retired key has left the JWKS
    with pytest.raises(InvalidProof):
        verify_proof(proof, published_jwks(container, tenant), issuer=issuer("https://testserver", "laposte"))
    assert service.verify(tenant, proof).reference == letter.reference


def test_the_sealed_content_opens_only_for_its_letter_and_server_secret() -> None:
    sealer = LetterSealer(TEST_SECRET)
    sealed = sealer.seal("K3M9-Q2PX-W4D7-H8J2", b"content")
    assert sealer.unseal("K3M9-Q2PX-W4D7-H8J2", sealed) == b"content"
    with pytest.raises(ValueError):
        sealer.unseal("AAAA-BBBB-CCCC-DDDD", sealed)  # moved into another letter's row
    with pytest.raises(ValueError):
        LetterSealer("another-server-secret-0123456789abcdef").unseal("K3M9-Q2PX-W4D7-H8J2", sealed)


# -- the sender's view ---------------------------------------------------------------------------------


def test_the_sender_lists_its_letters_by_recipient_purpose_and_status(
    container: Container, clock: FrozenClock, tenant: Tenant, marie: Account, service: RegisteredLetters
) -> None:
    first = send(container, tenant, marie, purpose="proofing:7")
    clock.advance(minutes=1)
    paul = create_account(container, tenant, "paul@example.fr")
    second = send(container, tenant, paul, purpose="proofing:8")
    clock.advance(minutes=1)
    service.open(tenant, logged_in(container, tenant, paul), second.reference, MARIE)

    assert [letter.reference for letter in service.list(tenant)] == [second.reference, first.reference]
    assert [letter.reference for letter in service.list(tenant, purpose="proofing:7")] == [first.reference]
    assert [letter.reference for letter in service.list(tenant, account_id=paul.id)] == [second.reference]
    assert [letter.reference for letter in service.list(tenant, status=LetterStatus.OPENED)] == [second.reference]
    assert [letter.reference for letter in service.letters_of(tenant, marie.id)] == [first.reference]
    assert service.list(demo_tenant(container, "poste-ch")) == []
    assert timedelta(0) < second.sent_at - first.sent_at

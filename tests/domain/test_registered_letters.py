"""Registered letters in the domain: references, content checks and hash, states, proof claims."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from sesame.domain.errors import InvalidInput
from sesame.domain.registered_letters import (
    REFERENCE_RE,
    LetterAction,
    LetterContent,
    LetterStateError,
    LetterStatus,
    ProofKind,
    RegisteredLetter,
    check_proof_claims,
    check_purpose,
    mask_name,
    new_reference,
    normalize_reference,
    proof_claims,
)

NOW = datetime(2026, 5, 18, 9, 30, tzinfo=UTC)
ISSUER = "https://sesame.example/laposte"


def make_letter(**changes: object) -> RegisteredLetter:
    letter = RegisteredLetter(
        reference="K3M9-Q2PX-W4D7-H8J2",
        tenant_id=1,
        sender_name="La Poste",
        recipient_account_id=42,
        recipient_email="marie.dupont@example.fr",
        recipient_name="Marie Dupont",
        subject="Votre code d'activation",
        content_sha256="ab" * 32,
        sealed_content="v1.sealed",
        purpose="proofing:7",
        status=LetterStatus.SENT,
        sent_at=NOW,
    )
    for name, value in changes.items():
        setattr(letter, name, value)
    return letter


# -- references --------------------------------------------------------------------------------------


def test_references_are_random_grouped_and_unambiguous() -> None:
    references = {new_reference() for _ in range(200)}
    assert len(references) == 200
    for reference in references:
        assert REFERENCE_RE.fullmatch(reference)
        assert not set(reference) & set("ILOU")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("K3M9-Q2PX-W4D7-H8J2", "K3M9-Q2PX-W4D7-H8J2"),
        ("k3m9q2pxw4d7h8j2", "K3M9-Q2PX-W4D7-H8J2"),
        (" K3M9 Q2PX W4D7 H8J2 ", "K3M9-Q2PX-W4D7-H8J2"),
        ("K3M9-Q2PX-W4D7-H8JI", None),  # I is not in the alphabet
        ("K3M9-Q2PX-W4D7", None),
        ("../../etc/passwd", None),
        ("", None),
        ("K" * 100, None),
    ],
)
def test_normalize_reference(raw: str, expected: str | None) -> None:
    assert normalize_reference(raw) == expected


# -- content -----------------------------------------------------------------------------------------


def test_content_is_cleaned_and_its_hash_covers_its_canonical_json() -> None:
    action = LetterAction("  Continuer vers   l'identification vidéo ", "https://sesame.example/laposte/identity/video")
    content = LetterContent.create(
        "K3M9-Q2PX-W4D7-H8J2", "La Poste", "  Votre   code ", "Bonjour,\r\n\r\nCode : 123456\r\n", action
    )
    assert content.subject == "Votre code"
    assert content.body == "Bonjour,\n\nCode : 123456"
    assert content.action == LetterAction("Continuer vers l'identification vidéo", action.url)
    raw = content.canonical_bytes()
    assert content.sha256() == hashlib.sha256(raw).hexdigest()
    document = json.loads(raw)
    assert document["body"] == "Bonjour,\n\nCode : 123456" and document["reference"] == "K3M9-Q2PX-W4D7-H8J2"
    assert LetterContent.from_bytes(raw) == content
    assert content.paragraphs() == [["Bonjour,"], ["Code : 123456"]]


def test_the_salt_keeps_a_short_secret_out_of_reach_of_the_hash() -> None:
    """Two letters with the same text hash differently: the hash cannot be matched against the
    million texts that differ only by a 6-digit code."""
    first = LetterContent.create("K3M9-Q2PX-W4D7-H8J2", "La Poste", "Code", "Code : 123456", None)
    second = LetterContent.create("K3M9-Q2PX-W4D7-H8J2", "La Poste", "Code", "Code : 123456", None)
    assert first.salt != second.salt and first.sha256() != second.sha256()


@pytest.mark.parametrize(
    ("subject", "body", "action", "field"),
    [
        ("", "text", None, "subject"),
        ("x" * 201, "text", None, "subject"),
        ("Sujet", "", None, "body"),
        ("Sujet", "   \n ", None, "body"),
        ("Sujet", "x" * 20_001, None, "body"),
        ("Sujet", "bell \x07", None, "body"),
        ("Sujet", "text", LetterAction("", "https://example.fr"), "action"),
        ("Sujet", "text", LetterAction("Go", "javascript:alert(1)"), "action"),
        ("Sujet", "text", LetterAction("Go", "//evil.example/x"), "action"),
        ("Sujet", "text", LetterAction("Go", "/\\evil.example"), "action"),
        ("Sujet", "text", LetterAction("Go", "ftp://example.fr/x"), "action"),
        ("Sujet", "text", LetterAction("Go", "https://exa mple.fr"), "action"),
        ("Sujet", "text", LetterAction("Go", "https://" + "x" * 2000), "action"),
    ],
)
def test_bad_content_is_refused_naming_the_field(
    subject: str, body: str, action: LetterAction | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        LetterContent.create("K3M9-Q2PX-W4D7-H8J2", "La Poste", subject, body, action)
    assert raised.value.details["field"] == field


def test_local_paths_are_fine_actions() -> None:
    assert LetterAction("Go", "/laposte/identity").checked().url == "/laposte/identity"


@pytest.mark.parametrize("purpose", ["proofing:42", "contract.termination", "a/b-c_d"])
def test_purposes(purpose: str) -> None:
    assert check_purpose(purpose) == purpose


@pytest.mark.parametrize("purpose", ["", "x" * 101, "with space", "é"])
def test_bad_purposes(purpose: str) -> None:
    with pytest.raises(InvalidInput):
        check_purpose(purpose)


# -- states ------------------------------------------------------------------------------------------


def test_the_first_opening_is_the_acknowledgement() -> None:
    letter = make_letter()
    assert letter.acknowledge(NOW + timedelta(hours=2)) is True
    assert letter.acknowledge(NOW + timedelta(days=3)) is False
    assert (letter.status, letter.opened_at, letter.received_at) == (
        LetterStatus.OPENED,
        NOW + timedelta(hours=2),
        NOW + timedelta(hours=2),
    )
    with pytest.raises(LetterStateError):
        letter.refuse(NOW + timedelta(days=4))


def test_a_refused_letter_does_not_open() -> None:
    letter = make_letter()
    assert letter.refuse(NOW + timedelta(hours=1)) is True
    assert letter.refuse(NOW + timedelta(hours=2)) is False
    assert (letter.status, letter.refused_at) == (LetterStatus.REFUSED, NOW + timedelta(hours=1))
    with pytest.raises(LetterStateError):
        letter.acknowledge(NOW + timedelta(hours=3))
    assert letter.opened_at is None


def test_addressed_to() -> None:
    assert make_letter().addressed_to(42)
    assert not make_letter().addressed_to(43)
    assert not make_letter(recipient_account_id=None).addressed_to(42)


@pytest.mark.parametrize(
    ("name", "masked"),
    [("Marie Dupont", "M*** D***"), ("Jean-Pierre  de La Tour", "J*** d*** L*** T***"), ("", "***")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# -- proofs ------------------------------------------------------------------------------------------


def _claims(letter: RegisteredLetter, kind: ProofKind) -> dict[str, object]:
    return proof_claims(
        letter, kind, issuer=ISSUER, tenant_slug="laposte", recipient_sub="sub-1", proof_id="p1", issued_at=NOW
    )


def test_proof_of_sending_states_the_letter_not_its_opening() -> None:
    letter = make_letter(notified_at=NOW + timedelta(minutes=1))
    claims = _claims(letter, ProofKind.SENDING)
    assert claims == {
        "iss": ISSUER,
        "iat": int(NOW.timestamp()),
        "jti": "p1",
        "proof": "sending",
        "ref": "K3M9-Q2PX-W4D7-H8J2",
        "sender": {"tenant": "laposte", "name": "La Poste"},
        "recipient": {"email": "marie.dupont@example.fr", "sub": "sub-1"},
        "subject": "Votre code d'activation",
        "content_sha256": "ab" * 32,
        "sent_at": "2026-05-18T09:30:00.000000Z",
        "notified_at": "2026-05-18T09:31:00.000000Z",
    }
    assert check_proof_claims(claims, ISSUER) is ProofKind.SENDING


def test_proof_of_receipt_exists_once_opened_or_refused() -> None:
    letter = make_letter()
    with pytest.raises(LetterStateError):
        _claims(letter, ProofKind.RECEIPT)
    letter.acknowledge(NOW + timedelta(hours=5))
    claims = _claims(letter, ProofKind.RECEIPT)
    assert (claims["status"], claims["opened_at"]) == ("opened", "2026-05-18T14:30:00.000000Z")
    assert check_proof_claims(claims, ISSUER) is ProofKind.RECEIPT

    refused = make_letter()
    refused.refuse(NOW + timedelta(hours=1))
    claims = _claims(refused, ProofKind.RECEIPT)
    assert (claims["status"], claims["refused_at"]) == ("refused", "2026-05-18T10:30:00.000000Z")
    assert "opened_at" not in claims


def test_proof_claims_are_checked() -> None:
    claims = _claims(make_letter(), ProofKind.SENDING)
    with pytest.raises(ValueError, match="issuer"):
        check_proof_claims(claims, "https://other.example/laposte")
    with pytest.raises(ValueError):
        check_proof_claims({**claims, "proof": "delivery"}, ISSUER)
    with pytest.raises(ValueError):
        check_proof_claims({**claims, "proof": "receipt"}, ISSUER)  # a receipt without its time
    without_ref = dict(claims)
    del without_ref["ref"]
    with pytest.raises(ValueError):
        check_proof_claims(without_ref, ISSUER)

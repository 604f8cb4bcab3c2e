"""Registered electronic letters: send one (in the caller's transaction), open it as its recipient
(the first opening is the acknowledgement of receipt), refuse it, and sign proofs of both.

The content is sealed with AES-GCM under a key derived from the server secret (like the tenants'
private keys, with a purpose of its own), so the database, the outbox and the dev inbox never
hold it in clear: the notification email only says that a letter waits, with a link to its page.
Proofs are compact JWS signed with the tenant's OpenID Connect key (``typ: lre-proof+jwt``),
verifiable with its JWKS; they are made when asked for, outside any transaction (the tenant's
first key may have to be created, in a transaction of its own).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet as JoseKeySet

from sesame.domain.accounts import Account
from sesame.domain.errors import DomainError, InvalidInput
from sesame.domain.messages import DeliveryStatus
from sesame.domain.registered_letters import (
    LetterAction,
    LetterContent,
    LetterNotFound,
    LetterStatus,
    ProofKind,
    RegisteredLetter,
    check_proof_claims,
    check_purpose,
    new_reference,
    normalize_reference,
    proof_claims,
)
from sesame.domain.tenants import Tenant
from sesame.oidc.discovery import issuer as issuer_of
from sesame.oidc.jwks import jwk_set
from sesame.oidc.tokens import SIGNING_ALGORITHMS, sign
from sesame.ports import Clock, KeyedHasher, UnitOfWork, UnitOfWorkFactory
from sesame.services.audit import audit_event
from sesame.services.context import RequestContext
from sesame.services.outbox import queue_email
from sesame.services.sessions import LiveSession
from sesame.services.settings import public_url
from sesame.services.signing_keys import SigningKeys

PROOF_TYPE = "lre-proof+jwt"
PROOF_MEDIA_TYPE = "application/jose"
#: Opening or refusing a letter has legal weight: it needs a login this recent ("Confirm my identity").
FRESH_LOGIN = timedelta(minutes=15)
NOTIFICATION_TEMPLATE = "registered_letter"
#: HKDF purpose of the content's encryption key (the signing keys have theirs).
SEALING_PURPOSE = "registered-letters"
RECIPIENT_SUB_PURPOSE = "lre-recipient"
MAX_PROOF_LENGTH = 8192
_SEALED_PREFIX = "v1."
_NONCE_BYTES = 12
SYSTEM = RequestContext(actor="system")


class FreshLoginRequired(DomainError):
    """The session's login is older than :data:`FRESH_LOGIN`: log in again, then open."""

    code = "fresh_login_required"


class InvalidProof(DomainError):
    """Not a proof this tenant signed (bad signature, unknown key, tampered or malformed)."""

    code = "invalid_proof"


class LetterSealer:
    """AES-256-GCM; the letter's reference is the associated data, so a sealed content copied into
    another letter's row does not open there."""

    def __init__(self, server_secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"sesame/encryption/v1", info=SEALING_PURPOSE.encode()
        ).derive(server_secret.encode())
        self._aead = AESGCM(key)

    def seal(self, reference: str, content: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, content, reference.encode())
        return _SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def unseal(self, reference: str, sealed: str) -> bytes:
        if not sealed.startswith(_SEALED_PREFIX):
            raise ValueError("unknown sealing version")
        raw = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], reference.encode())
        except InvalidTag as error:
            raise ValueError("the letter was sealed under another server secret, or altered") from error


@dataclass(frozen=True, slots=True)
class OpenedLetter:
    letter: RegisteredLetter
    content: LetterContent
    #: True for the opening that was the acknowledgement of receipt.
    first_opening: bool = False


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    kind: ProofKind
    reference: str
    claims: dict[str, Any]


class RegisteredLetters:
    """One per use (``Container.registered_letters``); cheap to make."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        signing_keys: SigningKeys,
        keyed: KeyedHasher,
        *,
        secret_key: str,
        base_url: str,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._signing_keys = signing_keys
        self._keyed = keyed
        self._sealer = LetterSealer(secret_key)
        self._base_url = base_url.rstrip("/")

    # -- sending (in the caller's transaction) ---------------------------------------------------

    def send(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        account: Account,
        subject: str,
        body: str,
        *,
        action: LetterAction | None = None,
        purpose: str,
        now: datetime,
        context: RequestContext = SYSTEM,
    ) -> RegisteredLetter:
        """Store the letter (content sealed) and queue its notification email, in ``uow``'s
        transaction: both are committed with the caller's change, or neither. ``InvalidInput``
        names a bad field (nothing is written then)."""
        if account.tenant_id != tenant.id:
            raise InvalidInput("the recipient is not an account of this tenant", field="recipient")
        if not account.email or not account.can_log_in:
            raise InvalidInput("the recipient needs an email address and an open account", field="recipient")
        reference = new_reference()
        content = LetterContent.create(reference, tenant.name, subject, body, action)
        letter = RegisteredLetter(
            reference=reference,
            tenant_id=tenant.id,
            sender_name=tenant.name,
            recipient_account_id=account.id,
            recipient_email=account.email,
            recipient_name=account.display_name,
            subject=content.subject,
            content_sha256=content.sha256(),
            sealed_content=self._sealer.seal(reference, content.canonical_bytes()),
            purpose=check_purpose(purpose),
            status=LetterStatus.SENT,
            sent_at=now,
        )
        letter.notification_message_id = queue_email(
            uow,
            tenant,
            NOTIFICATION_TEMPLATE,
            account.locale,
            account.email,
            {"name": account.given_name, "reference": reference, "letter_url": self.letter_url(tenant, reference)},
            now=now,
        )
        uow.letters.add(letter)
        self._audit(uow, tenant, "registered_letter.sent", letter, context, {"content_sha256": letter.content_sha256})
        return letter

    def letter_url(self, tenant: Tenant, reference: str) -> str:
        return public_url(self._base_url, tenant, f"letters/{reference}")

    # -- the recipient ---------------------------------------------------------------------------

    def letters_of(self, tenant: Tenant, account_id: int, *, limit: int = 100) -> Sequence[RegisteredLetter]:
        with self._uow(readonly=True) as uow:
            return uow.letters.list(tenant.id, account_id=account_id, limit=limit)

    def for_recipient(self, tenant: Tenant, account_id: int, reference: str) -> RegisteredLetter:
        """The letter if it is addressed to ``account_id``; ``LetterNotFound`` otherwise (also when
        it exists for someone else: nothing tells the two apart)."""
        with self._uow(readonly=True) as uow:
            return self._with_notification(uow, self._recipient_letter(uow, tenant, account_id, reference))

    def open(self, tenant: Tenant, live: LiveSession, reference: str, context: RequestContext) -> OpenedLetter:
        """Open the letter as its logged-in recipient: the first opening records the
        acknowledgement of receipt (later ones keep it) and the content is returned."""
        now = self._clock.now()
        _check_fresh_login(live, now)
        with self._uow() as uow:
            letter = self._recipient_letter(uow, tenant, live.account.id, reference, for_update=True)
            first = letter.acknowledge(now)
            notified = self._with_notification(uow, letter).notified_at
            if first:
                uow.letters.save(letter)
                self._audit(uow, tenant, "registered_letter.opened", letter, context, {"notified": bool(notified)})
                uow.commit()
        return OpenedLetter(letter, self._content(letter), first_opening=first)

    def read(self, tenant: Tenant, account_id: int, reference: str) -> OpenedLetter:
        """The content of a letter its recipient has opened already (nothing changes)."""
        letter = self.for_recipient(tenant, account_id, reference)
        if letter.status is not LetterStatus.OPENED:
            raise LetterNotFound(f"letter {letter.reference} is not open")
        return OpenedLetter(letter, self._content(letter))

    def refuse(self, tenant: Tenant, live: LiveSession, reference: str, context: RequestContext) -> RegisteredLetter:
        """ "I am not this person": recorded once, before opening; the sender learns it from the
        proof of receipt (and the audit log)."""
        now = self._clock.now()
        _check_fresh_login(live, now)
        with self._uow() as uow:
            letter = self._recipient_letter(uow, tenant, live.account.id, reference, for_update=True)
            if letter.refuse(now):
                self._with_notification(uow, letter)
                uow.letters.save(letter)
                self._audit(uow, tenant, "registered_letter.refused", letter, context, {})
                uow.commit()
        return letter

    # -- the sender (agents, CLI) ----------------------------------------------------------------

    def list(
        self,
        tenant: Tenant,
        *,
        account_id: int | None = None,
        purpose: str | None = None,
        status: LetterStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[RegisteredLetter]:
        """The tenant's letters, newest first (metadata only: the content stays sealed)."""
        with self._uow(readonly=True) as uow:
            letters = uow.letters.list(
                tenant.id, account_id=account_id, purpose=purpose, status=status, limit=limit, offset=offset
            )
            return [self._with_notification(uow, letter) for letter in letters]

    def get(self, tenant: Tenant, reference: str) -> RegisteredLetter:
        """One of the tenant's letters (metadata only); ``LetterNotFound`` if it has none so named."""
        with self._uow(readonly=True) as uow:
            letter = uow.letters.get(tenant.id, normalize_reference(reference) or "")
            if letter is None:
                raise LetterNotFound(f"no letter {reference} at {tenant.slug}")
            return self._with_notification(uow, letter)

    # -- proofs (both sides) ---------------------------------------------------------------------

    def proof(self, tenant: Tenant, letter: RegisteredLetter, kind: ProofKind, *, context: RequestContext) -> str:
        """A proof of sending or of receipt as a compact JWS signed with the tenant's key.
        Never call it inside a unit of work (the tenant's first key may be created)."""
        now = self._clock.now()
        claims = proof_claims(
            letter,
            kind,
            issuer=issuer_of(self._base_url, tenant.slug),
            tenant_slug=tenant.slug,
            recipient_sub=self._recipient_sub(tenant, letter),
            proof_id=secrets.token_urlsafe(16),
            issued_at=now,
        )
        token = sign(self._signing_keys.signer(tenant), claims, typ=PROOF_TYPE)
        with self._uow() as uow:
            details = {"kind": kind.value, "proof_id": claims["jti"]}
            self._audit(uow, tenant, "registered_letter.proof_issued", letter, context, details)
            uow.commit()
        return token

    def verify(self, tenant: Tenant, token: str) -> VerifiedProof:
        """Check a proof against every key the tenant ever had: a proof outlives the publication
        of the key that signed it (retired keys leave the JWKS once their tokens expired)."""
        jwks = jwk_set(self._signing_keys.list(tenant))
        return verify_proof(token, jwks, issuer=issuer_of(self._base_url, tenant.slug))

    # -- internals -------------------------------------------------------------------------------

    def _recipient_letter(
        self, uow: UnitOfWork, tenant: Tenant, account_id: int, reference: str, *, for_update: bool = False
    ) -> RegisteredLetter:
        normalized = normalize_reference(reference)
        letter = uow.letters.get(tenant.id, normalized, for_update=for_update) if normalized else None
        if letter is None or not letter.addressed_to(account_id):
            raise LetterNotFound(f"no letter {reference} for account {account_id}")
        return letter

    def _with_notification(self, uow: UnitOfWork, letter: RegisteredLetter) -> RegisteredLetter:
        """Fill ``notified_at`` from the outbox once it delivered the notification (stored with the
        letter's next change, since the outbox is purged in time)."""
        if letter.notified_at is None and letter.notification_message_id is not None:
            message = uow.outbox.get(letter.notification_message_id)
            if message is not None and message.status is DeliveryStatus.SENT:
                letter.notified_at = message.sent_at
        return letter

    def _content(self, letter: RegisteredLetter) -> LetterContent:
        return LetterContent.from_bytes(self._sealer.unseal(letter.reference, letter.sealed_content))

    def _recipient_sub(self, tenant: Tenant, letter: RegisteredLetter) -> str | None:
        """A stable pseudonym of the recipient's account, not its database id."""
        if letter.recipient_account_id is None:
            return None
        return self._keyed.digest(RECIPIENT_SUB_PURPOSE, f"{tenant.id}:{letter.recipient_account_id}")[:40]

    def _audit(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        type: str,
        letter: RegisteredLetter,
        context: RequestContext,
        details: Mapping[str, object],
    ) -> None:
        audit_event(
            uow,
            self._clock,
            tenant.id,
            type,
            actor=context.actor,
            subject=f"account:{letter.recipient_account_id}" if letter.recipient_account_id else "account:deleted",
            ip=context.ip,
            correlation_id=context.correlation_id,
            details={"reference": letter.reference, "purpose": letter.purpose, **details},
        )


def _check_fresh_login(live: LiveSession, now: datetime) -> None:
    if now - live.session.auth_time > FRESH_LOGIN:
        raise FreshLoginRequired("opening or refusing a registered letter needs a recent login")


def verify_proof(token: str, jwks: Mapping[str, Any], *, issuer: str) -> VerifiedProof:
    """The claims of a proof signed by a key of ``jwks`` (a JWK Set document) for ``issuer``;
    ``InvalidProof`` otherwise. Only the algorithm a key was made for verifies with it: no
    ``none``, no HMAC, no header games (``crit``, ``b64``, ``jku``)."""
    token = token.strip()
    if not token or len(token) > MAX_PROOF_LENGTH or token.count(".") != 2:
        raise InvalidProof("not a compact JWS")
    try:
        raw = token.encode("ascii")
        header = jws.extract_compact(raw).headers()
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in SIGNING_ALGORITHMS or not isinstance(kid, str) or header.get("typ") != PROOF_TYPE:
            raise InvalidProof("unexpected header")
        if set(header) - {"alg", "kid", "typ"}:
            raise InvalidProof("unexpected header")
        published = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == kid]
        if len(published) != 1 or published[0].get("alg") != alg:
            raise InvalidProof("unknown key, or not of this algorithm")
        key = JoseKeySet.import_key_set({"keys": published}).get_by_kid(kid)
        claims = orjson.loads(jws.deserialize_compact(raw, key, algorithms=[alg]).payload)
        if not isinstance(claims, dict):
            raise InvalidProof("not a JSON object")
        kind = check_proof_claims(claims, issuer)
    except (JoseError, ValueError, TypeError, KeyError, UnicodeEncodeError) as error:
        raise InvalidProof("bad signature, encoding or claims") from error
    return VerifiedProof(kind=kind, reference=str(claims["ref"]), claims=claims)

"""Documents encrypted at rest in the database: the ``DocumentStore`` port (``uow.documents``).

Envelope encryption with ``cryptography``'s AES-256-GCM, no hand-made primitive:

- each document gets its own random 256-bit data key, which encrypts the content;
- the data key is stored wrapped (encrypted) under a key-encryption key derived with HKDF-SHA256
  from the server secret (``SESAME_SECRET_KEY``); the key id beside it says which secret, so a
  rotation can keep the previous secret for reading (``DocumentCipher(secret, previous=...)``);
- both encryptions take as associated data the document's id, tenant, owner, label and media
  type: a row whose ciphertext, wrapped key or any of those fields was altered, or whose
  ciphertext was moved to another row, fails to decrypt (``DocumentUnreadable``), it never
  yields another document's bytes.

A stolen database (or backup) alone reveals what documents exist, never their content. The
store works on the caller's SQLAlchemy session, so a document is written, and deleted, in the
same transaction as the change that refers to it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ColumnElement, CursorResult, delete, select
from sqlalchemy.orm import Session

from sesame.adapters.sql.models.documents import DocumentRow
from sesame.domain.documents import DOCUMENT_FIELD_MAX_CHARS, DocumentInfo, DocumentUnreadable, StoredDocument

NONCE_BYTES = 12
#: 192 random bits: a document id is never guessable.
DOCUMENT_ID_BYTES = 24
_KEK_INFO = b"sesame document key-encryption key v1"
_KEY_ID_INFO = b"sesame document key id v1"
_SALT = b"sesame/documents"


def _derive(secret: str, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=info).derive(secret.encode("utf-8"))


class DocumentCipher:
    """Wraps and unwraps documents' data keys; one per process, built from the server secret."""

    def __init__(self, secret_key: str, *, previous: Sequence[str] = ()) -> None:
        if not secret_key:
            raise ValueError("documents need a server secret")
        self._keys: dict[str, AESGCM] = {}
        for secret in (secret_key, *previous):
            self._keys.setdefault(_derive(secret, _KEY_ID_INFO, 8).hex(), AESGCM(_derive(secret, _KEK_INFO, 32)))
        self.key_id = next(iter(self._keys))

    def seal(self, content: bytes, associated: bytes) -> tuple[str, bytes, bytes]:
        """(key id, wrapped data key, ciphertext) of ``content`` under a fresh data key."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, content, associated)
        key_nonce = os.urandom(NONCE_BYTES)
        wrapped = key_nonce + self._keys[self.key_id].encrypt(key_nonce, data_key, b"key|" + associated)
        return self.key_id, wrapped, ciphertext

    def open(self, key_id: str, wrapped: bytes, ciphertext: bytes, associated: bytes) -> bytes:
        """The content; ``DocumentUnreadable`` if anything was altered or the key is unknown."""
        kek = self._keys.get(key_id)
        if kek is None:
            raise DocumentUnreadable(f"document encrypted under an unknown server secret ({key_id})")
        try:
            data_key = kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"key|" + associated)
            return AESGCM(data_key).decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError) as error:
            raise DocumentUnreadable("document does not decrypt: altered or moved") from error


def _associated(document_id: str, tenant_id: int, owner: str, label: str, media_type: str) -> bytes:
    """What the ciphertext is bound to (canonical JSON: no two field lists give the same bytes)."""
    return json.dumps(["sesame-document/1", document_id, tenant_id, owner, label, media_type]).encode("utf-8")


def _info(row: DocumentRow) -> DocumentInfo:
    return DocumentInfo(
        id=row.id,
        tenant_id=row.tenant_id,
        owner=row.owner,
        label=row.label,
        media_type=row.media_type,
        size=row.size,
        created_at=row.created_at,
    )


def _check_field(name: str, value: str) -> None:
    if not value or len(value) > DOCUMENT_FIELD_MAX_CHARS or not value.isprintable():
        raise ValueError(f"document {name} must be 1 to {DOCUMENT_FIELD_MAX_CHARS} printable characters")


class SqlDocumentStore:
    """The ``DocumentStore`` port on one unit of work's session."""

    def __init__(self, session: Session, cipher: DocumentCipher | None) -> None:
        self._session = session
        self._cipher = cipher

    def put(self, tenant_id: int, owner: str, label: str, content: bytes, media_type: str, now: datetime) -> str:
        """Store ``content`` encrypted; returns the new document's id."""
        for name, value in (("owner", owner), ("label", label), ("media type", media_type)):
            _check_field(name, value)
        document_id = secrets.token_urlsafe(DOCUMENT_ID_BYTES)
        key_id, wrapped, ciphertext = self._needs_cipher().seal(
            bytes(content), _associated(document_id, tenant_id, owner, label, media_type)
        )
        self._session.add(
            DocumentRow(
                id=document_id,
                tenant_id=tenant_id,
                owner=owner,
                label=label,
                media_type=media_type,
                size=len(content),
                created_at=now,
                key_id=key_id,
                wrapped_key=wrapped,
                ciphertext=ciphertext,
            )
        )
        self._session.flush()
        return document_id

    def get(self, document_id: str) -> StoredDocument | None:
        """The document decrypted, None if there is none; ``DocumentUnreadable`` if it was altered."""
        row = self._session.get(DocumentRow, document_id, populate_existing=True)
        if row is None:
            return None
        associated = _associated(row.id, row.tenant_id, row.owner, row.label, row.media_type)
        content = self._needs_cipher().open(row.key_id, row.wrapped_key, row.ciphertext, associated)
        return StoredDocument(info=_info(row), content=content)

    def delete(self, document_id: str) -> bool:
        """Delete one document; False if there was none."""
        return self._delete(DocumentRow.id == document_id) > 0

    def delete_owner(self, owner: str) -> int:
        """Delete every document of ``owner``; how many there were."""
        return self._delete(DocumentRow.owner == owner)

    def list_owner(self, owner: str) -> Sequence[DocumentInfo]:
        """The documents of ``owner``, oldest first (nothing decrypted)."""
        columns = (
            DocumentRow.id,
            DocumentRow.tenant_id,
            DocumentRow.owner,
            DocumentRow.label,
            DocumentRow.media_type,
            DocumentRow.size,
            DocumentRow.created_at,
        )
        rows = self._session.execute(
            select(*columns).where(DocumentRow.owner == owner).order_by(DocumentRow.created_at, DocumentRow.id)
        )
        return [DocumentInfo(*row) for row in rows]

    def _delete(self, condition: ColumnElement[bool]) -> int:
        # "fetch": rows loaded in this session are marked deleted too (a later get sees None)
        result = self._session.execute(
            delete(DocumentRow).where(condition).execution_options(synchronize_session="fetch")
        )
        return result.rowcount if isinstance(result, CursorResult) else 0

    def _needs_cipher(self) -> DocumentCipher:
        if self._cipher is None:
            raise RuntimeError("this unit of work has no document key: build it with a DocumentCipher")
        return self._cipher

"""Documents kept for a while and never in clear: identity document images, verification videos.

The ``DocumentStore`` port (``uow.documents``) stores them encrypted, in the database so that
every node sees them, in the caller's transaction so that a document lands with the change
that refers to it. An owner string ("proofing:123") groups what is deleted together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sesame.domain.errors import DomainError

#: Longest owner, label and media type.
DOCUMENT_FIELD_MAX_CHARS = 100


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What is known of a stored document without decrypting it."""

    id: str
    tenant_id: int
    owner: str
    label: str
    media_type: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document decrypted: its description and its bytes."""

    info: DocumentInfo
    content: bytes = field(repr=False)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def owner(self) -> str:
        return self.info.owner

    @property
    def label(self) -> str:
        return self.info.label

    @property
    def media_type(self) -> str:
        return self.info.media_type

    @property
    def tenant_id(self) -> int:
        return self.info.tenant_id


class DocumentUnreadable(DomainError):
    """A stored document does not decrypt: its row was altered (ciphertext, key or any field it
    is bound to), or the server secret it was encrypted under is no longer configured."""

    code = "document_unreadable"

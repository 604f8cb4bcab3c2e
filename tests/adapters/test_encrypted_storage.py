"""Encrypted document storage: in the database, in the caller's transaction, never in clear."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from sesame.adapters.encrypted_storage import DocumentCipher
from sesame.adapters.sql.db import Database
from sesame.adapters.sql.models import Base
from sesame.adapters.sql.uow import SqlUnitOfWorkFactory
from sesame.bootstrap import Container
from sesame.domain.documents import DocumentUnreadable
from sesame.domain.tenants import TenantPolicy

from ..conftest import TEST_SECRET

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: A recognisable plaintext: a JPEG header and a sentence, with random bytes so no two runs match.
PLAIN = b"\xff\xd8\xff\xe0 CARTE NATIONALE D'IDENTITE - DUPONT Marie " + secrets.token_bytes(4096)


@pytest.fixture
def tenant_id(container: Container) -> int:
    with container.uow() as uow:
        tenant = uow.tenants.add("laposte", "La Poste", TenantPolicy(), NOW)
        uow.commit()
    return tenant.id


@pytest.fixture
def other_uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    """The same database seen by a node with another server secret."""
    database = Database(database_url)
    yield SqlUnitOfWorkFactory(database, documents=DocumentCipher("another-secret-" + "x" * 40))
    database.dispose()


def _put(container: Container, tenant_id: int, owner: str = "proofing:1", content: bytes = PLAIN) -> str:
    with container.uow() as uow:
        document_id = uow.documents.put(tenant_id, owner, "recto", content, "image/jpeg", NOW)
        uow.commit()
    return document_id


def _raw(container: Container, sql: str, **params: object) -> None:
    with container.database.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_a_document_comes_back_as_it_was_put(container: Container, tenant_id: int) -> None:
    document_id = _put(container, tenant_id)
    with container.uow(readonly=True) as uow:
        stored = uow.documents.get(document_id)
    assert stored is not None
    assert stored.content == PLAIN
    assert (stored.id, stored.owner, stored.label, stored.media_type) == (
        document_id,
        "proofing:1",
        "recto",
        "image/jpeg",
    )
    assert stored.tenant_id == tenant_id
    assert stored.info.size == len(PLAIN)
    assert stored.info.created_at == NOW
    assert "CARTE" not in repr(stored)


def test_ids_are_random_and_unguessable(container: Container, tenant_id: int) -> None:
    ids = {_put(container, tenant_id) for _ in range(5)}
    assert len(ids) == 5
    assert all(len(document_id) >= 32 for document_id in ids)
    with container.uow(readonly=True) as uow:
        assert uow.documents.get("1") is None
        assert uow.documents.get("nonexistent-" + "a" * 20) is None


def test_the_table_holds_no_plaintext(container: Container, tenant_id: int, tmp_path: Path) -> None:
    first = _put(container, tenant_id)
    second = _put(container, tenant_id)  # the same content twice: two unrelated ciphertexts
    with container.database.engine.connect() as connection:
        rows = {
            row.id: row for row in connection.execute(text("SELECT id, wrapped_key, ciphertext, size FROM documents"))
        }
    for row in rows.values():
        ciphertext, wrapped = bytes(row.ciphertext), bytes(row.wrapped_key)
        assert PLAIN[:40] not in ciphertext
        assert PLAIN[-64:] not in ciphertext
        assert b"CARTE NATIONALE" not in ciphertext + wrapped
        assert len(ciphertext) == 12 + len(PLAIN) + 16  # nonce, ciphertext, GCM tag
        assert len(wrapped) == 12 + 32 + 16
    assert bytes(rows[first].ciphertext) != bytes(rows[second].ciphertext)
    assert bytes(rows[first].wrapped_key) != bytes(rows[second].wrapped_key)
    if container.database.dialect == "sqlite":
        # Nowhere in the database's files either (the WAL included).
        database_file = Path(container.database.engine.url.database or "")
        for path in database_file.parent.glob(database_file.name + "*"):
            assert b"CARTE NATIONALE" not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("column", "sql"),
    [
        ("ciphertext", "UPDATE documents SET ciphertext = :value WHERE id = :id"),
        ("wrapped_key", "UPDATE documents SET wrapped_key = :value WHERE id = :id"),
    ],
)
def test_a_flipped_bit_is_detected(container: Container, tenant_id: int, column: str, sql: str) -> None:
    document_id = _put(container, tenant_id)
    with container.database.engine.connect() as connection:
        value = bytearray(
            connection.execute(
                text(f"SELECT {column} FROM documents WHERE id = :id"),  # noqa: S608 (a parameter of the test)
                {"id": document_id},
            ).scalar_one()
        )
    value[len(value) // 2] ^= 0x01
    _raw(container, sql, value=bytes(value), id=document_id)
    with container.uow(readonly=True) as uow, pytest.raises(DocumentUnreadable):
        uow.documents.get(document_id)


@pytest.mark.parametrize(
    "change",
    [
        "owner = 'proofing:2'",
        "label = 'verso'",
        "media_type = 'text/html'",
        "tenant_id = tenant_id",  # no change: the control case, still readable
    ],
)
def test_the_ciphertext_is_bound_to_its_row(container: Container, tenant_id: int, change: str) -> None:
    document_id = _put(container, tenant_id)
    _raw(container, f"UPDATE documents SET {change} WHERE id = :id", id=document_id)  # noqa: S608 (test's own)
    with container.uow(readonly=True) as uow:
        if change == "tenant_id = tenant_id":
            stored = uow.documents.get(document_id)
            assert stored is not None and stored.content == PLAIN
        else:
            with pytest.raises(DocumentUnreadable):
                uow.documents.get(document_id)


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(container: Container, tenant_id: int) -> None:
    victim = _put(container, tenant_id, owner="proofing:1", content=b"victim's passport")
    attacker = _put(container, tenant_id, owner="proofing:2", content=b"attacker's photo")
    _raw(
        container,
        "UPDATE documents SET ciphertext = (SELECT ciphertext FROM documents WHERE id = :victim), "
        "wrapped_key = (SELECT wrapped_key FROM documents WHERE id = :victim) WHERE id = :attacker",
        victim=victim,
        attacker=attacker,
    )
    with container.uow(readonly=True) as uow:
        with pytest.raises(DocumentUnreadable):
            uow.documents.get(attacker)
        stored = uow.documents.get(victim)
        assert stored is not None and stored.content == b"victim's passport"


def test_another_server_secret_cannot_read_but_a_rotation_can(
    container: Container, tenant_id: int, database_url: str, other_uow: SqlUnitOfWorkFactory
) -> None:
    document_id = _put(container, tenant_id)
    with other_uow(readonly=True) as uow, pytest.raises(DocumentUnreadable, match="unknown server secret"):
        uow.documents.get(document_id)
    rotated = Database(database_url)
    try:
        cipher = DocumentCipher("the-new-secret-" + "y" * 40, previous=[TEST_SECRET])
        with SqlUnitOfWorkFactory(rotated, documents=cipher)() as uow:
            stored = uow.documents.get(document_id)
            assert stored is not None and stored.content == PLAIN
            new_id = uow.documents.put(tenant_id, "proofing:1", "verso", b"new", "image/png", NOW)
            uow.commit()
    finally:
        rotated.dispose()
    with container.uow(readonly=True) as uow, pytest.raises(DocumentUnreadable):
        uow.documents.get(new_id)  # written under the new secret, which this node does not have


def test_a_document_lands_with_its_transaction_or_not_at_all(container: Container, tenant_id: int) -> None:
    with container.uow() as uow:
        rolled_back = uow.documents.put(tenant_id, "proofing:1", "recto", PLAIN, "image/jpeg", NOW)
        assert uow.documents.get(rolled_back) is not None  # visible inside its transaction
        # no commit: leaving rolls back
    with container.uow(readonly=True) as uow:
        assert uow.documents.get(rolled_back) is None
        assert uow.documents.list_owner("proofing:1") == []


def test_list_delete_and_delete_owner(container: Container, tenant_id: int) -> None:
    first = _put(container, tenant_id, owner="proofing:7")
    second = _put(container, tenant_id, owner="proofing:7", content=b"verso")
    kept = _put(container, tenant_id, owner="proofing:8")
    with container.uow(readonly=True) as uow:
        listed = uow.documents.list_owner("proofing:7")
    assert sorted(info.id for info in listed) == sorted([first, second])
    assert {info.size for info in listed} == {len(PLAIN), 5}

    with container.uow() as uow:
        assert uow.documents.delete(first) is True
        assert uow.documents.get(first) is None  # gone in this transaction already
        assert uow.documents.delete(first) is False
        uow.commit()
    with container.uow() as uow:
        assert uow.documents.delete_owner("proofing:7") == 1
        assert uow.documents.delete_owner("proofing:7") == 0
        uow.commit()
    with container.uow(readonly=True) as uow:
        assert uow.documents.get(second) is None
        assert uow.documents.list_owner("proofing:7") == []
        assert [info.id for info in uow.documents.list_owner("proofing:8")] == [kept]
        assert uow.documents.get(kept) is not None


@pytest.mark.parametrize(
    ("owner", "label", "media_type"),
    [
        ("", "recto", "image/jpeg"),
        ("proofing:1", "", "image/jpeg"),
        ("p" * 101, "recto", "image/png"),
        ("proofing:1", "recto\n", "image/png"),
    ],
)
def test_bad_descriptions_are_refused(
    container: Container, tenant_id: int, owner: str, label: str, media_type: str
) -> None:
    with container.uow() as uow, pytest.raises(ValueError, match="printable"):
        uow.documents.put(tenant_id, owner, label, b"x", media_type, NOW)


def test_a_unit_of_work_without_a_key_refuses_to_store(database_url: str) -> None:
    database = Database(database_url)
    try:
        with SqlUnitOfWorkFactory(database)() as uow, pytest.raises(RuntimeError, match="no document key"):
            uow.documents.put(1, "proofing:1", "recto", b"x", "image/png", NOW)
    finally:
        database.dispose()


def test_the_migration_builds_the_table_the_model_describes(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    mine = [entry for entry in diff if "documents" in repr(entry)]
    assert mine == []

"""Admin API keys: shown once, stored as a keyed hash, one tenant each, revocable, audited."""

from __future__ import annotations

import pytest

from sesame.bootstrap import Container
from sesame.domain.errors import InvalidInput, NotFound
from sesame.services.api_keys import ApiKeys
from sesame.services.context import CLI
from tests.banque_support import bank


@pytest.fixture
def keys(container: Container) -> ApiKeys:
    return ApiKeys(container.uow, container.clock, container.keyed)


def test_a_key_works_for_its_tenant_only(container: Container, keys: ApiKeys) -> None:
    banque, laposte = bank(container), container.tenants.get("laposte")
    issued = keys.create(banque, "Back office", CLI)
    assert keys.authenticate(banque, issued.secret) is not None
    assert keys.authenticate(laposte, issued.secret) is None
    with container.uow(readonly=True) as uow:
        stored = uow.api_keys.by_key_id(issued.key.key_id)
        records = uow.audit.chain(banque.id)
    assert stored is not None and issued.secret not in stored.secret_hash and stored.last_used_at is not None
    assert "api_key.created" in [r.event.type for r in records]
    assert all(issued.secret not in str(r.event.details) for r in records)


def test_a_forged_secret_with_a_real_id_is_refused(container: Container, keys: ApiKeys) -> None:
    issued = keys.create(bank(container), "Back office", CLI)
    forged = issued.secret[:-4] + ("AAAA" if not issued.secret.endswith("AAAA") else "BBBB")
    assert keys.authenticate(bank(container), forged) is None
    assert keys.authenticate(bank(container), "") is None


def test_revoked(container: Container, keys: ApiKeys) -> None:
    issued = keys.create(bank(container), "Back office", CLI)
    keys.revoke(bank(container), issued.key.key_id, CLI)
    assert keys.authenticate(bank(container), issued.secret) is None
    with pytest.raises(NotFound):
        keys.revoke(bank(container), issued.key.key_id, CLI)


@pytest.mark.parametrize("label", ["", "   ", "x" * 101, "a\x00b"])
def test_a_label_is_required(container: Container, keys: ApiKeys, label: str) -> None:
    with pytest.raises(InvalidInput):
        keys.create(bank(container), label, CLI)

"""The SQL unit of work: one session, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session

from sesame.adapters.encrypted_storage import DocumentCipher, SqlDocumentStore
from sesame.adapters.sql.db import Database
from sesame.adapters.sql.repositories.accounts import SqlAccountRepository
from sesame.adapters.sql.repositories.agents import SqlAgentRepository
from sesame.adapters.sql.repositories.audit import SqlAuditRepository
from sesame.adapters.sql.repositories.customers import SqlApiKeyRepository, SqlCustomerRepository
from sesame.adapters.sql.repositories.devices import SqlApprovalRepository, SqlDeviceRepository
from sesame.adapters.sql.repositories.factors import SqlFactorRepository
from sesame.adapters.sql.repositories.flows import SqlFlowRepository
from sesame.adapters.sql.repositories.identity import SqlIdentityRepository, SqlProofingRepository
from sesame.adapters.sql.repositories.oidc import SqlOidcRepository
from sesame.adapters.sql.repositories.outbox import SqlOutboxRepository
from sesame.adapters.sql.repositories.registered_letters import SqlRegisteredLetterRepository
from sesame.adapters.sql.repositories.retention import SqlRetentionRepository
from sesame.adapters.sql.repositories.tenants import SqlTenantRepository


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()``: leaving the block without commit rolls back."""

    def __init__(self, database: Database, *, readonly: bool = False, documents: DocumentCipher | None = None) -> None:
        self._database = database
        self._readonly = readonly
        self._documents = documents
        self.session: Session | None = None

    def __enter__(self) -> Self:
        self.session = self._database.session(readonly=self._readonly)
        self.tenants = SqlTenantRepository(self.session)
        self.accounts = SqlAccountRepository(self.session)
        self.oidc = SqlOidcRepository(self.session)
        self.flows = SqlFlowRepository(self.session)
        self.outbox = SqlOutboxRepository(self.session)
        self.audit = SqlAuditRepository(self.session)
        self.customers = SqlCustomerRepository(self.session)
        self.api_keys = SqlApiKeyRepository(self.session)
        self.factors = SqlFactorRepository(self.session)
        self.proofing = SqlProofingRepository(self.session)
        self.identities = SqlIdentityRepository(self.session)
        self.letters = SqlRegisteredLetterRepository(self.session)
        self.agents = SqlAgentRepository(self.session)
        self.retention = SqlRetentionRepository(self.session)
        self.documents = SqlDocumentStore(self.session, self._documents)
        self.devices, self.approvals = SqlDeviceRepository(self.session), SqlApprovalRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None, "commit outside 'with'"
        if self._readonly:
            raise RuntimeError("commit on a read-only unit of work")
        self.session.commit()

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, database: Database, *, documents: DocumentCipher | None = None) -> None:
        self.database = database
        #: Encrypts ``uow.documents`` (built from the server secret); without it they cannot be used.
        self.documents = documents

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.database, readonly=readonly, documents=self.documents)

"""The protocol endpoints' hot SQL: prebuilt statements on DB-API connections, no unit of work.

A SQLAlchemy Session costs ~25 times the query it runs on these paths (its connection
bookkeeping, identity map and flush), and a Core ``Connection.execute`` several times; the token,
introspection and userinfo endpoints run a handful of one-row statements per request. So they
are compiled once per dialect (:class:`Prepared`) and run on a pooled DB-API connection with
SQLAlchemy's own bind and result processors: the same rows and values the repositories read and
write, without the machinery around them.

* :class:`SqlProtocolReads`: one statement per read, each seeing the latest committed rows.
* :class:`SqlProtocolWrites`: the token endpoint's short write transactions (a code's use, a
  refresh token's rotation, the grant re-checked, the next refresh token, the audit record at
  the end of its hash chain). On SQLite they pass the database's :class:`WriterGate` as every
  write transaction does; with ``wait=False`` only if the write turn is free at once (they then
  never block, and the endpoint may run them on the event loop).

On SQLite (a local file in WAL mode, where readers never wait for writers) neither blocks on the
network; on PostgreSQL each statement is a round trip, and the endpoints run them in a worker
thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Dialect, Engine, Executable, bindparam, select, update
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from sesame.adapters.sql.db import SQLITE_BUSY_TIMEOUT_SECONDS, writer_gate
from sesame.adapters.sql.models import (
    AccountRow,
    OidcClientRow,
    OidcGrantRow,
    RevokedAccessTokenRow,
    SessionRow,
    VerifiedIdentityRow,
)
from sesame.adapters.sql.repositories.accounts import _ACCOUNT_FIELDS
from sesame.adapters.sql.repositories.accounts import _account as account_of
from sesame.adapters.sql.repositories.accounts import _session as session_of
from sesame.adapters.sql.repositories.audit import (
    INSERT_RECORD,
    RECORD_COLUMNS,
    SET_HEAD_HASH,
    advance_statement_of,
    chain_of,
    normalised,
    record_values,
)
from sesame.adapters.sql.repositories.identity import _identity as identity_of
from sesame.adapters.sql.repositories.oidc import (
    _ADD_REFRESH_TOKEN,
    _GET_CODE,
    _GET_GRANT,
    _GET_REFRESH_TOKEN,
    _GRANT_COLUMNS,
    _ROTATE_REFRESH_TOKEN,
    _USE_CODE,
    REVOKE_REASON_MAX,
)
from sesame.adapters.sql.repositories.oidc import _code as code_of
from sesame.adapters.sql.repositories.oidc import _grant as grant_of
from sesame.adapters.sql.repositories.oidc import _refresh_token as refresh_token_of
from sesame.domain.accounts import Account, BrowserSession
from sesame.domain.audit import AuditEvent, chain_hash
from sesame.domain.identity import VerifiedIdentity
from sesame.oidc.models import AccessTokenState, AuthorizationCode, Grant, RefreshToken
from sesame.ports import WriteTurnTaken


class Prepared:
    """A statement compiled once for a dialect, run on a DB-API cursor with SQLAlchemy's own
    parameter order, bind processors and result processors: the values the ORM would write and
    give back, without its cost. ``columns``: the keys of the values an INSERT binds."""

    def __init__(self, statement: Executable, dialect: Dialect, *, columns: Sequence[str] | None = None) -> None:
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect, column_keys=columns))
        self.sql = compiled.string
        self.order: Sequence[str] | None = list(compiled.positiontup or ()) if compiled.positional else None
        self.binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        # the statement's own values (a LIMIT's): bound as they are, whatever the caller gives
        self.fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        selected = list(getattr(statement, "exported_columns", ()))  # a SELECT's, or RETURNING's
        self.keys = [str(column.key) for column in selected]
        self.processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in selected]

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.fixed:
            params = {**params, **self.fixed}
        values = {
            name: process(params[name]) if (process := self.binds.get(name)) is not None else params[name]
            for name in (self.order if self.order is not None else params)
        }
        return [values[name] for name in self.order] if self.order is not None else values

    def execute(self, cursor: Any, params: Mapping[str, Any]) -> None:
        cursor.execute(self.sql, self.parameters(params))

    def first(self, cursor: Any, params: Mapping[str, Any]) -> dict[str, Any] | None:
        cursor.execute(self.sql, self.parameters(params))
        rows = cursor.fetchall()  # to the end: a statement with RETURNING is done only then
        if not rows:
            return None
        return {
            key: process(value) if process is not None else value
            for key, process, value in zip(self.keys, self.processors, rows[0], strict=False)
        }


def _row(values: Mapping[str, Any]) -> Any:
    """A plain row with the attribute names the repositories' own mappings read."""
    return SimpleNamespace(**values)


# -- reads --------------------------------------------------------------------------------------------


class SqlProtocolReads:
    """:class:`~sesame.ports.ProtocolReads` in SQL: one prebuilt statement per read, on a pooled
    DB-API connection, outside any unit of work."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self.non_blocking = dialect.name == "sqlite"
        revoked = (
            select(RevokedAccessTokenRow.jti).where(RevokedAccessTokenRow.jti == bindparam("jti")).exists()
        ).label("revoked")
        self._client = Prepared(
            select(OidcClientRow.tenant_id, OidcClientRow.disabled_at, revoked).where(
                OidcClientRow.client_id == bindparam("client_id")
            ),
            dialect,
        )
        self._grant_revoked = Prepared(
            select(*_GRANT_COLUMNS, revoked).where(OidcGrantRow.id == bindparam("grant_id")), dialect
        )
        self._grant = Prepared(_GET_GRANT, dialect)
        self._refresh_token = Prepared(_GET_REFRESH_TOKEN, dialect)
        self._code = Prepared(_GET_CODE, dialect)
        # The columns the account repository maps (its own mapping makes the Account).
        account_columns = ("id", "tenant_id", "status", "created_at", *_ACCOUNT_FIELDS)
        self._account = Prepared(
            select(*(getattr(AccountRow, name) for name in account_columns)).where(
                AccountRow.id == bindparam("account_id")
            ),
            dialect,
        )
        self._session = Prepared(
            select(*SessionRow.__table__.c).where(SessionRow.id == bindparam("session_id")), dialect
        )
        # IdentityRepository.of_account: the newest identity not revoked
        self._identity = Prepared(
            select(*VerifiedIdentityRow.__table__.c)
            .where(VerifiedIdentityRow.account_id == bindparam("account_id"), VerifiedIdentityRow.revoked_at.is_(None))
            .order_by(VerifiedIdentityRow.id.desc())
            .limit(1),
            dialect,
        )

    def access_token(self, jti: str, grant_id: str | None, client_id: str) -> AccessTokenState:
        """Whether the jti was revoked, with the grant (a person's token) or the client's tenant
        and enabled flag (a client's own token, ``grant_id`` None)."""
        if grant_id is None:
            row = self._first(self._client, {"jti": jti, "client_id": client_id})
            if row is None:
                return AccessTokenState(revoked=False)  # unknown client: invalid whatever the jti
            return AccessTokenState(
                revoked=bool(row["revoked"]),
                client_tenant_id=row["tenant_id"],
                client_enabled=row["disabled_at"] is None,
            )
        row = self._first(self._grant_revoked, {"jti": jti, "grant_id": grant_id})
        if row is None:
            return AccessTokenState(revoked=False)  # unknown grant: invalid whatever the jti
        return AccessTokenState(revoked=bool(row.pop("revoked")), grant=grant_of(_row(row)))

    def refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = self._first(self._refresh_token, {"token_hash": token_hash})
        return refresh_token_of(_row(row)) if row else None

    def code(self, code_hash: str) -> AuthorizationCode | None:
        row = self._first(self._code, {"code_hash": code_hash})
        return code_of(_row(row)) if row else None

    def grant(self, grant_id: str) -> Grant | None:
        row = self._first(self._grant, {"grant_id": grant_id})
        return grant_of(_row(row)) if row else None

    def account(self, account_id: int) -> Account | None:
        row = self._first(self._account, {"account_id": account_id})
        # the account repository's own mapping, from the same attributes its ORM rows have
        return account_of(_row(row)) if row else None

    def session(self, session_id: str) -> BrowserSession | None:
        row = self._first(self._session, {"session_id": session_id})
        return session_of(_row(row)) if row else None

    def identity(self, account_id: int) -> VerifiedIdentity | None:
        row = self._first(self._identity, {"account_id": account_id})
        return identity_of(_row(row)) if row else None

    def _first(self, read: Prepared, params: Mapping[str, Any]) -> dict[str, Any] | None:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                return read.first(cursor, params)
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool (which rolls back whatever the driver began)


# -- writes -------------------------------------------------------------------------------------------


class _WriteStatements:
    """The token endpoint's write statements, compiled for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.use_code = Prepared(_USE_CODE, dialect)
        self.get_code = Prepared(_GET_CODE, dialect)
        self.rotate = Prepared(_ROTATE_REFRESH_TOKEN, dialect)
        self.get_refresh_token = Prepared(_GET_REFRESH_TOKEN, dialect)
        self.grant = Prepared(_GET_GRANT, dialect)
        self.revoke_grant = Prepared(
            update(OidcGrantRow)
            .where(OidcGrantRow.id == bindparam("b_grant_id"), OidcGrantRow.revoked_at.is_(None))
            .values(revoked_at=bindparam("b_now"), revoke_reason=bindparam("b_reason"))
            .returning(OidcGrantRow.id),
            dialect,
        )
        refresh_columns = ("token_hash", "grant_id", "client_id", "created_at", "expires_at", "rotated_at")
        self.add_refresh_token = Prepared(_ADD_REFRESH_TOKEN, dialect, columns=refresh_columns)
        self.advance_head = Prepared(advance_statement_of(dialect.name), dialect)
        self.insert_record = Prepared(INSERT_RECORD, dialect, columns=RECORD_COLUMNS)
        self.set_head_hash = Prepared(SET_HEAD_HASH, dialect)


class _SqlProtocolTransaction:
    """:class:`~sesame.ports.ProtocolTransaction` on one DB-API cursor."""

    def __init__(self, cursor: Any, statements: _WriteStatements) -> None:
        self._cursor = cursor
        self._sql = statements
        self.committed = False

    def use_code(self, code_hash: str, now: datetime) -> AuthorizationCode | None:
        used = self._sql.use_code.first(self._cursor, {"b_hash": code_hash, "b_now": now})
        if used is not None:  # this call used it: the code as it was, unused
            code = code_of(_row(used))
            code.used_at = None
            return code
        row = self._sql.get_code.first(self._cursor, {"code_hash": code_hash})  # a replay, or unknown
        return code_of(_row(row)) if row else None

    def rotate_refresh_token(self, token_hash: str, now: datetime) -> RefreshToken | None:
        rotated = self._sql.rotate.first(self._cursor, {"b_hash": token_hash, "b_now": now})
        if rotated is not None:  # this call rotated it: the token as it was, unrotated
            token = refresh_token_of(_row(rotated))
            token.rotated_at = None
            return token
        row = self._sql.get_refresh_token.first(self._cursor, {"token_hash": token_hash})  # a reuse, or unknown
        return refresh_token_of(_row(row)) if row else None

    def grant(self, grant_id: str) -> Grant | None:
        row = self._sql.grant.first(self._cursor, {"grant_id": grant_id})
        return grant_of(_row(row)) if row else None

    def revoke_grant(self, grant_id: str, now: datetime, reason: str) -> bool:
        params = {"b_grant_id": grant_id, "b_now": now, "b_reason": reason[:REVOKE_REASON_MAX]}
        return self._sql.revoke_grant.first(self._cursor, params) is not None

    def add_refresh_token(self, token: RefreshToken) -> None:
        self._sql.add_refresh_token.execute(
            self._cursor,
            {
                "token_hash": token.token_hash,
                "grant_id": token.grant_id,
                "client_id": token.client_id,
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "rotated_at": token.rotated_at,
            },
        )

    def append_audit(self, event: AuditEvent) -> None:
        """As ``SqlAuditRepository.append``: the chain's head moved first (its row lock on
        PostgreSQL, the write lock on SQLite: appends to one chain take turns)."""
        event = normalised(event)
        chain = chain_of(event.tenant_id)
        head = self._sql.advance_head.first(self._cursor, {"head_chain": chain})
        assert head is not None  # an upsert always returns its row
        seq, prev_hash = int(head["seq"]), str(head["last_hash"])
        digest = chain_hash(seq, event, prev_hash)
        self._sql.insert_record.execute(self._cursor, record_values(chain, seq, event, prev_hash, digest))
        self._sql.set_head_hash.execute(self._cursor, {"head_chain": chain, "head_hash": digest})

    def commit(self) -> None:
        self._cursor.connection.commit()
        self.committed = True


#: How long a transaction that may not wait lets SQLite's busy handler wait for its write lock.
LOOP_BUSY_MILLISECONDS = 2


class SqlProtocolWrites:
    """:class:`~sesame.ports.ProtocolWrites` in SQL (see the module's docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.non_blocking = engine.dialect.name == "sqlite"
        self._gate = writer_gate(engine)
        self._statements = _WriteStatements(engine.dialect)

    @contextmanager
    def transaction(self, *, wait: bool = True) -> Iterator[_SqlProtocolTransaction]:
        connection = self._engine.raw_connection()
        dbapi = connection.dbapi_connection
        assert dbapi is not None  # a connection checked out of the pool is open
        cursor = connection.cursor()
        gate = self._gate
        try:
            if self.non_blocking:
                if gate is not None:
                    if wait:
                        gate.enter_for(dbapi)
                    elif not gate.try_enter_for(dbapi):
                        raise WriteTurnTaken
                self._begin_immediate(cursor, wait=wait)
            transaction = _SqlProtocolTransaction(cursor, self._statements)
            try:
                yield transaction
            finally:
                if not transaction.committed:
                    dbapi.rollback()
        finally:
            try:
                cursor.close()
            finally:
                if gate is not None:
                    gate.leave_for(dbapi)
                connection.close()  # back to the pool

    @staticmethod
    def _begin_immediate(cursor: Any, *, wait: bool) -> None:
        """SQLite's write lock, up front (as the write engine's ``BEGIN`` event takes it). Not
        waiting: the gate is ours, so the lock is free unless a writer went around the gate (or
        SQLite is busy for a moment with its write-ahead log); then give up after
        :data:`LOOP_BUSY_MILLISECONDS` rather than hold the event loop in SQLite's busy handler."""
        if wait:
            cursor.execute("BEGIN IMMEDIATE")
            return
        cursor.execute(f"PRAGMA busy_timeout={LOOP_BUSY_MILLISECONDS}")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise WriteTurnTaken from error
        finally:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")

"""The OpenID Connect provider's state in SQL: clients, signing keys, grants, codes, tokens, consents.

What must be decided once across every worker (a code's single use, a refresh token's rotation,
a grant's revocation) is one conditional UPDATE checked by its row count, so that parallel
requests on SQLite (serialised write transactions) and PostgreSQL (row locks) get one winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sesame.adapters.sql.models import (
    AuthorizationCodeRow,
    ConsentRow,
    OidcClientRow,
    OidcGrantRow,
    RefreshTokenRow,
    RevokedAccessTokenRow,
    SigningKeyRow,
    TenantRow,
)
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.oidc.models import (
    AuthorizationCode,
    ClientAuthMethod,
    ClientMetadata,
    Consent,
    Grant,
    KeyStatus,
    OidcClient,
    RefreshToken,
    SigningKey,
)

#: The ``oidc_grants.revoke_reason`` column's length (PostgreSQL refuses longer values).
REVOKE_REASON_MAX = 40


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


# -- rows to records ----------------------------------------------------------------------------


def _client(row: OidcClientRow) -> OidcClient:
    return OidcClient(
        client_id=row.client_id,
        tenant_id=row.tenant_id,
        name=row.name,
        public=row.public,
        token_endpoint_auth_method=ClientAuthMethod(row.token_endpoint_auth_method),
        metadata=ClientMetadata.model_validate(row.metadata_),
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret_hash=row.secret_hash,
        disabled_at=row.disabled_at,
    )


def _client_values(client: OidcClient) -> dict[str, Any]:
    return {
        "tenant_id": client.tenant_id,
        "name": client.name,
        "secret_hash": client.secret_hash,
        "public": client.public,
        "token_endpoint_auth_method": client.token_endpoint_auth_method.value,
        "metadata_": client.metadata.model_dump(mode="json"),
        "created_at": client.created_at,
        "updated_at": client.updated_at,
        "disabled_at": client.disabled_at,
    }


def _key(row: SigningKeyRow) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        tenant_id=row.tenant_id,
        alg=row.alg,
        private_jwk_encrypted=row.private_jwk_encrypted,
        public_jwk=dict(row.public_jwk),
        status=KeyStatus(row.status),
        created_at=row.created_at,
        retired_at=row.retired_at,
        publish_until=row.publish_until,
    )


#: The columns :func:`_grant` reads, for plain-row selects (no ORM object on the hot paths).
_GRANT_COLUMNS = (
    OidcGrantRow.id,
    OidcGrantRow.tenant_id,
    OidcGrantRow.client_id,
    OidcGrantRow.scope,
    OidcGrantRow.created_at,
    OidcGrantRow.expires_at,
    OidcGrantRow.account_id,
    OidcGrantRow.session_id,
    OidcGrantRow.claims,
    OidcGrantRow.acr,
    OidcGrantRow.amr,
    OidcGrantRow.auth_time,
    OidcGrantRow.nonce,
    OidcGrantRow.revoked_at,
    OidcGrantRow.revoke_reason,
)


def _grant(row: Any) -> Grant:
    """A grant from its ORM row or a plain row of :data:`_GRANT_COLUMNS` (same attribute names)."""
    return Grant(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        scope=row.scope,
        created_at=row.created_at,
        expires_at=row.expires_at,
        account_id=row.account_id,
        session_id=row.session_id,
        claims=dict(row.claims or {}),
        acr=row.acr,
        amr=list(row.amr or []),
        auth_time=row.auth_time,
        nonce=row.nonce,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
    )


def _code(row: Any) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=row.code_hash,
        grant_id=row.grant_id,
        client_id=row.client_id,
        redirect_uri=row.redirect_uri,
        created_at=row.created_at,
        expires_at=row.expires_at,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        used_at=row.used_at,
    )


def _refresh_token(row: Any) -> RefreshToken:
    return RefreshToken(
        token_hash=row.token_hash,
        grant_id=row.grant_id,
        client_id=row.client_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
    )


def _consent(row: ConsentRow) -> Consent:
    return Consent(
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        client_id=row.client_id,
        scopes=list(row.scopes),
        granted_at=row.granted_at,
        updated_at=row.updated_at,
    )


# -- the token endpoint's statements, built once ----------------------------------------------------
# (A statement made per call costs SQLAlchemy more to build and key than the database to run.)

_CODE_COLUMNS = tuple(AuthorizationCodeRow.__table__.c)
_REFRESH_COLUMNS = tuple(RefreshTokenRow.__table__.c)
_GET_GRANT = select(*_GRANT_COLUMNS).where(OidcGrantRow.id == bindparam("grant_id"))
_USE_CODE = (
    update(AuthorizationCodeRow)
    .where(AuthorizationCodeRow.code_hash == bindparam("b_hash"), AuthorizationCodeRow.used_at.is_(None))
    .values(used_at=bindparam("b_now"))
    .returning(*_CODE_COLUMNS)
)
_GET_CODE = select(*_CODE_COLUMNS).where(AuthorizationCodeRow.code_hash == bindparam("code_hash"))
_ROTATE_REFRESH_TOKEN = (
    update(RefreshTokenRow)
    .where(RefreshTokenRow.token_hash == bindparam("b_hash"), RefreshTokenRow.rotated_at.is_(None))
    .values(rotated_at=bindparam("b_now"))
    .returning(*_REFRESH_COLUMNS)
)
_GET_REFRESH_TOKEN = select(*_REFRESH_COLUMNS).where(RefreshTokenRow.token_hash == bindparam("token_hash"))
_ADD_REFRESH_TOKEN = insert(RefreshTokenRow)


class SqlOidcRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _hot(self) -> Connection:
        """The session's connection, for the token endpoint's statements (prebuilt Core, below):
        the ORM's identity map and flush are not needed there and cost more than the SQL."""
        self._session.flush()  # rows added through the ORM are visible to what follows
        return self._session.connection()

    # -- clients ---------------------------------------------------------------------------------

    def get_client(self, client_id: str) -> OidcClient | None:
        row = self._session.get(OidcClientRow, client_id, populate_existing=True)
        return _client(row) if row else None

    def clients(self, tenant_id: int) -> Sequence[OidcClient]:
        rows = self._session.scalars(
            select(OidcClientRow)
            .where(OidcClientRow.tenant_id == tenant_id)
            .order_by(OidcClientRow.created_at, OidcClientRow.client_id)
        )
        return [_client(r) for r in rows]

    def add_client(self, client: OidcClient) -> None:
        try:
            with self._session.begin_nested():
                self._session.add(OidcClientRow(client_id=client.client_id, **_client_values(client)))
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists(f"client {client.client_id} exists") from error

    def save_client(self, client: OidcClient) -> None:
        values = _client_values(client)
        del values["tenant_id"], values["created_at"]  # a client never moves nor is re-created
        result = self._session.execute(
            update(OidcClientRow)
            .where(OidcClientRow.client_id == client.client_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            raise NotFound(f"client {client.client_id}")

    # -- signing keys ----------------------------------------------------------------------------

    def keys(self, tenant_id: int) -> Sequence[SigningKey]:
        """Every key of the tenant (active and retired), newest first."""
        rows = self._session.scalars(
            select(SigningKeyRow)
            .where(SigningKeyRow.tenant_id == tenant_id)
            # At the same instant (a frozen clock), the active key comes before the one it retired.
            .order_by(SigningKeyRow.created_at.desc(), SigningKeyRow.status, SigningKeyRow.kid)
            .execution_options(populate_existing=True)
        )
        return [_key(r) for r in rows]

    def lock_keys(self, tenant_id: int) -> None:
        """Lock the tenant's row until commit (PostgreSQL); SQLite's BEGIN IMMEDIATE already
        serialises write transactions, and SQLAlchemy leaves FOR UPDATE out there."""
        self._session.execute(select(TenantRow.id).where(TenantRow.id == tenant_id).with_for_update())

    def add_key(self, key: SigningKey) -> None:
        try:
            with self._session.begin_nested():
                self._session.add(
                    SigningKeyRow(
                        kid=key.kid,
                        tenant_id=key.tenant_id,
                        alg=key.alg,
                        private_jwk_encrypted=key.private_jwk_encrypted,
                        public_jwk=key.public_jwk,
                        status=key.status.value,
                        created_at=key.created_at,
                        retired_at=key.retired_at,
                        publish_until=key.publish_until,
                    )
                )
                self._session.flush()
        except IntegrityError as error:
            raise AlreadyExists(f"signing key {key.kid} exists") from error

    def save_key(self, key: SigningKey) -> None:
        """Store a key's lifecycle (status, retirement, publication); its material never changes."""
        result = self._session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.kid == key.kid)
            .values(status=key.status.value, retired_at=key.retired_at, publish_until=key.publish_until)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            raise NotFound(f"signing key {key.kid}")

    # -- grants ----------------------------------------------------------------------------------

    def add_grant(self, grant: Grant) -> None:
        self._session.add(
            OidcGrantRow(
                id=grant.id,
                tenant_id=grant.tenant_id,
                client_id=grant.client_id,
                account_id=grant.account_id,
                session_id=grant.session_id,
                scope=grant.scope,
                claims=grant.claims,
                acr=grant.acr,
                amr=grant.amr,
                auth_time=grant.auth_time,
                nonce=grant.nonce,
                created_at=grant.created_at,
                expires_at=grant.expires_at,
                revoked_at=grant.revoked_at,
                revoke_reason=grant.revoke_reason,
            )
        )
        self._session.flush()

    def get_grant(self, grant_id: str) -> Grant | None:
        row = self._hot().execute(_GET_GRANT, {"grant_id": grant_id}).first()
        return _grant(row) if row else None

    def revoke_grant(self, grant_id: str, now: datetime, reason: str) -> bool:
        """Revoke one grant (and so every token of it); False if it was already revoked."""
        result = self._session.execute(
            update(OidcGrantRow)
            .where(OidcGrantRow.id == grant_id, OidcGrantRow.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason[:REVOKE_REASON_MAX])
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def revoke_grants(
        self,
        now: datetime,
        reason: str,
        *,
        account_id: int | None = None,
        session_id: str | None = None,
        client_id: str | None = None,
    ) -> Sequence[Grant]:
        """Revoke the live grants matching every given filter; returns them (for back-channel logout).

        Only the grants this call revoked come back (RETURNING), so two parallel logouts never
        both notify a client. At least one filter is required: no call revokes a whole server.
        """
        if account_id is None and session_id is None and client_id is None:
            raise ValueError("revoke_grants needs account_id, session_id or client_id")
        query = update(OidcGrantRow).where(OidcGrantRow.revoked_at.is_(None))
        if account_id is not None:
            query = query.where(OidcGrantRow.account_id == account_id)
        if session_id is not None:
            query = query.where(OidcGrantRow.session_id == session_id)
        if client_id is not None:
            query = query.where(OidcGrantRow.client_id == client_id)
        rows = self._session.scalars(
            query.values(revoked_at=now, revoke_reason=reason[:REVOKE_REASON_MAX])
            .returning(OidcGrantRow)
            .execution_options(synchronize_session=False, populate_existing=True)
        ).all()
        return sorted((_grant(r) for r in rows), key=lambda g: (g.created_at, g.id))

    # -- authorization codes ---------------------------------------------------------------------

    def add_code(self, code: AuthorizationCode) -> None:
        self._session.add(
            AuthorizationCodeRow(
                code_hash=code.code_hash,
                grant_id=code.grant_id,
                client_id=code.client_id,
                redirect_uri=code.redirect_uri,
                code_challenge=code.code_challenge,
                code_challenge_method=code.code_challenge_method,
                created_at=code.created_at,
                expires_at=code.expires_at,
                used_at=code.used_at,
            )
        )
        self._session.flush()

    def get_code(self, code_hash: str) -> AuthorizationCode | None:
        row = self._hot().execute(_GET_CODE, {"code_hash": code_hash}).first()
        return _code(row) if row else None

    def use_code(self, code_hash: str, now: datetime) -> AuthorizationCode | None:
        """Mark the code used and return it as it was BEFORE this call; None when unknown.

        ``used_at is None`` on the result means this call used the code (the one winner of any
        race); ``used_at`` set means it had been used already: a replay (RFC 6749 §4.1.2).
        """
        connection = self._hot()
        used = connection.execute(_USE_CODE, {"b_hash": code_hash, "b_now": now}).first()
        if used is not None:  # this call used it: the code as it was, unused
            code = _code(used)
            code.used_at = None
            return code
        return self.get_code(code_hash)  # used before (a replay), or unknown

    # -- refresh tokens --------------------------------------------------------------------------

    def add_refresh_token(self, token: RefreshToken) -> None:
        self._hot().execute(
            _ADD_REFRESH_TOKEN,
            {
                "token_hash": token.token_hash,
                "grant_id": token.grant_id,
                "client_id": token.client_id,
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "rotated_at": token.rotated_at,
            },
        )

    def rotate_refresh_token(self, token_hash: str, now: datetime) -> RefreshToken | None:
        """Mark the token rotated and return it as it was BEFORE this call; None when unknown.

        ``rotated_at is None`` on the result means this call rotated it (the one winner of any
        race); ``rotated_at`` set means it had been exchanged already: reuse, revoke the family.
        """
        connection = self._hot()
        rotated = connection.execute(_ROTATE_REFRESH_TOKEN, {"b_hash": token_hash, "b_now": now}).first()
        if rotated is not None:  # this call rotated it: the token as it was, unrotated
            token = _refresh_token(rotated)
            token.rotated_at = None
            return token
        return self.get_refresh_token(token_hash)  # rotated before (a reuse), or unknown

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = self._hot().execute(_GET_REFRESH_TOKEN, {"token_hash": token_hash}).first()
        return _refresh_token(row) if row else None

    # -- revoked access tokens -------------------------------------------------------------------

    def revoke_access_token(self, jti: str, client_id: str, expires_at: datetime) -> None:
        """Remember a revoked access token until it expires (revoking twice is not an error)."""
        if self._session.get(RevokedAccessTokenRow, jti) is not None:
            return
        try:
            with self._session.begin_nested():
                self._session.add(RevokedAccessTokenRow(jti=jti, client_id=client_id, expires_at=expires_at))
                self._session.flush()
        except IntegrityError:
            pass  # revoked at the same moment by another request: the outcome is the same

    def access_token_revoked(self, jti: str) -> bool:
        found = self._session.scalars(select(RevokedAccessTokenRow.jti).where(RevokedAccessTokenRow.jti == jti))
        return found.first() is not None

    # -- consents --------------------------------------------------------------------------------

    def get_consent(self, account_id: int, client_id: str) -> Consent | None:
        row = self._session.scalars(
            select(ConsentRow)
            .where(ConsentRow.account_id == account_id, ConsentRow.client_id == client_id)
            .execution_options(populate_existing=True)
        ).one_or_none()
        return _consent(row) if row else None

    def save_consent(self, consent: Consent) -> None:
        """Create or replace the account's consent to the client (one row per pair)."""
        values = {"scopes": sorted(set(consent.scopes)), "updated_at": consent.updated_at}
        result = self._session.execute(
            update(ConsentRow)
            .where(ConsentRow.account_id == consent.account_id, ConsentRow.client_id == consent.client_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 1:
            return
        try:
            with self._session.begin_nested():
                self._session.add(
                    ConsentRow(
                        tenant_id=consent.tenant_id,
                        account_id=consent.account_id,
                        client_id=consent.client_id,
                        granted_at=consent.granted_at,
                        **values,
                    )
                )
                self._session.flush()
        except IntegrityError:
            # Given in another tab at the same moment: this one, the latest, wins.
            self._session.execute(
                update(ConsentRow)
                .where(ConsentRow.account_id == consent.account_id, ConsentRow.client_id == consent.client_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def consents_of(self, account_id: int) -> Sequence[Consent]:
        rows = self._session.scalars(
            select(ConsentRow)
            .where(ConsentRow.account_id == account_id)
            .order_by(ConsentRow.granted_at, ConsentRow.client_id)
            .execution_options(populate_existing=True)
        )
        return [_consent(r) for r in rows]

    def delete_consent(self, account_id: int, client_id: str) -> bool:
        result = self._session.execute(
            delete(ConsentRow)
            .where(ConsentRow.account_id == account_id, ConsentRow.client_id == client_id)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

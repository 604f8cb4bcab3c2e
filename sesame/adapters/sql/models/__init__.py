"""SQLAlchemy models, one module per area; importing this package registers every table."""

from sesame.adapters.sql.models.accounts import AccountRow, AccountTokenRow, CredentialRow, SessionRow
from sesame.adapters.sql.models.audit import AuditEventRow, AuditHeadRow
from sesame.adapters.sql.models.base import Base
from sesame.adapters.sql.models.counters import CounterRow
from sesame.adapters.sql.models.customers import ApiKeyRow, CustomerProfileRow
from sesame.adapters.sql.models.flows import FlowRow
from sesame.adapters.sql.models.identity import ProofingCaseRow, VerifiedIdentityRow
from sesame.adapters.sql.models.oidc import (
    AuthorizationCodeRow,
    ConsentRow,
    OidcClientRow,
    OidcGrantRow,
    RefreshTokenRow,
    RevokedAccessTokenRow,
    SigningKeyRow,
)
from sesame.adapters.sql.models.outbox import OutboxRow
from sesame.adapters.sql.models.tenants import TenantRow

__all__ = [
    "AccountRow",
    "AccountTokenRow",
    "ApiKeyRow",
    "AuditEventRow",
    "AuditHeadRow",
    "AuthorizationCodeRow",
    "Base",
    "ConsentRow",
    "CounterRow",
    "CredentialRow",
    "CustomerProfileRow",
    "FlowRow",
    "OidcClientRow",
    "OidcGrantRow",
    "OutboxRow",
    "ProofingCaseRow",
    "RefreshTokenRow",
    "RevokedAccessTokenRow",
    "SessionRow",
    "SigningKeyRow",
    "TenantRow",
    "VerifiedIdentityRow",
]

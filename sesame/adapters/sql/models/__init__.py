"""SQLAlchemy models, one module per area; importing this package registers every table."""

from sesame.adapters.sql.models.accounts import AccountRow, AccountTokenRow, CredentialRow, SessionRow
from sesame.adapters.sql.models.agents import AgentRow, AgentSessionRow, AgentTenantRow, SecondApprovalRow
from sesame.adapters.sql.models.audit import AuditEventRow, AuditHeadRow
from sesame.adapters.sql.models.base import Base
from sesame.adapters.sql.models.counters import CounterRow
from sesame.adapters.sql.models.customers import ApiKeyRow, CustomerProfileRow
from sesame.adapters.sql.models.devices import ApprovalRequestRow, DeviceActivationRow, DeviceRow
from sesame.adapters.sql.models.documents import DocumentRow
from sesame.adapters.sql.models.factors import RecoveryCodeRow, SecondFactorRow
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
from sesame.adapters.sql.models.registered_letters import RegisteredLetterRow
from sesame.adapters.sql.models.tenants import TenantRow

__all__ = [
    "AccountRow",
    "AccountTokenRow",
    "AgentRow",
    "AgentSessionRow",
    "AgentTenantRow",
    "ApiKeyRow",
    "ApprovalRequestRow",
    "AuditEventRow",
    "AuditHeadRow",
    "AuthorizationCodeRow",
    "Base",
    "ConsentRow",
    "CounterRow",
    "CredentialRow",
    "CustomerProfileRow",
    "DeviceActivationRow",
    "DeviceRow",
    "DocumentRow",
    "FlowRow",
    "OidcClientRow",
    "OidcGrantRow",
    "OutboxRow",
    "ProofingCaseRow",
    "RecoveryCodeRow",
    "RefreshTokenRow",
    "RegisteredLetterRow",
    "RevokedAccessTokenRow",
    "SecondApprovalRow",
    "SecondFactorRow",
    "SessionRow",
    "SigningKeyRow",
    "TenantRow",
    "VerifiedIdentityRow",
]

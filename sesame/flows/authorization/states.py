"""States and typed context of the authorization flow."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from sesame.oidc.authorize import AuthorizationRequest


class AuthorizationState(StrEnum):
    LOGIN = "login"  # waiting for a session that satisfies the request (the login flow runs meanwhile)
    CONSENT = "consent"  # the consent page is shown
    DONE = "done"  # a code went back to the client
    FAILED = "failed"  # an error went back to the client


class AuthorizationContext(BaseModel):
    #: The validated request (sesame.oidc.authorize): the flow's whole input.
    request: AuthorizationRequest
    #: The tenant's issuer, sent back as ``iss`` (RFC 9207).
    issuer: str
    #: The account the consent page was shown to, and what it asks (sorted scopes and claims).
    account_id: int | None = None
    consent_items: list[str] = Field(default_factory=list)
    #: Once DONE: the SHA-256 of the code (the page that drew it sends the code itself) and the grant.
    code_hash: str | None = None
    grant_id: str | None = None
    #: Once FAILED: the error sent to the client.
    error: str | None = None
    error_description: str | None = None

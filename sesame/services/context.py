"""Who is asking, as far as the audit log and the throttles need to know."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The circumstances of a request: recorded with audit events, used by per-IP throttles."""

    ip: str = ""
    user_agent: str = ""
    correlation_id: str = ""
    #: Who acts, for the audit log: "anonymous", "account:42", "cli", "support:alice".
    actor: str = "anonymous"


CLI = RequestContext(actor="cli")

"""States and typed context of the identity enrolment flow.

The flow's states are the case's statuses (``CaseStatus``): a page per status, and a flow made
from a case starts where the case stands.
"""

from __future__ import annotations

from pydantic import BaseModel

from sesame.domain.identity import CaseStatus

#: The flow's state enum: the proofing case's statuses, one page each.
ProofingState = CaseStatus


class ProofingContext(BaseModel):
    #: The logged-in account that owns the case: another one cannot continue the flow.
    account_id: int = 0
    case_id: int = 0

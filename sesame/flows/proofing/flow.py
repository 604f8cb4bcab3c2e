"""The identity enrolment flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from datetime import timedelta

from sesame.domain.identity import CLOSED_STATES
from sesame.flows.base import FlowDefinition
from sesame.flows.proofing import steps
from sesame.flows.proofing.states import ProofingContext, ProofingState

PROOFING = FlowDefinition(
    kind="proofing",
    states=ProofingState,
    context_model=ProofingContext,
    initial=ProofingState.TERMS,
    steps={
        ProofingState.TERMS: steps.terms,
        ProofingState.DOCUMENT: steps.document,
        ProofingState.IDENTITY: steps.identity,
        ProofingState.REVIEW: steps.review,
        ProofingState.MOBILE: steps.mobile,
        ProofingState.MOBILE_CODE: steps.mobile_code,
        ProofingState.ADDRESS: steps.address,
        ProofingState.METHOD: steps.method,
        ProofingState.IN_PERSON: steps.in_person,
        ProofingState.ONLINE_LETTER: steps.waiting,
        ProofingState.ONLINE_REVIEW: steps.waiting,
        ProofingState.ACTIVATION: steps.activation,
    },
    terminal=frozenset(CLOSED_STATES),
    # The case is what lasts: a browser's flow is remade from it whenever it expires.
    lifetime=timedelta(hours=2),
    # Limits that matter are the case's (SMS and activation code tries); these count refusals.
    max_attempts=50,
)

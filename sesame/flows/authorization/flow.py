"""The authorization flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.authorization import steps
from sesame.flows.authorization.states import AuthorizationContext, AuthorizationState
from sesame.flows.base import FlowDefinition

AUTHORIZATION = FlowDefinition(
    kind="authorization",
    states=AuthorizationState,
    context_model=AuthorizationContext,
    initial=AuthorizationState.LOGIN,
    steps={
        AuthorizationState.LOGIN: steps.resume,
        AuthorizationState.CONSENT: steps.consent,
    },
    terminal=frozenset({AuthorizationState.DONE, AuthorizationState.FAILED}),
)

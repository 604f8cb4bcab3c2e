"""The login flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.login import steps
from sesame.flows.login.states import LoginContext, LoginState

LOGIN = FlowDefinition(
    kind="login",
    states=LoginState,
    context_model=LoginContext,
    initial=LoginState.CREDENTIALS,
    steps={
        LoginState.CREDENTIALS: steps.credentials,
        LoginState.SECOND_FACTOR: steps.second_factor,
        LoginState.CONFIRM_EMAIL: steps.confirm_email,
        LoginState.CHANGE_PASSWORD: steps.change_password,
        LoginState.REVIEW_PROFILE: steps.review_profile,
    },
    terminal=frozenset({LoginState.DONE}),
)

"""The email change flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.email_change import steps
from sesame.flows.email_change.states import EmailChangeContext, EmailChangeState

EMAIL_CHANGE = FlowDefinition(
    kind="email_change",
    states=EmailChangeState,
    context_model=EmailChangeContext,
    initial=EmailChangeState.ENTER_EMAIL,
    steps={EmailChangeState.ENTER_EMAIL: steps.enter_email, EmailChangeState.ENTER_CODE: steps.enter_code},
    terminal=frozenset({EmailChangeState.DONE}),
)

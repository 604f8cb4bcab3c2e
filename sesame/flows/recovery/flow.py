"""The recovery flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from dataclasses import replace

from sesame.flows.base import FlowDefinition
from sesame.flows.recovery import steps
from sesame.flows.recovery.states import RecoveryContext, RecoveryState

RECOVERY = FlowDefinition(
    kind="recovery",
    states=RecoveryState,
    context_model=RecoveryContext,
    initial=RecoveryState.REQUEST,
    steps={
        RecoveryState.REQUEST: steps.request,
        RecoveryState.SENT: steps.sent,
        RecoveryState.NEW_PASSWORD: steps.new_password,
    },
    terminal=frozenset({RecoveryState.DONE}),
)

#: The same flow, started at NEW_PASSWORD by the emailed link, in whichever browser opened it (the
#: link is the proof; the new flow is bound to that browser). Flows of both are of kind "recovery".
RECOVERY_FROM_LINK = replace(RECOVERY, initial=RecoveryState.NEW_PASSWORD)

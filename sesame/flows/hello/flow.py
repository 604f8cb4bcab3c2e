"""The reference flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.hello import steps
from sesame.flows.hello.states import HelloContext, HelloState

HELLO = FlowDefinition(
    kind="hello",
    states=HelloState,
    context_model=HelloContext,
    initial=HelloState.ASK_NAME,
    steps={HelloState.ASK_NAME: steps.ask_name, HelloState.CONFIRM: steps.confirm},
    terminal=frozenset({HelloState.DONE}),
)

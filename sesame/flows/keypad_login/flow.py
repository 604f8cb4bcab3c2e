"""The keypad login flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.keypad_login import steps
from sesame.flows.keypad_login.states import KeypadLoginContext, KeypadLoginState

KEYPAD_LOGIN = FlowDefinition(
    kind="keypad_login",
    states=KeypadLoginState,
    context_model=KeypadLoginContext,
    initial=KeypadLoginState.CREDENTIALS,
    steps={
        KeypadLoginState.CREDENTIALS: steps.credentials,
        KeypadLoginState.NEW_CODE: steps.new_code,
        KeypadLoginState.CONFIRM_CODE: steps.confirm_code,
    },
    terminal=frozenset({KeypadLoginState.DONE, KeypadLoginState.SECURED}),
)

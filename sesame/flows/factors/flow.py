"""The factors flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.factors import steps
from sesame.flows.factors.states import FactorsContext, FactorsState

FACTORS = FlowDefinition(
    kind="factors",
    states=FactorsState,
    context_model=FactorsContext,
    initial=FactorsState.BEGIN,
    steps={
        FactorsState.BEGIN: steps.begin,
        FactorsState.REAUTHENTICATE: steps.reauthenticate,
        FactorsState.ENROL_TOTP: steps.enrol_totp,
        FactorsState.REGISTER_PASSKEY: steps.register_passkey,
        FactorsState.RECOVERY_CODES: steps.recovery_codes,
        FactorsState.CONFIRM_REMOVAL: steps.confirm_removal,
    },
    terminal=frozenset({FactorsState.DONE}),
)

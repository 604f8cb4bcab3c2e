"""The settings flow's definition (see states.mmd beside this file)."""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.settings import steps
from sesame.flows.settings.states import SettingsContext, SettingsState

SETTINGS = FlowDefinition(
    kind="settings",
    states=SettingsState,
    context_model=SettingsContext,
    initial=SettingsState.CHANGE_PASSWORD,
    steps={SettingsState.CHANGE_PASSWORD: steps.change_password},
    terminal=frozenset({SettingsState.DONE}),
)

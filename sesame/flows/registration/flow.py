"""The registration flow's definition (see states.mmd beside this file).

The flow lives as long as the tenant's flow policy says (an hour by default): the code is typed
in the page still open, while the link in the email works for a day from any browser.
"""

from __future__ import annotations

from sesame.flows.base import FlowDefinition
from sesame.flows.registration import steps
from sesame.flows.registration.states import RegistrationContext, RegistrationState

REGISTRATION = FlowDefinition(
    kind="registration",
    states=RegistrationState,
    context_model=RegistrationContext,
    initial=RegistrationState.FORM,
    steps={RegistrationState.FORM: steps.form, RegistrationState.CHECK_EMAIL: steps.check_email},
    terminal=frozenset({RegistrationState.DONE}),
)

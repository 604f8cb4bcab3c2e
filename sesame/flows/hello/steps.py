"""Steps of the reference flow: one function per state that takes input."""

from __future__ import annotations

from collections.abc import Mapping

from sesame.domain.audit import AuditEvent
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.hello.states import HelloContext, HelloState

NAME_MAX_LENGTH = 80


def ask_name(flow: Flow[HelloState, HelloContext], data: Mapping[str, str], env: StepEnv) -> StepResult[HelloState]:
    """A name of 1 to 80 printable characters; a refused name uses one of the flow's attempts."""
    name = " ".join(data.get("name", "").split())
    if not name:
        return Reject({"name": "required"})
    if len(name) > NAME_MAX_LENGTH or not name.isprintable():
        return Reject({"name": "invalid"}, counts=True)
    flow.context.name = name
    return Advance(HelloState.CONFIRM)


def confirm(flow: Flow[HelloState, HelloContext], data: Mapping[str, str], env: StepEnv) -> StepResult[HelloState]:
    """ "This is right" finishes the flow; "modify" goes back to the name."""
    action = data.get("action", "")
    if action == "modify":
        flow.context.modifications += 1
        return Advance(HelloState.ASK_NAME)
    if action != "confirm":
        return Reject({"action": "required"})
    env.uow.audit.append(
        AuditEvent(
            tenant_id=env.tenant.id,
            type="hello.completed",
            occurred_at=env.now,
            actor="anonymous",
            subject=f"flow:{flow.id[:8]}",
        )
    )
    return Advance(HelloState.DONE)

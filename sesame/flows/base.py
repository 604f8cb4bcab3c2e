"""The flow machinery: runs any self-service journey as a persisted state machine.

A flow kind is a :class:`FlowDefinition`: a state enum, a typed context model, and one step
function per state that accepts input. :class:`FlowRunner` starts flows, loads them (checking
tenant, kind, expiry and attempts against the injected clock), and submits a step: it runs the
step function inside one unit of work, saves the new state with optimistic locking (so a
double submit cannot apply a step twice) and commits, so whatever the step wrote (an account,
a queued email, an audit event) lands with the new state or not at all.

The web layer only renders ``flow.state`` and forwards form fields; it holds no journey logic.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from sesame.domain.errors import FlowNotFound, FlowStateError
from sesame.domain.flows import FlowRecord, csrf_binding_of
from sesame.domain.tenants import Tenant
from sesame.ports import Clock, UnitOfWork, UnitOfWorkFactory

S = TypeVar("S", bound=StrEnum)
C = TypeVar("C", bound=BaseModel)

#: 256 bits, URL-safe: a flow id is a bearer capability for an anonymous journey.
FLOW_ID_BYTES = 32


@dataclass(slots=True)
class Flow(Generic[S, C]):
    """A flow as its steps see it: the stored record, with its state and context typed."""

    record: FlowRecord
    state: S
    context: C

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def expires_at(self) -> datetime:
        return self.record.expires_at

    @property
    def attempts_left(self) -> int:
        return self.record.attempts_left


@dataclass(slots=True)
class StepEnv:
    """What a step function may use: the unit of work, the time, the tenant, and extras
    (ports and services a particular flow kind needs, given by the caller).

    The unit of work's transaction begins at its first statement. Do slow work and work with
    its own transactions (password hashing, counters, other services) before the first use of
    ``uow``: on SQLite a write transaction holds the database's write lock until it ends.
    """

    uow: UnitOfWork
    now: datetime
    tenant: Tenant
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Advance(Generic[S]):
    """The step succeeded: go to ``to`` (the context may have been changed in place)."""

    to: S
    return_to: str | None = None


@dataclass(slots=True, frozen=True)
class Reject:
    """The step's input was refused: show these errors (field -> message code) on the same state.

    ``counts`` says whether this refusal uses one of the flow's attempts (a wrong code does;
    an empty required field does not).
    """

    errors: Mapping[str, str]
    counts: bool = False


StepResult = Advance[S] | Reject
StepFunction = Callable[[Flow[S, C], Mapping[str, str], StepEnv], StepResult[S]]


@dataclass(slots=True)
class FlowDefinition(Generic[S, C]):
    """One kind of flow: its states, its context model and the step each state accepts."""

    kind: str
    states: type[S]
    context_model: type[C]
    initial: S
    steps: Mapping[S, StepFunction[S, C]]
    terminal: frozenset[S] = frozenset()
    #: Overrides the tenant's FlowPolicy when set.
    lifetime: timedelta | None = None
    max_attempts: int | None = None

    def parse_state(self, raw: str) -> S:
        try:
            return self.states(raw)
        except ValueError as error:
            raise FlowStateError(f"flow {self.kind} has no state {raw!r}") from error


@dataclass(slots=True, frozen=True)
class SubmitResult(Generic[S, C]):
    flow: Flow[S, C]
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class FlowRunner:
    """Starts, loads and advances flows of any kind."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, id_factory: Callable[[], str] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._new_id = id_factory or (lambda: secrets.token_urlsafe(FLOW_ID_BYTES))

    def start(
        self,
        definition: FlowDefinition[S, C],
        tenant: Tenant,
        browser_token: str,
        *,
        context: C | None = None,
        return_to: str | None = None,
        state: S | None = None,
    ) -> Flow[S, C]:
        """A new flow in its initial state (or ``state``: a journey whose durable record lives
        elsewhere resumes where that record stands), bound to the browser that holds ``browser_token``."""
        now = self._clock.now()
        policy = tenant.policy.flows
        lifetime = definition.lifetime or timedelta(seconds=policy.lifetime_seconds)
        record = FlowRecord(
            id=self._new_id(),
            tenant_id=tenant.id,
            kind=definition.kind,
            state=(definition.initial if state is None else state).value,
            context=(context or definition.context_model()).model_dump(mode="json"),
            csrf_binding=csrf_binding_of(browser_token),
            created_at=now,
            updated_at=now,
            expires_at=now + lifetime,
            max_attempts=definition.max_attempts or policy.max_attempts,
            return_to=return_to,
        )
        with self._uow() as uow:
            uow.flows.add(record)
            uow.commit()
        return self._typed(definition, record)

    def load(self, definition: FlowDefinition[S, C], tenant: Tenant, flow_id: str) -> Flow[S, C]:
        """The flow, if it exists for this tenant and kind and is still open; raises otherwise."""
        with self._uow(readonly=True) as uow:
            record = self._fetch(uow, definition, tenant, flow_id)
        record.check_open(self._clock.now())
        return self._typed(definition, record)

    def submit(
        self,
        definition: FlowDefinition[S, C],
        tenant: Tenant,
        flow_id: str,
        browser_token: str | None,
        data: Mapping[str, str],
        *,
        expected_state: str | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> SubmitResult[S, C]:
        """Run the step of the flow's current state with ``data``; one transaction.

        ``expected_state`` is the state the form was rendered for: if the flow has moved on
        (a double submit, a stale tab), nothing runs and the current flow is returned.
        """
        now = self._clock.now()
        with self._uow(readonly=True) as reader:
            record = self._fetch(reader, definition, tenant, flow_id)
        record.check_browser(browser_token)
        record.check_open(now)
        flow = self._typed(definition, record)
        if expected_state is not None and expected_state != record.state:
            return SubmitResult(flow)
        step = definition.steps.get(flow.state)
        if step is None:
            raise FlowStateError(f"flow {definition.kind} takes no input in state {record.state}")
        # The write transaction starts at the step's first write, not before: a step does its slow
        # or outside work first (hashing, counters), so no lock is held meanwhile. The version
        # check in save() then refuses the step if the flow changed since it was read.
        with self._uow() as uow:
            env = StepEnv(uow=uow, now=now, tenant=tenant, extras=extras or {})
            result = step(flow, data, env)
            if isinstance(result, Reject):
                if not result.counts:
                    return SubmitResult(flow, errors=result.errors)
                record.record_failure()
            else:
                record.state = result.to.value
                record.return_to = result.return_to or record.return_to
                record.context = flow.context.model_dump(mode="json")
                flow.state = result.to
            record.updated_at = now
            uow.flows.save(record)  # raises FlowStateError if a concurrent submit won
            uow.commit()
        return SubmitResult(flow, errors=result.errors if isinstance(result, Reject) else {})

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _fetch(uow: UnitOfWork, definition: FlowDefinition[S, C], tenant: Tenant, flow_id: str) -> FlowRecord:
        record = uow.flows.get(flow_id) if _plausible_id(flow_id) else None
        if record is None or record.tenant_id != tenant.id or record.kind != definition.kind:
            raise FlowNotFound(f"no {definition.kind} flow {flow_id[:8]}... for tenant {tenant.slug}")
        return record

    @staticmethod
    def _typed(definition: FlowDefinition[S, C], record: FlowRecord) -> Flow[S, C]:
        try:
            context = definition.context_model.model_validate(record.context)
        except ValidationError as error:
            # A context written by an older version that no longer parses: the flow cannot go on.
            raise FlowNotFound(f"flow {record.id[:8]}... has an unreadable context") from error
        return Flow(record=record, state=definition.parse_state(record.state), context=context)


def _plausible_id(flow_id: str) -> bool:
    return 16 <= len(flow_id) <= 64 and all(c.isalnum() or c in "-_" for c in flow_id)

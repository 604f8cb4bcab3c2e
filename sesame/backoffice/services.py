"""The back office's use cases, built from the container (``Container.backoffice``)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sesame.backoffice.agents import AgentAccess, AgentDirectory
from sesame.backoffice.cases import CaseDesk
from sesame.backoffice.decisions import CaseDecisions
from sesame.backoffice.queues import AgentQueues

if TYPE_CHECKING:
    from sesame.bootstrap import Container


class Backoffice:
    """Cheap to make: each use case is built on first use, from the container's ports."""

    def __init__(self, container: Container) -> None:
        self._container = container

    @cached_property
    def directory(self) -> AgentDirectory:
        c = self._container
        return AgentDirectory(c.uow, c.clock, c.hasher, c.password_rules)

    @cached_property
    def access(self) -> AgentAccess:
        c = self._container
        return AgentAccess(c.uow, c.clock, c.counters, c.hasher, c.password_rules)

    @cached_property
    def queues(self) -> AgentQueues:
        return AgentQueues(self._container.uow, self._container.clock)

    @cached_property
    def cases(self) -> CaseDesk:
        return CaseDesk(self._container.uow, self._container.clock)

    @cached_property
    def decisions(self) -> CaseDecisions:
        c = self._container
        # The person's side delivers the activation code once an approval takes effect.
        return CaseDecisions(c.uow, c.clock, c.keyed, c.proofing)

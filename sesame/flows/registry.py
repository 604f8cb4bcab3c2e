"""Every flow kind the web layer can serve, by kind name."""

from __future__ import annotations

from typing import Any

from sesame.flows.base import FlowDefinition
from sesame.flows.hello.flow import HELLO

FLOWS: dict[str, FlowDefinition[Any, Any]] = {HELLO.kind: HELLO}

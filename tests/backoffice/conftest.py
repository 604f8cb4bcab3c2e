"""Fixtures of the back office's tests: the demo tenants and a clock at the agents' working hour."""

from __future__ import annotations

import pytest

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from tests.backoffice.support import DECIDE_AT
from tests.services.accounts_support import demo_tenant


@pytest.fixture
def laposte(container: Container, clock: FrozenClock) -> Tenant:
    clock.set(DECIDE_AT)
    return demo_tenant(container, "laposte")


@pytest.fixture
def poste_ch(container: Container, laposte: Tenant) -> Tenant:
    return demo_tenant(container, "poste-ch")

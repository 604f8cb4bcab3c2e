"""The demo data a newcomer logs in with: the back-office agent (tenants and accounts: test_tenants, test_accounts)."""

from __future__ import annotations

from sesame.backoffice.agents import LoginStatus
from sesame.backoffice.services import Backoffice
from sesame.bootstrap import Container
from sesame.domain.agents import AgentRole
from sesame.services.context import RequestContext
from sesame.services.demo import DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD, load_demo, load_demo_agent


def test_the_demo_agent_has_every_role_and_logs_in(container: Container) -> None:
    load_demo(container.tenants)
    backoffice = Backoffice(container)
    assert load_demo_agent(backoffice.directory) == (DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD)
    assert load_demo_agent(backoffice.directory) == (DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD), "idempotent"
    [agent] = backoffice.directory.list("laposte")
    assert set(agent.roles) == set(AgentRole) and not agent.password_change_required
    outcome = backoffice.access.authenticate(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD, RequestContext(actor="test"))
    assert outcome.status is LoginStatus.OK

"""Helpers of the account tests: the demo tenants, an account with a password, its audit events."""

from __future__ import annotations

from collections.abc import Sequence

from sesame.bootstrap import Container
from sesame.domain.accounts import Account
from sesame.domain.audit import AuditRecord
from sesame.domain.tenants import Tenant
from sesame.services.accounts import NewAccount
from sesame.services.context import RequestContext
from sesame.services.demo import load_demo

#: Meets every demo policy: laposte's composition rules and poste-ch's 15 characters.
STRONG_PASSWORD = "Vxq7-Lmpa-Rtz-2026"
SUPPORT = RequestContext(actor="support:alice", ip="192.0.2.10", correlation_id="corr-support")


def demo_tenant(container: Container, slug: str = "laposte") -> Tenant:
    """A demo tenant (laposte: the seed policy; poste-ch: NIST), loading the demo data once."""
    if container.tenants.find(slug) is None:
        load_demo(container.tenants)
    return container.tenants.get(slug)


def create_account(
    container: Container,
    tenant: Tenant,
    email: str = "camille.martin@example.fr",
    password: str = STRONG_PASSWORD,
    *,
    verified: bool = True,
) -> Account:
    new = NewAccount(email=email, given_name="Camille", family_name="Martin", verified=verified)
    return container.accounts.create(tenant, new, password, SUPPORT)


def audit_events(container: Container, tenant: Tenant, type_prefix: str = "") -> Sequence[AuditRecord]:
    """The tenant's audit records in order, optionally those whose type starts with ``type_prefix``."""
    with container.uow(readonly=True) as uow:
        records = uow.audit.chain(tenant.id)
    return [r for r in records if r.event.type.startswith(type_prefix)]

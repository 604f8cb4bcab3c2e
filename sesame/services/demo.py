"""The demo data: one tenant per seed system, so a newcomer has something to try at once.

``sesame demo load`` is idempotent: tenants that exist are brought back to the demo policy,
missing ones are created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from sesame.backoffice.agents import AgentDirectory
from sesame.domain.customer_numbers import luhn_check_digit
from sesame.domain.errors import AlreadyExists, NotFound
from sesame.domain.tenants import (
    Branding,
    CredentialKind,
    IdentifierKind,
    IdentityPolicy,
    LockoutPolicy,
    PasswordPolicy,
    TenantPolicy,
)
from sesame.services.accounts import AccountService, NewAccount
from sesame.services.banque import BankCustomers, NewCustomer
from sesame.services.context import RequestContext
from sesame.services.tenants import TenantService

#: A ready account for each email tenant; printed by `make run` and listed in the README.
DEMO_PASSWORD = "Sesame-Demo-2026!"  # noqa: S105 (a published demo credential)
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("laposte", "marie.dupont@example.fr", "Marie", "Dupont"),
    ("poste-ch", "anna.muster@example.ch", "Anna", "Muster"),
)


@dataclass(frozen=True, slots=True)
class DemoTenant:
    slug: str
    name: str
    policy: TenantPolicy


DEMO_TENANTS: tuple[DemoTenant, ...] = (
    DemoTenant(
        slug="laposte",
        name="La Poste",
        policy=TenantPolicy(
            identifier=IdentifierKind.EMAIL,
            credentials=(CredentialKind.PASSWORD, CredentialKind.APP),
            # Seed 001: at least 8 characters with an upper case letter, a lower case letter and a digit.
            password=PasswordPolicy(min_length=8, require_upper=True, require_lower=True, require_digit=True),
            lockout=LockoutPolicy(max_failures=5, suspension_seconds=15 * 60),
            identity=IdentityPolicy(enabled=True),
            branding=Branding(
                display_name="La Poste", primary_color="#003da5", accent_color="#ffc83d", logo_text="La Poste"
            ),
        ),
    ),
    DemoTenant(
        slug="banque",
        name="La Banque Postale",
        policy=TenantPolicy(
            identifier=IdentifierKind.CUSTOMER_NUMBER,
            credentials=(CredentialKind.KEYPAD_CODE,),
            # Seed 002: three failures suspend access for one hour.
            lockout=LockoutPolicy(
                max_failures=3, failure_window_seconds=3600, suspension_seconds=3600, max_suspensions=10
            ),
            branding=Branding(
                display_name="La Banque Postale",
                primary_color="#12365f",
                accent_color="#f5a300",
                logo_text="La Banque Postale",
            ),
        ),
    ),
    DemoTenant(
        slug="poste-ch",
        name="Poste CH",
        policy=TenantPolicy(
            identifier=IdentifierKind.EMAIL,
            credentials=(CredentialKind.PASSWORD, CredentialKind.TOTP, CredentialKind.PASSKEY),
            password=PasswordPolicy(),  # NIST SP 800-63B-4: length first
            branding=Branding(
                display_name="Poste CH", primary_color="#1a1a1a", accent_color="#ffcc00", logo_text="Poste CH"
            ),
        ),
    ),
)


def load_demo_accounts(tenants: TenantService, accounts: AccountService) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; returns (tenant, email, password) of every one."""
    context = RequestContext(actor="demo")
    for slug, email, given_name, family_name in DEMO_ACCOUNTS:
        tenant = tenants.get(slug)
        new = NewAccount(
            email=email,
            given_name=given_name,
            family_name=family_name,
            verified=True,
            terms_version=tenant.policy.terms_version,
        )
        with contextlib.suppress(AlreadyExists):  # idempotent: an existing demo account is kept as it is
            accounts.create(tenant, new, DEMO_PASSWORD, context)
    return [(slug, email, DEMO_PASSWORD) for slug, email, _, _ in DEMO_ACCOUNTS]


def load_demo(tenants: TenantService) -> list[tuple[str, str]]:
    """Create or reset the demo tenants; returns (slug, "created" | "updated") pairs."""
    outcome: list[tuple[str, str]] = []
    for demo in DEMO_TENANTS:
        if tenants.find(demo.slug) is None:
            tenants.create(demo.slug, demo.name, demo.policy, actor="demo")
            outcome.append((demo.slug, "created"))
        else:
            tenants.update_policy(demo.slug, demo.policy.model_dump(mode="json"), actor="demo")
            outcome.append((demo.slug, "updated"))
    return outcome


#: The demo back-office agent: every role at laposte, so one login shows every queue.
DEMO_AGENT_EMAIL = "agent@example.fr"
DEMO_AGENT_PASSWORD = "Guichet-Demo-Sesame-2026"  # noqa: S105 (a published demo credential)
DEMO_AGENT_ROLES = ("postman", "clerk", "reviewer", "supervisor")


def load_demo_agent(directory: AgentDirectory) -> tuple[str, str]:
    """Create the demo agent if missing; returns its (email, password)."""
    with contextlib.suppress(AlreadyExists):
        directory.create(
            ["laposte"],
            DEMO_AGENT_EMAIL,
            "Agent de démonstration",
            DEMO_AGENT_ROLES,
            RequestContext(actor="demo"),
            password=DEMO_AGENT_PASSWORD,
        )
    return DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD


#: The demo bank customer: a fixed number (valid check digit) so `make run` can print it.
DEMO_CUSTOMER_PAYLOAD = "123456789"
DEMO_CUSTOMER = NewCustomer(
    given_name="Jean",
    family_name="Martin",
    address=("Jean Martin", "8 rue des Lilas", "69003 Lyon"),
)


def load_demo_customer(tenants: TenantService, customers_for: Callable[[Callable[[], str]], BankCustomers]) -> str:
    """Enrol the demo bank customer if missing; returns its customer number.

    Its one-time first code is in the second letter of the dev inbox, as a real customer's
    would arrive by post; the first login asks to choose a new code.
    """
    tenant = tenants.get("banque")
    number = DEMO_CUSTOMER_PAYLOAD + luhn_check_digit(DEMO_CUSTOMER_PAYLOAD)
    customers = customers_for(lambda: number)
    try:
        customers.find(tenant, number)
    except NotFound:
        customers.enrol(tenant, DEMO_CUSTOMER, RequestContext(actor="demo"))
    return number

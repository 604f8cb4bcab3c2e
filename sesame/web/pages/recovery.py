"""Pages: recovery ("Mot de passe oublié") at ``/{tenant}/recovery``, and the link of its email.

The flow's steps hold the journey; this module hands them the recovery service, serves the
emailed link (it starts a new flow at the new password, in whichever browser opened it), and
tells people of tenants that do not recover access by email where to turn instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.flows.base import FlowRunner
from sesame.flows.recovery.flow import RECOVERY, RECOVERY_FROM_LINK
from sesame.flows.recovery.states import RecoveryContext
from sesame.flows.recovery.steps import EMAIL_MAX_LENGTH, EXTRA_REQUEST, EXTRA_SERVICE
from sesame.services.recovery import RecoveryService
from sesame.web.csrf import browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.pages import banque
from sesame.web.pages.flows import FlowPage, mount_flow
from sesame.web.session import request_context
from sesame.web.templating import render

PATH = "recovery"
#: Longest link token we even look up (tokens are 43 characters).
LINK_TOKEN_MAX = 128

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


def recovery_service(container: Container) -> RecoveryService:
    return RecoveryService(
        container.uow,
        container.clock,
        container.counters,
        container.hasher,
        container.keyed,
        container.password_rules,
        container.settings.base_url,
        logouts=container.backchannel_logouts,
    )


def _start_url(tenant: Tenant) -> str:
    return f"/{tenant.slug}/{PATH}"


def _recovers_elsewhere(tenant: Tenant) -> ErrorPage:
    """Tenants whose people do not log in with an email address have recovery of their own
    (the bank: a new code by post, ``pages/banque.py``); say so instead of an email link or form."""
    return ErrorPage(
        404,
        "recovery_elsewhere",
        N_("Forgotten your code?"),
        N_(
            "%(name)s does not reset access by email. Contact its customer service (for a bank, your "
            "financial centre): they will tell you how to get a new code."
        ),
        params={"name": tenant.name},
        action_url=_start_url(tenant),
        action_label=N_("Get a new code by post"),
    )


def _extras(request: Request, tenant: Tenant) -> Mapping[str, Any]:
    return {EXTRA_SERVICE: recovery_service(get_container(request)), EXTRA_REQUEST: request_context(request)}


async def _start_context(request: Request, tenant: Tenant) -> BaseModel | None:
    """Email tenants only; ``?login_hint=`` (the login page's identifier) prefills the address."""
    if tenant.policy.identifier is not IdentifierKind.EMAIL:
        raise _recovers_elsewhere(tenant)
    hint = request.query_params.get("login_hint", "").strip()
    return RecoveryContext(email=hint) if 0 < len(hint) <= EMAIL_MAX_LENGTH else None


# Declared before the flow's routes: "/{tenant}/recovery/{flow_id}" would match "link" too.
@router.get(f"/{{tenant}}/{PATH}/link", name="recovery_link")
async def open_link(request: Request, token: str = "", tenant: Tenant = Depends(get_tenant)) -> Response:
    """The emailed link: used up at once, it starts a new flow at the new password in this browser.

    Another browser or device than the one that asked works too: the link is the proof. No session
    is opened, here or later in the flow.
    """
    if tenant.policy.identifier is not IdentifierKind.EMAIL:
        raise _recovers_elsewhere(tenant)
    container = get_container(request)
    link_token = token if len(token) <= LINK_TOKEN_MAX else ""
    account = await run_in_threadpool(
        recovery_service(container).redeem_link, tenant, link_token, request_context(request)
    )
    if account is None:
        return render(request, "recovery/link_invalid.html", {"start_url": _start_url(tenant)}, status_code=410)
    context = RecoveryContext(email=account.email or "", account_id=account.id, verified_by="link")
    flow = await run_in_threadpool(
        lambda: FlowRunner(container.uow, container.clock).start(
            RECOVERY_FROM_LINK, tenant, browser_token(request), context=context
        )
    )
    return RedirectResponse(f"{_start_url(tenant)}/{flow.id}", status_code=303)


mount_flow(router, FlowPage(RECOVERY, PATH, extras=_extras, start_context=_start_context))
# Starting is ours: customer-number tenants (the bank) get a new code by post, not the email flow.
router.routes[:] = [route for route in router.routes if getattr(route, "name", None) != f"flow_{RECOVERY.kind}_start"]


@router.get(f"/{{tenant}}/{PATH}", name="recovery")
async def start(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Start a recovery: the email flow, or the bank's page that sends a new code by post."""
    if banque.uses_keypad(tenant):
        return await banque.recovery_page(request, tenant)
    context = await _start_context(request, tenant)
    container = get_container(request)
    flow = await run_in_threadpool(
        lambda: FlowRunner(container.uow, container.clock).start(
            RECOVERY, tenant, browser_token(request), context=context
        )
    )
    return RedirectResponse(f"{_start_url(tenant)}/{flow.id}", status_code=303)

"""Pages: sign-up (the registration flow at ``/{tenant}/register``) and the confirmation link.

``/{tenant}/confirm-email?token=...`` is the link of the confirmation email: it works in any
browser or device (the token is the proof, no flow is needed), once. A link that no longer
works leads to ``/{tenant}/confirm-email/resend``, which asks for the address and answers the
same whether or not an account waits for it. The logic lives in the flow's steps and in
``sesame.services.registration``; these routes only translate HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.errors import InvalidInput
from sesame.domain.tenants import Tenant
from sesame.flows.registration.flow import REGISTRATION
from sesame.flows.registration.steps import EMAIL_MAX_LENGTH, EXTRAS_KEY, RegistrationExtras
from sesame.services.accounts import clean_email
from sesame.services.registration import Confirmation, RegistrationService, registration_offered
from sesame.web import i18n
from sesame.web.csrf import csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.pages.flows import FlowPage, mount_flow
from sesame.web.session import request_context
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


def registration_service(container: Container) -> RegistrationService:
    return RegistrationService(
        container.uow,
        container.clock,
        container.accounts,
        container.tokens,
        container.counters,
        container.settings.base_url,
    )


def require_registration(tenant: Tenant) -> None:
    """A clear page, not a form, where people do not create their own account (the bank)."""
    if not registration_offered(tenant):
        raise ErrorPage(
            404,
            "registration_unavailable",
            N_("Sign-up is not offered here"),
            N_(
                "%(name)s opens your access for you: there is no account to create on this site. "
                "The letter or the advisor that gave you your access tells you how to log in."
            ),
            params={"name": tenant.name},
            action_url=f"/{tenant.slug}",
            action_label=N_("Back to the home page"),
        )


def _extras(request: Request, tenant: Tenant) -> Mapping[str, Any]:
    container = get_container(request)
    return {
        EXTRAS_KEY: RegistrationExtras(
            service=registration_service(container),
            accounts=container.accounts,
            rules=container.password_rules,
            context=request_context(request),
            locale=i18n.request_locale(request),
        )
    }


async def _start(request: Request, tenant: Tenant) -> BaseModel | None:
    require_registration(tenant)
    return None


mount_flow(router, FlowPage(REGISTRATION, "register", extras=_extras, start_context=_start))


# -- the link of the confirmation email ---------------------------------------------------------


def _links(tenant: Tenant) -> dict[str, str]:
    return {
        "login_url": f"/{tenant.slug}/login",
        "register_url": f"/{tenant.slug}/register",
        "resend_url": f"/{tenant.slug}/confirm-email/resend",
    }


@router.get("/{tenant}/confirm-email", name="confirm_email")
async def confirm_email(request: Request, token: str = "", tenant: Tenant = Depends(get_tenant)) -> Response:
    """Confirm the address the link was sent to, then say so (or that the link no longer works)."""
    require_registration(tenant)
    if not token:
        return RedirectResponse(_links(tenant)["resend_url"], status_code=303)
    service = registration_service(get_container(request))
    outcome = await run_in_threadpool(service.confirm_link, tenant, token, request_context(request))
    if outcome is Confirmation.INVALID:
        context = {**_links(tenant), "email": "", "errors": {}}
        return render(request, "registration/invalid_link.html", context, status_code=400)
    context = {**_links(tenant), "already": outcome is Confirmation.ALREADY_CONFIRMED}
    return render(request, "registration/confirmed.html", context)


@router.get("/{tenant}/confirm-email/resend", name="confirm_email_resend")
async def resend_form(
    request: Request, sent: str = "", email: str = "", tenant: Tenant = Depends(get_tenant)
) -> Response:
    """The form asking for the address to send a new confirmation email to (or the answer, once sent)."""
    require_registration(tenant)
    context = {**_links(tenant), "sent": sent == "1", "email": email[:EMAIL_MAX_LENGTH], "errors": {}}
    return render(request, "registration/resend.html", context)


@router.post("/{tenant}/confirm-email/resend")
async def resend(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Send a new confirmation email if an account waits for one; the answer never tells."""
    require_registration(tenant)
    form = await request.form()
    typed = form.get("email")
    typed = typed.strip() if isinstance(typed, str) else ""
    error = _email_error(typed)
    if error is None:
        service = registration_service(get_container(request))
        allowed = await run_in_threadpool(
            service.request_new_link, tenant, clean_email(typed), request_context(request)
        )
        if allowed:
            return RedirectResponse(f"{_links(tenant)['resend_url']}?sent=1", status_code=303)
        error = "throttled"
    context = {**_links(tenant), "sent": False, "email": typed[:EMAIL_MAX_LENGTH], "errors": {"email": error}}
    return render(request, "registration/resend.html", context, status_code=429 if error == "throttled" else 400)


def _email_error(typed: str) -> str | None:
    if not typed:
        return "required"
    if len(typed) > EMAIL_MAX_LENGTH:
        return "invalid"
    try:
        clean_email(typed)
    except InvalidInput:
        return "invalid"
    return None

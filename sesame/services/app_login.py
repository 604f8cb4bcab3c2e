"""The website's decoupled login (seed 000, "Utiliser l'Identité Numérique"): the person types
their mobile number, the page shows a binding code, the phone app approves with its key and the
4-digit code, and the waiting browser is logged in.

The browser's handle is its own CSRF cookie (as flows bind themselves to a browser): only the
browser that asked can follow and finish the login. The session opens with ``amr`` pop + pin +
mfa (the device's key and its code, RFC 8176) and ``acr`` eidas2 when the account's verified
identity has its app activated (ADR 0008). A step-up (:meth:`AppLogin.step_up`) is the same
approval asked for the account already logged in, when a partner wants a higher level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sesame.domain.accounts import Account
from sesame.domain.devices import SERVICE_NAME_MAX, ApprovalKind, ApprovalRequest
from sesame.domain.tenants import Tenant
from sesame.ports import UnitOfWork
from sesame.services.approvals import ApprovalService, ConsumeStatus, CreatedApproval, NewApproval
from sesame.services.audit import audit_event
from sesame.services.authentication import IP_MAX
from sesame.services.context import RequestContext
from sesame.services.sessions import OpenedSession, SessionService, end_replaced_session


def service_name(tenant: Tenant) -> str:
    """What the app shows as the service asking: the tenant's own site."""
    return tenant.policy.branding.display_name or tenant.name


@dataclass(frozen=True, slots=True)
class AppLoginOutcome:
    status: ConsumeStatus
    request: ApprovalRequest | None = None
    account: Account | None = None
    session: OpenedSession | None = None
    acr: str | None = None


class AppLogin:
    def __init__(self, approvals: ApprovalService) -> None:
        self._approvals = approvals

    def start(self, tenant: Tenant, mobile: str, browser_handle: str, context: RequestContext) -> CreatedApproval:
        """A request for the number typed (``PhoneNumberRejected``, ``ApprovalRateLimited``)."""
        new = NewApproval(kind=ApprovalKind.WEB_LOGIN, service_name=service_name(tenant), handle=browser_handle)
        return self._approvals.create_request(tenant, new, context, mobile=mobile)

    def step_up(
        self,
        tenant: Tenant,
        account_id: int,
        service: str,
        browser_handle: str,
        context: RequestContext,
        *,
        client_id: str | None = None,
        acr: str | None = None,
    ) -> CreatedApproval:
        """A step-up: the logged-in account (``account_id``, from the browser's session) is asked
        in the app to confirm for ``service`` (a partner's name); :meth:`complete` then opens the
        session again at the approval's level. Same limits as a login by number."""
        new = NewApproval(
            kind=ApprovalKind.STEP_UP,
            service_name=service.strip()[:SERVICE_NAME_MAX] or service_name(tenant),
            handle=browser_handle,
            client_id=client_id,
            acr=acr,
        )
        return self._approvals.create_request(tenant, new, context, account_id=account_id)

    def status(self, tenant: Tenant, request_id: str, browser_handle: str) -> ApprovalRequest | None:
        return self._approvals.poll(tenant, request_id, browser_handle)

    def now(self) -> datetime:
        return self._approvals.clock.now()

    def complete(
        self,
        tenant: Tenant,
        request_id: str,
        browser_handle: str,
        context: RequestContext,
        *,
        session_token: str,
        previous_session_token: str | None,
    ) -> AppLoginOutcome:
        """Open the session of an approved request, once (``session_token`` drawn by the page)."""
        request = self._approvals.poll(tenant, request_id, browser_handle)
        if request is None:
            return AppLoginOutcome(ConsumeStatus.NOT_FOUND)

        def open_session(uow: UnitOfWork, account: Account, acr: str, amr: tuple[str, ...]) -> OpenedSession:
            now = self._approvals.clock.now()
            replaced = end_replaced_session(uow, tenant.id, previous_session_token, now)
            opened = SessionService.open(
                uow,
                account,
                tenant,
                now,
                acr=acr,
                amr=amr,
                ip=context.ip,
                user_agent=context.user_agent,
                token=session_token,
            )
            account.last_login_at = now
            uow.accounts.save(account)
            audit_event(
                uow,
                self._approvals.clock,
                tenant.id,
                "login.succeeded",
                actor=f"account:{account.id}",
                subject=f"account:{account.id}",
                ip=context.ip[:IP_MAX],
                correlation_id=context.correlation_id,
                details={
                    "method": "app",
                    "acr": acr,
                    "amr": list(amr),
                    "session_ref": opened.session.id[:16],
                    "replaced": replaced,
                    "request_id": request.id,
                },
            )
            return opened

        used = self._approvals.consume(tenant, request, context, open_session)
        opened = used.result if isinstance(used.result, OpenedSession) else None
        return AppLoginOutcome(used.status, request, used.account, opened, used.acr)

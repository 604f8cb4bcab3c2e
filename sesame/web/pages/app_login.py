"""The decoupled login page (seed 000, "Utiliser l'Identité Numérique"): ``/{tenant}/login/app``.

The person types their mobile number; the page shows a two-digit binding code and waits for the
phone app (server-sent events, a JSON status for scripts without them, and a plain "I approved,
continue" button without JavaScript). Approval logs the browser in; a denial or the two minutes
passing says so. Every number gets the same pages and the same wait: an unknown one just times
out. The request is bound to this browser (its CSRF cookie), so only it can follow and finish
the login. The login page links here (``app_login_url``).

The same waiting page serves a step-up (an approval of kind ``step_up``, asked by the
authorization endpoint for the account already logged in, see ``sesame.web.oidc.authorize``):
it names the partner service, offers no other number nor the password login, and on approval
opens the session again at the approval's level before going back to ``return_to``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sesame.domain.devices import FINAL_STATUSES, ApprovalKind, ApprovalRequest, ApprovalStatus
from sesame.domain.phones import PhoneNumberRejected
from sesame.domain.tenants import Tenant
from sesame.services.app_login import AppLogin
from sesame.services.approvals import ApprovalRateLimited, ApprovalUnavailable, ConsumeStatus
from sesame.services.devices import offers_app
from sesame.services.sessions import SESSION_TOKEN_BYTES
from sesame.web.csrf import browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant, local_path
from sesame.web.session import current_session, request_context, session_token, set_session_cookie
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

PATH = "login/app"
#: A return_to longer than this is not a page of ours worth coming back to.
RETURN_TO_MAX = 2048
MOBILE_INPUT_MAX = 64
#: How often the event stream looks at the request, and how long it lasts at most.
EVENTS_POLL_SECONDS = 1.0
EVENTS_KEEPALIVE_SECONDS = 15.0
EVENTS_SLACK_SECONDS = 15.0


def app_login_url(tenant: Tenant, return_to: str | None = None) -> str:
    """Where the login page's "Use the Digital Identity" button goes."""
    url = f"/{tenant.slug}/{PATH}"
    return f"{url}?{_query(return_to)}" if return_to else url


def _query(return_to: str | None) -> str:
    return urlencode({"return_to": return_to}) if return_to else ""


def _return_to(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw or len(raw) > RETURN_TO_MAX:
        return None
    return local_path(raw)


def _login(request: Request) -> AppLogin:
    return AppLogin(get_container(request).approvals)


def wait_url(tenant: Tenant, request_id: str, return_to: str | None) -> str:
    """The waiting page of an approval request made by this browser (a login or a step-up)."""
    url = f"/{tenant.slug}/{PATH}/{request_id}"
    return f"{url}?{_query(return_to)}" if return_to else url


def _password_login_url(tenant: Tenant, return_to: str | None) -> str:
    return f"/{tenant.slug}/login" + (f"?{_query(return_to)}" if return_to else "")


def _unavailable(request: Request) -> Response:
    return render(request, "app_login/unavailable.html", status_code=404)


# -- the number --------------------------------------------------------------------------------------


@router.get(f"/{{tenant}}/{PATH}", name="app_login")
async def start_page(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    if not offers_app(tenant):
        return _unavailable(request)
    return_to = _return_to(request.query_params.get("return_to"))
    if request.query_params.get("prompt") != "login" and await current_session(request, tenant) is not None:
        return RedirectResponse(return_to or f"/{tenant.slug}/account", status_code=303)
    return _start(request, tenant, return_to)


def _start(
    request: Request,
    tenant: Tenant,
    return_to: str | None,
    *,
    mobile: str = "",
    error: str | None = None,
    retry_at: datetime | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "action_url": f"/{tenant.slug}/{PATH}",
        "return_to": return_to or "",
        "mobile": mobile,
        "error": error,
        "retry_at": retry_at,
        "password_login_url": f"/{tenant.slug}/login" + (f"?{_query(return_to)}" if return_to else ""),
    }
    return render(request, "app_login/start.html", context, status_code=status_code)


@router.post(f"/{{tenant}}/{PATH}", name="app_login_submit")
async def submit_number(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    if not offers_app(tenant):
        return _unavailable(request)
    form = await request.form()
    return_to = _return_to(form.get("return_to"))
    raw = form.get("mobile")
    mobile = raw.strip()[:MOBILE_INPUT_MAX] if isinstance(raw, str) else ""
    if not mobile:
        return _start(request, tenant, return_to, error="phone_empty", status_code=400)
    try:
        created = await run_in_threadpool(
            _login(request).start, tenant, mobile, browser_token(request), request_context(request)
        )
    except PhoneNumberRejected as rejected:
        return _start(request, tenant, return_to, mobile=mobile, error=rejected.reason.value, status_code=400)
    except ApprovalRateLimited as limited:
        return _start(
            request, tenant, return_to, mobile=mobile, error="rate_limited", retry_at=limited.retry_at, status_code=429
        )
    except ApprovalUnavailable:
        return _unavailable(request)
    # Known or not, the same redirect to the same page: nothing tells them apart.
    return RedirectResponse(wait_url(tenant, created.request.id, return_to), status_code=303)


# -- waiting -------------------------------------------------------------------------------------------


async def _find(request: Request, tenant: Tenant, request_id: str) -> ApprovalRequest | None:
    return await run_in_threadpool(_login(request).status, tenant, request_id, browser_token(request))


def _not_found(request: Request, tenant: Tenant) -> Response:
    return render(
        request, "app_login/result.html", {"outcome": "not_found", "restart_url": f"/{tenant.slug}/{PATH}"}, 404
    )


def _wait_page(
    request: Request, tenant: Tenant, found: ApprovalRequest, return_to: str | None, *, notice: str | None = None
) -> Response:
    now = get_container(request).clock.now()
    status = found.status_at(now)
    step_up = found.kind is ApprovalKind.STEP_UP
    if status in (ApprovalStatus.DENIED, ApprovalStatus.EXPIRED):
        return _result(request, tenant, status.value, return_to, step_up=step_up)
    base = f"/{tenant.slug}/{PATH}/{found.id}"
    context = {
        "approval": found,
        "step_up": step_up,
        "status": status.value,
        "binding_code": found.binding_code,
        "expires_at": found.expires_at,
        "seconds_left": max(0, int((found.expires_at - now).total_seconds())),
        "finish_url": base,
        "events_url": f"{base}/events",
        "status_url": f"{base}/status",
        "return_to": return_to or "",
        "restart_url": _restart_url(tenant, return_to, step_up),
        "password_login_url": None if step_up else _password_login_url(tenant, return_to),
        "notice": notice,
    }
    return render(request, "app_login/wait.html", context)


def _restart_url(tenant: Tenant, return_to: str | None, step_up: bool) -> str:
    """Where "try again" goes: a new number, or for a step-up the page that asked for it."""
    if step_up:
        return return_to or f"/{tenant.slug}/account"
    return app_login_url(tenant, return_to)


def _result(
    request: Request,
    tenant: Tenant,
    outcome: str,
    return_to: str | None,
    status_code: int = 200,
    *,
    step_up: bool = False,
) -> Response:
    context = {
        "outcome": outcome,
        "step_up": step_up,
        "restart_url": _restart_url(tenant, return_to, step_up),
        "password_login_url": None if step_up else _password_login_url(tenant, return_to),
    }
    return render(request, "app_login/result.html", context, status_code=status_code)


@router.get(f"/{{tenant}}/{PATH}/{{request_id}}", name="app_login_wait")
async def wait_page(request_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    found = await _find(request, tenant, request_id)
    if found is None:
        return _not_found(request, tenant)
    return _wait_page(request, tenant, found, _return_to(request.query_params.get("return_to")))


@router.get(f"/{{tenant}}/{PATH}/{{request_id}}/status", name="app_login_status")
async def status_json(request_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """The request's status for scripts that cannot use server-sent events."""
    found = await _find(request, tenant, request_id)
    if found is None:
        return JSONResponse({"status": "not_found"}, status_code=404, headers={"cache-control": "no-store"})
    now = get_container(request).clock.now()
    body = {"status": found.status_at(now).value, "expires_at": found.expires_at.isoformat()}
    return JSONResponse(body, headers={"cache-control": "no-store"})


@router.get(f"/{{tenant}}/{PATH}/{{request_id}}/events", name="app_login_events")
async def events(request_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Server-sent events: ``status`` each time the request's status changes, until it is final."""
    handle = browser_token(request)
    login = _login(request)
    found = await run_in_threadpool(login.status, tenant, request_id, handle)
    if found is None:
        return JSONResponse({"status": "not_found"}, status_code=404)
    lasting = (found.expires_at - login.now()).total_seconds() + EVENTS_SLACK_SECONDS
    return StreamingResponse(
        _event_stream(login, tenant, request_id, handle, max(EVENTS_SLACK_SECONDS, lasting)),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _event_stream(
    login: AppLogin, tenant: Tenant, request_id: str, handle: str, lasting: float
) -> AsyncIterator[str]:
    # No transaction stays open: one short read per poll (ADR 0001: waits are async, outside the database).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lasting
    last: str | None = None
    quiet_since = loop.time()
    yield "retry: 3000\n\n"
    while True:
        found = await run_in_threadpool(login.status, tenant, request_id, handle)
        status = found.status_at(login.now()).value if found is not None else "not_found"
        if status != last:
            yield f"event: status\ndata: {json.dumps({'status': status})}\n\n"
            last, quiet_since = status, loop.time()
        elif loop.time() - quiet_since >= EVENTS_KEEPALIVE_SECONDS:
            yield ": still waiting\n\n"
            quiet_since = loop.time()
        if status == "not_found" or ApprovalStatus(status) in FINAL_STATUSES or loop.time() >= deadline:
            return
        await asyncio.sleep(EVENTS_POLL_SECONDS)


# -- finishing -----------------------------------------------------------------------------------------


@router.post(f"/{{tenant}}/{PATH}/{{request_id}}", name="app_login_finish")
async def finish(request_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
    """Open the session of an approved request (the script submits this form once approved)."""
    form = await request.form()
    return_to = _return_to(form.get("return_to"))
    container = get_container(request)
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    outcome = await run_in_threadpool(
        lambda: _login(request).complete(
            tenant,
            request_id,
            browser_token(request),
            request_context(request),
            session_token=token,
            previous_session_token=session_token(request, tenant),
        )
    )
    status = outcome.status
    if status is ConsumeStatus.NOT_FOUND or outcome.request is None:
        return _not_found(request, tenant)
    if status is ConsumeStatus.CONSUMED and outcome.session is not None:
        response = RedirectResponse(return_to or f"/{tenant.slug}/account", status_code=303)
        set_session_cookie(response, container.settings, tenant, token)
        return response
    if status is ConsumeStatus.PENDING:
        return _wait_page(request, tenant, outcome.request, return_to, notice="not_yet")
    if status is ConsumeStatus.USED and await current_session(request, tenant) is not None:
        return RedirectResponse(return_to or f"/{tenant.slug}/account", status_code=303)  # a double submit
    step_up = outcome.request.kind is ApprovalKind.STEP_UP
    return _result(
        request, tenant, status.value, return_to, status_code=_RESULT_STATUS.get(status, 200), step_up=step_up
    )


_RESULT_STATUS: dict[ConsumeStatus, int] = {
    ConsumeStatus.USED: 409,
    ConsumeStatus.REFUSED: 403,
}

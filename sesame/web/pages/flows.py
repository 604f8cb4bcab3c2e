"""Flow pages: start a flow, show its current state, submit its step. No journey logic here.

A flow kind is served by :func:`mount_flow` at ``/{tenant}/{path}`` (start) and
``/{tenant}/{path}/{flow_id}`` (show, submit), with its templates at
``flows/{kind}/{state}.html``. A :class:`FlowPage` may add hooks: the extras its steps need
(services, the request's context), an initial context, and what to do after a step (set a
session cookie, redirect to where the person was going). A flow that is unknown, expired, out
of attempts or started in another browser gets a clear page with a way to start again, never
a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sesame.domain.errors import FlowCsrfMismatch, FlowExpired, FlowNotFound, FlowStateError, TooManyAttempts
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowDefinition, FlowRunner
from sesame.flows.hello.flow import HELLO
from sesame.web.csrf import FORM_FIELD, browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant, local_path
from sesame.web.i18n import N_, gettext
from sesame.web.templating import render

log = structlog.get_logger("sesame.web.flows")

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

ExtrasHook = Callable[[Request, Tenant], Mapping[str, Any]]
StartHook = Callable[[Request, Tenant], Awaitable[BaseModel | None]]
AfterStepHook = Callable[[Request, Tenant, Flow[Any, Any], Mapping[str, Any]], Awaitable[Response | None]]


@dataclass(frozen=True, slots=True)
class FlowPage:
    """How one flow kind is served: its URL segment and optional hooks."""

    definition: FlowDefinition[Any, Any]
    path: str
    #: Extras handed to the steps (services, the request's context, a pre-drawn session token...).
    extras: ExtrasHook | None = None
    #: The initial context of a new flow (from the query string: a login hint...).
    start_context: StartHook | None = None
    #: Called after every accepted step with the extras; a response returned replaces the redirect.
    after_step: AfterStepHook | None = None


#: Form fields that belong to the page, not to the step.
_PAGE_FIELDS = frozenset({FORM_FIELD, "step"})

_UNAVAILABLE: dict[type[Exception], tuple[int, str, str]] = {
    FlowNotFound: (
        404,
        N_("This page is no longer available"),
        N_("The link is incomplete or this step was already finished. You can start again."),
    ),
    FlowExpired: (
        410,
        N_("This page has expired"),
        N_("For your security, unfinished steps expire after a while. Nothing was lost: start again."),
    ),
    TooManyAttempts: (
        429,
        N_("Too many attempts"),
        N_("This attempt was stopped after too many errors. You can start again."),
    ),
    FlowCsrfMismatch: (
        403,
        N_("This page was opened in another browser"),
        N_("For your security, a step must be finished in the browser where it was started. Start again here."),
    ),
}


def _runner(request: Request) -> FlowRunner:
    container = get_container(request)
    return FlowRunner(container.uow, container.clock)


def _start_url(tenant: Tenant, path: str) -> str:
    return f"/{tenant.slug}/{path}"


def _unavailable(request: Request, error: Exception, tenant: Tenant, path: str) -> Response:
    status, headline, explanation = _UNAVAILABLE[type(error)]
    log.info("flow.unavailable", reason=type(error).__name__, tenant=tenant.slug, kind=path)
    return render(
        request,
        "flows/unavailable.html",
        {"headline": gettext(headline), "explanation": gettext(explanation), "start_url": _start_url(tenant, path)},
        status_code=status,
    )


def _page(
    request: Request,
    flow: Flow[Any, Any],
    tenant: Tenant,
    path: str,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> Response:
    return render(
        request,
        f"flows/{flow.record.kind}/{flow.state.value}.html",
        {
            "flow": flow,
            "flow_url": f"{_start_url(tenant, path)}/{flow.id}",
            "start_url": _start_url(tenant, path),
            "errors": dict(errors or {}),
            "values": dict(values or {}),
        },
        status_code=400 if errors else 200,
    )


def mount_flow(target: APIRouter, page: FlowPage) -> None:
    """Serve ``page``'s flow kind on ``target`` (a router whose dependencies include csrf_protect)."""
    definition, path = page.definition, page.path

    async def start(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
        context = await page.start_context(request, tenant) if page.start_context else None
        return_to = request.query_params.get("return_to")
        flow = await run_in_threadpool(
            lambda: _runner(request).start(
                definition,
                tenant,
                browser_token(request),
                context=context,
                return_to=local_path(return_to) if return_to else None,
            )
        )
        return RedirectResponse(f"{_start_url(tenant, path)}/{flow.id}", status_code=303)

    async def show(flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
        try:
            flow = await run_in_threadpool(_runner(request).load, definition, tenant, flow_id)
        except (FlowNotFound, FlowExpired, TooManyAttempts) as error:
            return _unavailable(request, error, tenant, path)
        return _page(request, flow, tenant, path)

    async def submit(flow_id: str, request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str) and k not in _PAGE_FIELDS}
        expected = form.get("step")
        runner = _runner(request)
        extras = page.extras(request, tenant) if page.extras else {}
        try:
            result = await run_in_threadpool(
                lambda: runner.submit(
                    definition,
                    tenant,
                    flow_id,
                    browser_token(request),
                    data,
                    expected_state=expected if isinstance(expected, str) else None,
                    extras=extras,
                )
            )
        except (FlowNotFound, FlowExpired, TooManyAttempts, FlowCsrfMismatch) as error:
            return _unavailable(request, error, tenant, path)
        except FlowStateError:
            # Another submit of the same step won the race, or the state takes no input: show where it is.
            return RedirectResponse(f"{_start_url(tenant, path)}/{flow_id}", status_code=303)
        if not result.ok:
            return _page(request, result.flow, tenant, path, errors=result.errors, values=data)
        if page.after_step is not None:
            response = await page.after_step(request, tenant, result.flow, extras)
            if response is not None:
                return response
        return RedirectResponse(f"{_start_url(tenant, path)}/{flow_id}", status_code=303)

    target.add_api_route(f"/{{tenant}}/{path}", start, methods=["GET"], name=f"flow_{definition.kind}_start")
    target.add_api_route(f"/{{tenant}}/{path}/{{flow_id}}", show, methods=["GET"], name=f"flow_{definition.kind}")
    target.add_api_route(
        f"/{{tenant}}/{path}/{{flow_id}}", submit, methods=["POST"], name=f"flow_{definition.kind}_submit"
    )


mount_flow(router, FlowPage(HELLO, "hello"))

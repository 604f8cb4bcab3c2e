"""Flow pages: start a flow, show its current state, submit its step. No journey logic here.

Every flow kind in :data:`sesame.flows.registry.FLOWS` that has a ``path`` here is served at
``/{tenant}/{path}`` (start) and ``/{tenant}/{path}/{flow_id}`` (show, submit). A flow that is
unknown, expired, out of attempts or started in another browser gets a clear page with a way
to start again, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.domain.errors import FlowCsrfMismatch, FlowExpired, FlowNotFound, FlowStateError, TooManyAttempts
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowDefinition, FlowRunner
from sesame.flows.registry import FLOWS
from sesame.web.csrf import FORM_FIELD, browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.i18n import N_, gettext
from sesame.web.templating import render

log = structlog.get_logger("sesame.web.flows")

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

#: URL path segment of each flow kind served by this generic router.
FLOW_PATHS: dict[str, str] = {"hello": "hello"}
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


def _mount(definition: FlowDefinition[Any, Any], path: str) -> None:
    async def start(request: Request, tenant: Tenant = Depends(get_tenant)) -> Response:
        flow = await run_in_threadpool(_runner(request).start, definition, tenant, browser_token(request))
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
        try:
            result = await run_in_threadpool(
                runner.submit,
                definition,
                tenant,
                flow_id,
                browser_token(request),
                data,
                expected_state=expected if isinstance(expected, str) else None,
            )
        except (FlowNotFound, FlowExpired, TooManyAttempts, FlowCsrfMismatch) as error:
            return _unavailable(request, error, tenant, path)
        except FlowStateError:
            # Another submit of the same step won the race, or the state takes no input: show where it is.
            return RedirectResponse(f"{_start_url(tenant, path)}/{flow_id}", status_code=303)
        if not result.ok:
            return _page(request, result.flow, tenant, path, errors=result.errors, values=data)
        return RedirectResponse(f"{_start_url(tenant, path)}/{flow_id}", status_code=303)

    router.add_api_route(f"/{{tenant}}/{path}", start, methods=["GET"], name=f"flow_{definition.kind}_start")
    router.add_api_route(f"/{{tenant}}/{path}/{{flow_id}}", show, methods=["GET"], name=f"flow_{definition.kind}")
    router.add_api_route(
        f"/{{tenant}}/{path}/{{flow_id}}", submit, methods=["POST"], name=f"flow_{definition.kind}_submit"
    )


for _kind, _path in FLOW_PATHS.items():
    _mount(FLOWS[_kind], _path)

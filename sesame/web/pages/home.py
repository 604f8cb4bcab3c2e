"""The server's front page (the list of services) and each tenant's landing page.

Its ``/{tenant}`` routes match any single path segment, so the app factory includes this
router last.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.tenants import Tenant
from sesame.web.csrf import csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


@router.get("/", response_class=HTMLResponse, name="index")
async def index(request: Request, container: Container = Depends(get_container)) -> HTMLResponse:
    """Every tenant of this server, as links."""
    tenants = await run_in_threadpool(container.tenants.list)
    return render(request, "index.html", {"tenants": tenants})


@router.get("/{tenant}", response_class=HTMLResponse, name="tenant_home")
@router.get("/{tenant}/", response_class=HTMLResponse, include_in_schema=False)
async def tenant_home(request: Request, tenant: Tenant = Depends(get_tenant)) -> HTMLResponse:
    """The tenant's landing page, in its colours and languages."""
    return render(request, "home.html")

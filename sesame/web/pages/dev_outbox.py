"""The dev inbox (dev mode only): every email, SMS and letter the server queued, readable at once.

``/_dev/outbox`` lists them, ``/_dev/outbox/{id}`` shows one (text, the HTML in a sandboxed
frame served with its own strict policy, the letter's PDF), and ``/_dev/outbox.json`` gives
the same to scripts and browser tests that need a code or a link. The app factory mounts this
router only when ``SESAME_DEV_MODE`` is on: these pages show secrets by design.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.bootstrap import Container
from sesame.domain.errors import NotFound
from sesame.services import outbox
from sesame.web.deps import get_container
from sesame.web.templating import TEMPLATE_DIR, render

router = APIRouter(prefix="/_dev", include_in_schema=False)

STYLESHEET = TEMPLATE_DIR / "dev" / "outbox.css"

# The email's own HTML is untrusted markup: no script, no network, no form, an opaque origin
# (sandbox), framed only by the detail page. Inline styles stay: every email uses them.
EMAIL_PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"


def _links(entry: outbox.InboxEntry) -> dict[str, str | None]:
    message_id = entry.message.id
    return {
        "url": f"/_dev/outbox/{message_id}",
        "pdf_url": f"/_dev/outbox/{message_id}.pdf" if entry.message.pdf else None,
        "html_url": f"/_dev/outbox/{message_id}/html" if entry.message.body_html else None,
    }


async def _entries(container: Container, limit: int, tenant: str | None) -> list[outbox.InboxEntry]:
    return list(await run_in_threadpool(outbox.list_messages, container.uow, limit=limit, tenant_slug=tenant))


async def _entry(container: Container, message_id: int) -> outbox.InboxEntry:
    return await run_in_threadpool(outbox.get_message, container.uow, message_id)


@router.get("/outbox", response_class=HTMLResponse, name="dev_outbox")
async def inbox(
    request: Request,
    tenant: str | None = Query(None, description="Only this tenant's messages."),
    limit: int = Query(200, ge=1, le=1000),
    container: Container = Depends(get_container),
) -> HTMLResponse:
    """Every queued message, newest first."""
    entries = await _entries(container, limit, tenant)
    return render(request, "dev/outbox_list.html", {"entries": entries, "filter_tenant": tenant})


@router.get("/outbox.json", name="dev_outbox_json")
async def inbox_json(
    tenant: str | None = Query(None, description="Only this tenant's messages."),
    limit: int = Query(200, ge=1, le=1000),
    container: Container = Depends(get_container),
) -> JSONResponse:
    """The same list as JSON, with each message's text (codes and links included)."""
    entries = await _entries(container, limit, tenant)
    return JSONResponse([{**entry.to_json(), **_links(entry)} for entry in entries])


@router.get("/outbox.css", name="dev_outbox_css")
async def stylesheet() -> Response:
    # Served from here, not inline: the pages' policy allows stylesheets from this origin only.
    return Response(STYLESHEET.read_text(encoding="utf-8"), media_type="text/css")


@router.get("/outbox/{message_id:int}", response_class=HTMLResponse, name="dev_outbox_message")
async def message(request: Request, message_id: int, container: Container = Depends(get_container)) -> HTMLResponse:
    """One message: its details, text, HTML and PDF."""
    entry = await _entry(container, message_id)
    context: dict[str, Any] = {"entry": entry, "m": entry.message, **_links(entry)}
    return render(request, "dev/outbox_message.html", context)


@router.get("/outbox/{message_id:int}/html", name="dev_outbox_html")
async def message_html(message_id: int, container: Container = Depends(get_container)) -> HTMLResponse:
    """The email's HTML alone, for the sandboxed frame of the detail page."""
    entry = await _entry(container, message_id)
    if entry.message.body_html is None:
        raise NotFound(f"outbox message {message_id} has no HTML")
    headers = {"content-security-policy": EMAIL_PREVIEW_POLICY, "x-frame-options": "SAMEORIGIN"}
    return HTMLResponse(entry.message.body_html, headers=headers)


@router.get("/outbox/{message_id:int}.pdf", name="dev_outbox_pdf")
async def message_pdf(message_id: int, container: Container = Depends(get_container)) -> Response:
    """The letter as it will be printed."""
    entry = await _entry(container, message_id)
    if entry.message.pdf is None:
        raise NotFound(f"outbox message {message_id} has no PDF")
    disposition = f'inline; filename="letter-{message_id}.pdf"'
    return Response(entry.message.pdf, media_type="application/pdf", headers={"content-disposition": disposition})

"""Pages: the recipient's registered electronic letters (``/{tenant}/letters``).

A letter's page asks its logged-in recipient to confirm their identity before showing anything
(the first opening is the acknowledgement of receipt), or to say "I am not this person". Anyone
else, logged in or not, learns nothing: logged out, the login page comes first; logged in as
another account, the same "cannot be shown" page as for a letter that does not exist. Proofs of
sending and of receipt, and the content document whose hash they state, are downloads here.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sesame.domain.registered_letters import (
    LetterNotFound,
    LetterStateError,
    LetterStatus,
    ProofKind,
    RegisteredLetter,
    mask_name,
    normalize_reference,
)
from sesame.domain.tenants import Tenant
from sesame.services.email_change import mask_email
from sesame.services.registered_letters import (
    FRESH_LOGIN,
    PROOF_MEDIA_TYPE,
    FreshLoginRequired,
    RegisteredLetters,
)
from sesame.services.sessions import LiveSession
from sesame.web.csrf import csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.session import LoginRequired, current_session, login_url, request_context, require_login
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


def letters(request: Request) -> RegisteredLetters:
    return get_container(request).registered_letters


def list_url(tenant: Tenant) -> str:
    return f"/{tenant.slug}/letters"


def letter_url(tenant: Tenant, reference: str) -> str:
    return f"/{tenant.slug}/letters/{reference}"


def _cannot_show(tenant: Tenant) -> ErrorPage:
    """One answer for "no such letter" and "not yours": nothing to learn by trying references."""
    return ErrorPage(
        404,
        "letter_not_found",
        N_("This letter cannot be shown"),
        N_("The link may be wrong, or the letter was sent to another account: log in with the account it was sent to."),
        action_url=list_url(tenant),
        action_label=N_("My registered letters"),
    )


async def recipient(request: Request, tenant: Tenant = Depends(get_tenant)) -> LiveSession:
    """The logged-in person; logged out, the login page first, then back to the letter (a form's
    URL cannot be opened with GET: after a login, a form sent while logged out goes to the page)."""
    if request.method in {"GET", "HEAD"}:
        return await require_login(request, tenant)
    live = await current_session(request, tenant)
    if live is None:
        reference = normalize_reference(str(request.path_params.get("reference", "")))
        raise LoginRequired(tenant, letter_url(tenant, reference) if reference else list_url(tenant))
    return live


async def _letter(request: Request, tenant: Tenant, live: LiveSession, reference: str) -> RegisteredLetter:
    try:
        return await run_in_threadpool(letters(request).for_recipient, tenant, live.account.id, reference)
    except LetterNotFound:
        raise _cannot_show(tenant) from None


def _fresh_login_url(tenant: Tenant, reference: str) -> str:
    return login_url(tenant, letter_url(tenant, reference)) + "&prompt=login"


def _login_is_fresh(request: Request, live: LiveSession) -> bool:
    return get_container(request).clock.now() - live.session.auth_time <= FRESH_LOGIN - timedelta(seconds=30)


@router.get("/{tenant}/letters", response_class=HTMLResponse, name="letters")
async def letters_page(
    request: Request, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(recipient)
) -> HTMLResponse:
    found = await run_in_threadpool(letters(request).letters_of, tenant, live.account.id)
    return render(request, "letters/index.html", {"letters": found})


@router.get("/{tenant}/letters/{reference}", response_class=HTMLResponse, name="letter")
async def letter_page(
    request: Request, reference: str, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(recipient)
) -> HTMLResponse:
    """The cover (confirm my identity / I am not this person), the content once opened, or the
    refusal; with the proofs that exist."""
    letter = await _letter(request, tenant, live, reference)
    context: dict[str, object] = {
        "letter": letter,
        "masked_name": mask_name(letter.recipient_name) if letter.recipient_name else "",
        "masked_email": mask_email(letter.recipient_email),
        "letter_url": letter_url(tenant, letter.reference),
        "content": None,
        "login_is_fresh": _login_is_fresh(request, live),
    }
    if letter.status is LetterStatus.OPENED:
        opened = await run_in_threadpool(letters(request).read, tenant, live.account.id, letter.reference)
        context["content"] = opened.content
    return render(request, "letters/letter.html", context)


@router.post("/{tenant}/letters/{reference}/open", name="letter_open")
async def open_letter(
    request: Request, reference: str, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(recipient)
) -> Response:
    """ "Confirm my identity": the first opening is the acknowledgement of receipt; a second
    submit changes nothing. A login older than a few minutes is asked for again first."""
    service, context = letters(request), request_context(request, live)
    try:
        opened = await run_in_threadpool(service.open, tenant, live, reference, context)
    except LetterNotFound:
        raise _cannot_show(tenant) from None
    except FreshLoginRequired:
        return RedirectResponse(_fresh_login_url(tenant, reference), status_code=303)
    except LetterStateError:  # refused before: the page says so
        return RedirectResponse(letter_url(tenant, reference), status_code=303)
    return RedirectResponse(letter_url(tenant, opened.letter.reference) + "#letter-content", status_code=303)


@router.post("/{tenant}/letters/{reference}/refuse", name="letter_refuse")
async def refuse_letter(
    request: Request, reference: str, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(recipient)
) -> Response:
    """ "I am not this person", before opening; recorded once."""
    service, context = letters(request), request_context(request, live)
    try:
        refused = await run_in_threadpool(service.refuse, tenant, live, reference, context)
    except LetterNotFound:
        raise _cannot_show(tenant) from None
    except FreshLoginRequired:
        return RedirectResponse(_fresh_login_url(tenant, reference), status_code=303)
    except LetterStateError:  # opened before: the page shows it
        return RedirectResponse(letter_url(tenant, reference), status_code=303)
    return RedirectResponse(letter_url(tenant, refused.reference), status_code=303)


@router.get("/{tenant}/letters/{reference}/proof/{kind}", name="letter_proof")
async def download_proof(
    request: Request,
    reference: str,
    kind: str,
    tenant: Tenant = Depends(get_tenant),
    live: LiveSession = Depends(recipient),
) -> Response:
    """The signed proof of sending or of receipt, once the letter was opened (or refused)."""
    try:
        proof_kind = ProofKind(kind)
    except ValueError:
        raise _cannot_show(tenant) from None
    letter = await _letter(request, tenant, live, reference)
    if letter.status is LetterStatus.SENT:
        # The proofs name the sender and the subject: the recipient sees them once the letter is
        # opened (or refused), like its content.
        raise ErrorPage(
            409,
            "letter_not_opened",
            N_("Open the letter first"),
            N_("Its proofs of sending and of receipt are available once you have opened it."),
            action_url=letter_url(tenant, letter.reference),
            action_label=N_("Back to the letter"),
        )
    context = request_context(request, live)
    token = await run_in_threadpool(lambda: letters(request).proof(tenant, letter, proof_kind, context=context))
    return _download(token, PROOF_MEDIA_TYPE, f"lre-{letter.reference}-{proof_kind.value}.jws")


@router.get("/{tenant}/letters/{reference}/content", name="letter_content")
async def download_content(
    request: Request, reference: str, tenant: Tenant = Depends(get_tenant), live: LiveSession = Depends(recipient)
) -> Response:
    """The content document of an opened letter: its SHA-256 is the ``content_sha256`` of the proofs."""
    try:
        opened = await run_in_threadpool(letters(request).read, tenant, live.account.id, reference)
    except LetterNotFound:
        raise _cannot_show(tenant) from None
    return _download(opened.content.canonical_bytes(), "application/json", f"lre-{opened.letter.reference}.json")


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
    )

"""The agents' back office at ``/backoffice``: login, queue, case, decisions, logout.

Thin: each route parses a form, calls a use case of :mod:`sesame.backoffice` (in a worker
thread), and renders or redirects. Every form carries the CSRF token; every page but the login
needs an agent's session (:func:`~sesame.web.backoffice.session.require_agent`). Images are
served with ``Cache-Control: no-store`` and only while their case is undecided.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from sesame.backoffice.access import CaseNotAvailable, DecisionConflict, DecisionRefused
from sesame.backoffice.agents import LiveAgent, LoginStatus
from sesame.backoffice.cases import CaseView
from sesame.backoffice.decisions import DecisionResult, ReviewAction
from sesame.domain.agents import AgentRole
from sesame.domain.errors import InvalidInput, NotFound, PolicyViolation
from sesame.domain.identity import Decision
from sesame.web import i18n
from sesame.web.backoffice import labels
from sesame.web.backoffice.session import (
    PASSWORD_PATH,
    PREFIX,
    BackofficeRoute,
    agent_context,
    backoffice,
    clear_agent_cookie,
    current_agent,
    no_store,
    require_agent,
    safe_return_to,
    set_agent_cookie,
)
from sesame.web.csrf import csrf_protect
from sesame.web.deps import get_container
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_
from sesame.web.templating import TEMPLATE_DIR, render

router = APIRouter(
    prefix=PREFIX, route_class=BackofficeRoute, dependencies=[Depends(csrf_protect)], include_in_schema=False
)

STYLESHEET = TEMPLATE_DIR / "backoffice" / "backoffice.css"
FIELD_MAX = 1024
CODE_FIELD_MAX = 32


def _text(form: FormData, name: str, limit: int = FIELD_MAX) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _case_not_available() -> ErrorPage:
    return ErrorPage(
        404,
        "case_not_available",
        N_("This case is not available"),
        N_("It does not exist, it is not in your queues, or it has been decided. Go back to your queue."),
        action_url=PREFIX,
        action_label=N_("Back to my queue"),
    )


def _page(request: Request, name: str, live: LiveAgent | None, context: dict[str, Any], status: int = 200) -> Response:
    full = {"agent": live.agent if live else None, "labels": labels, "prefix": PREFIX, **context}
    response = render(request, f"backoffice/{name}", full, status_code=status)
    response.headers.update(no_store())
    return response


# -- stylesheet -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


@router.get("/backoffice.css", name="backoffice_css")
def stylesheet() -> Response:
    # A file of its own: the pages' Content Security Policy allows no inline style.
    return Response(_stylesheet(), media_type="text/css", headers={"cache-control": "public, max-age=3600"})


# -- login, password, logout ----------------------------------------------------------------------

_LOGIN_ERRORS: dict[LoginStatus, tuple[int, str]] = {
    LoginStatus.INVALID: (401, N_("The email address or the password is not right.")),
    LoginStatus.SUSPENDED: (429, N_("Too many failed attempts. Try again after %(time)s.")),
    LoginStatus.THROTTLED: (429, N_("Too many attempts from this network. Try again in a minute.")),
    LoginStatus.LOCKED: (403, N_("Your access is closed. Ask your administrator to reopen it.")),
    LoginStatus.DISABLED: (403, N_("Your access is closed. Ask your administrator to reopen it.")),
}


@router.get("/login", name="backoffice_login")
async def login_page(request: Request) -> Response:
    if await current_agent(request) is not None:
        return RedirectResponse(PREFIX, status_code=303)
    return_to = safe_return_to(request.query_params.get("return_to"))
    logged_out = request.query_params.get("logged_out") == "1"
    return _page(
        request, "login.html", None, {"email": "", "error": None, "return_to": return_to, "logged_out": logged_out}
    )


@router.post("/login", name="backoffice_login_submit")
async def login(request: Request) -> Response:
    form = await request.form()
    email, password = _text(form, "email", 320).strip(), _text(form, "password")
    return_to = safe_return_to(_text(form, "return_to"))
    bo, context = backoffice(request), agent_context(request)
    outcome = await run_in_threadpool(bo.access.authenticate, email, password, context)
    if not outcome.ok or outcome.agent is None:
        status, message = _LOGIN_ERRORS[outcome.status]
        time = i18n.format_datetime(outcome.retry_at, "short") if outcome.retry_at else ""
        error = i18n.gettext(message) % {"time": time} if "%(time)s" in message else i18n.gettext(message)
        context_page = {"email": email, "error": error, "return_to": return_to, "logged_out": False}
        return _page(request, "login.html", None, context_page, status=status)
    previous = await current_agent(request)
    if previous is not None:  # a new session at every login; the old one ends
        await run_in_threadpool(bo.access.end, previous, context)
    opened = await run_in_threadpool(bo.access.open, outcome.agent, agent_context(request))
    target = PASSWORD_PATH if outcome.agent.password_change_required else (return_to or PREFIX)
    response = RedirectResponse(target, status_code=303)
    set_agent_cookie(response, get_container(request).settings, opened.token)
    return response


@router.post("/logout", name="backoffice_logout")
async def logout(request: Request) -> Response:
    live = await current_agent(request)
    if live is not None:
        await run_in_threadpool(backoffice(request).access.end, live, agent_context(request, live))
    response = RedirectResponse(f"{PREFIX}/login?logged_out=1", status_code=303)
    clear_agent_cookie(response, get_container(request).settings)
    return response


@router.get("/password", name="backoffice_password")
async def password_page(request: Request, live: LiveAgent = Depends(require_agent)) -> Response:
    return _page(request, "password.html", live, {"error": None})


@router.post("/password", name="backoffice_password_submit")
async def change_password(request: Request, live: LiveAgent = Depends(require_agent)) -> Response:
    form = await request.form()
    current, new, confirm = _text(form, "current"), _text(form, "new"), _text(form, "confirm")
    error: str | None = None
    if new != confirm:
        error = N_("The two new passwords are not the same.")
    else:
        try:
            await run_in_threadpool(
                backoffice(request).access.change_password, live, current, new, agent_context(request, live)
            )
        except PolicyViolation:
            error = N_("The new password is too weak: at least 15 characters, and not a common password.")
        except InvalidInput as refused:
            field = refused.details.get("field")
            error = N_("Your current password is not right.") if field == "current" else N_("Choose a new password.")
    if error is not None:
        return _page(request, "password.html", live, {"error": i18n.gettext(error)}, status=400)
    return RedirectResponse(PREFIX, status_code=303)


# -- the queue --------------------------------------------------------------------------------------


@router.get("", name="backoffice_queue")
async def queue(request: Request, live: LiveAgent = Depends(require_agent)) -> Response:
    tenant = request.query_params.get("tenant") or None
    try:
        found = await run_in_threadpool(backoffice(request).queues.queue, live.agent, tenant)
    except NotFound:
        raise _case_not_available() from None
    done = _done_message(request)
    context = {"queue": found, "tenant": tenant, "done": done, "supervisor": live.agent.has(AgentRole.SUPERVISOR)}
    return _page(request, "queue.html", live, context)


def _done_message(request: Request) -> str | None:
    case, outcome = request.query_params.get("done", ""), request.query_params.get("outcome", "")
    if not case.isdigit() or outcome not in labels.OUTCOME:
        return None
    message = i18n.gettext(labels.OUTCOME[outcome]) % {"case": case}
    blocked = request.query_params.get("blocked_until", "")
    if outcome == "video_unusable" and blocked.isdigit() and len(blocked) <= 12:
        until = datetime.fromtimestamp(int(blocked), UTC)
        message += " " + i18n.gettext(labels.VIDEO_BLOCKED) % {"time": i18n.format_datetime(until, "short")}
    return message


# -- a case -----------------------------------------------------------------------------------------


async def _view(request: Request, live: LiveAgent, case_id: int) -> CaseView:
    try:
        return await run_in_threadpool(
            backoffice(request).cases.view, live.agent, case_id, agent_context(request, live)
        )
    except CaseNotAvailable:
        raise _case_not_available() from None


def _places(request: Request, view: CaseView) -> dict[str, str]:
    """Names of the birth country and town (INSEE codes on the form), when the referential knows them."""
    referentials = getattr(get_container(request), "referentials", None)
    identity = view.identity
    if referentials is None or identity is None:
        return {}
    places: dict[str, str] = {}
    country = referentials.country(identity.birth_country)
    if country is not None:
        places["country"] = country.name
    if identity.birth_town:
        town = referentials.town(identity.birth_town)
        if town is not None:
            places["town"] = f"{town.name} ({town.department})"
    return places


def _case_page(
    request: Request, live: LiveAgent, view: CaseView, form: dict[str, Any] | None = None, error: str | None = None
) -> Response:
    context = {
        "case": view,
        "places": _places(request, view),
        "form": form or {},
        "error": error,
        "overrides_why": ", ".join(labels.label(labels.OVERRIDE, override) for override in view.overrides),
        "pending_why": ", ".join(labels.label(labels.OVERRIDE, o) for o in view.pending.overrides)
        if view.pending
        else "",
    }
    return _page(request, "case.html", live, context, status=400 if error else 200)


@router.get("/cases/{case_id}", name="backoffice_case")
async def case_page(request: Request, case_id: int, live: LiveAgent = Depends(require_agent)) -> Response:
    return _case_page(request, live, await _view(request, live, case_id))


@router.get("/cases/{case_id}/documents/{index}", name="backoffice_document")
async def document(request: Request, case_id: int, index: int, live: LiveAgent = Depends(require_agent)) -> Response:
    bo = backoffice(request)
    try:
        found = await run_in_threadpool(bo.cases.document, live.agent, case_id, index, agent_context(request, live))
    except CaseNotAvailable:
        raise _case_not_available() from None
    headers = no_store({"content-disposition": "inline"})
    return Response(found.content, media_type=found.media_type, headers=headers)


async def _decided(request: Request, live: LiveAgent, case_id: int, form: dict[str, Any], decide: Any) -> Response:
    """Run a decision; a refusal shows the case again with why, a conflict says who was first."""
    try:
        result: DecisionResult = await run_in_threadpool(decide)
    except DecisionRefused as refused:
        view = await _view(request, live, case_id)
        message = i18n.gettext(labels.REFUSAL.get(refused.reason, N_("The decision could not be recorded.")))
        tries_left = refused.details.get("tries_left")
        if refused.reason == "code_wrong" and isinstance(tries_left, int):
            message += " " + i18n.ngettext("%(num)d try left.", "%(num)d tries left.", tries_left) % {"num": tries_left}
        return _case_page(request, live, view, form, message)
    except DecisionConflict as conflict:
        mine = conflict.decided_by == live.agent.actor  # a double submit of one's own decision
        context = {"case_id": case_id, "conflict": conflict.code, "mine": mine}
        return _page(request, "conflict.html", live, context, status=409)
    except CaseNotAvailable:
        raise _case_not_available() from None
    url = f"{PREFIX}?done={result.case_id}&outcome={result.outcome.value}"
    if result.video_blocked_until is not None:
        url += f"&blocked_until={int(result.video_blocked_until.timestamp())}"
    return RedirectResponse(url, status_code=303)


@router.post("/cases/{case_id}/in-person", name="backoffice_in_person")
async def in_person(request: Request, case_id: int, live: LiveAgent = Depends(require_agent)) -> Response:
    form = await request.form()
    decision = Decision.APPROVED if _text(form, "decision") == "approve" else Decision.REJECTED
    checks = [value for value in form.getlist("checks") if isinstance(value, str)][:10]
    reason = _text(form, "reason")
    kept = {"checks": checks, "reason": reason, "decision": decision.value}
    context = agent_context(request, live)
    decisions = backoffice(request).decisions

    def decide() -> DecisionResult:
        return decisions.decide_in_person(
            live.agent,
            case_id,
            decision,
            context,
            checks=checks,
            day_code=_text(form, "day_code", CODE_FIELD_MAX),
            reason=reason,
        )

    return await _decided(request, live, case_id, kept, decide)


@router.post("/cases/{case_id}/review", name="backoffice_review")
async def review(request: Request, case_id: int, live: LiveAgent = Depends(require_agent)) -> Response:
    form = await request.form()
    try:
        action = ReviewAction(_text(form, "action"))
    except ValueError:
        raise ErrorPage(
            400, "bad_request", N_("Choose a decision"), N_("Go back to the case and choose a decision.")
        ) from None
    reason = _text(form, "reason")
    context = agent_context(request, live)
    decisions = backoffice(request).decisions
    kept = {"reason": reason, "action": action.value}
    return await _decided(
        request,
        live,
        case_id,
        kept,
        lambda: decisions.review_online(live.agent, case_id, action, context, reason=reason),
    )


@router.post("/cases/{case_id}/second-approval", name="backoffice_second_approval")
async def second_approval(request: Request, case_id: int, live: LiveAgent = Depends(require_agent)) -> Response:
    form = await request.form()
    confirm = _text(form, "action") == "confirm"
    reason = _text(form, "reason")
    context = agent_context(request, live)
    decisions = backoffice(request).decisions

    def decide() -> DecisionResult:
        if confirm:
            return decisions.confirm_second_approval(live.agent, case_id, context)
        return decisions.refuse_second_approval(live.agent, case_id, reason, context)

    return await _decided(request, live, case_id, {"reason": reason}, decide)

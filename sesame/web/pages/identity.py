"""Pages: the digital identity enrolment ``/{tenant}/identity`` (seed 001) and the online path's
video page ``/{tenant}/identity/video`` (reached from the registered letter).

``/identity`` shows the prerequisites (to anyone: "Continue" leads to the login or the sign-up),
then, logged in, resumes the account's case: a flow is made for this browser from the case's
status and the browser goes to ``/identity/{flow_id}``, which renders the case's step
(``identity/{status}.html``). Forms (multipart: the document's images) go through the flow
runner; the case decides what a form may change. Routes only translate HTTP to the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sesame.bootstrap import Container
from sesame.domain.errors import FlowCsrfMismatch, FlowExpired, FlowNotFound, FlowStateError, TooManyAttempts
from sesame.domain.identity import (
    STAGES,
    CaseStatus,
    CodePurpose,
    ProgressStage,
    ProofingCase,
    ProofingError,
    VerificationMethod,
    stage_of,
)
from sesame.domain.phones import mask_mobile
from sesame.domain.tenants import Tenant
from sesame.flows.base import Flow, FlowRunner
from sesame.flows.proofing import steps
from sesame.flows.proofing.flow import PROOFING
from sesame.flows.proofing.forms import identity_values, nationality_choices, parse_date
from sesame.flows.proofing.states import ProofingContext
from sesame.services.proofing import TWO_SIDED, VIDEO_MAX_BYTES, ProofingService, StepRefused, Upload, end_of_day
from sesame.services.sessions import LiveSession
from sesame.web.csrf import FORM_FIELD, browser_token, csrf_protect
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_, gettext, request_locale
from sesame.web.middleware import CONTENT_SECURITY_POLICY, human_size
from sesame.web.session import LoginRequired, current_session, login_url, request_context, require_login
from sesame.web.templating import render

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

#: Form fields that belong to the page, not to the step.
_PAGE_FIELDS = frozenset({FORM_FIELD, "step"})
#: Files each form may carry, by field name.
_DOCUMENT_FILES = ("recto", "verso")
_VIDEO_FILES = ("photo_recto", "photo_verso", "video")
#: The video page previews the recording: a blob: URL the default policy would refuse.
VIDEO_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "img-src 'self' data:;", "img-src 'self' data: blob:; media-src 'self' blob:;"
)
_STAGE_LABELS = {
    ProgressStage.REQUEST: N_("Request"),
    ProgressStage.ACCOUNT: N_("Account"),
    ProgressStage.TERMS: N_("Terms"),
    ProgressStage.DOCUMENTS: N_("Identity document"),
    ProgressStage.VERIFICATION: N_("Verification"),
    ProgressStage.ACTIVATION: N_("Activation code"),
}


# -- services and guards ------------------------------------------------------------------------------


def proofing(container: Container) -> ProofingService:
    return container.proofing


def start_url(tenant: Tenant) -> str:
    return f"/{tenant.slug}/identity"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def identity_offered(tenant: Tenant = Depends(get_tenant)) -> Tenant:
    """The wizard exists only where the tenant offers a digital identity."""
    if not tenant.policy.identity.enabled:
        raise ErrorPage(
            404,
            "not_offered",
            N_("This is not possible with this service"),
            N_("This service does not offer a digital identity."),
        )
    return tenant


async def person(request: Request, tenant: Tenant = Depends(identity_offered)) -> LiveSession:
    """The logged-in person: pages send others to the login; forms come back to the wizard."""
    if request.method in {"GET", "HEAD"}:
        return await require_login(request, tenant)
    live = await current_session(request, tenant)
    if live is None:
        raise LoginRequired(tenant, start_url(tenant))
    return live


def progress(stage: ProgressStage) -> list[dict[str, str]]:
    """The six stages of seed 001's progress bar: done, current, or to come."""
    current = STAGES.index(stage)
    return [
        {
            "key": item.value,
            "label": gettext(_STAGE_LABELS[item]),
            "state": "done" if index < current else "current" if index == current else "todo",
        }
        for index, item in enumerate(STAGES)
    ]


# -- the start: prerequisites, then resume the case ---------------------------------------------------------


@router.get("/{tenant}/identity", response_class=HTMLResponse, name="identity")
async def identity_home(request: Request, tenant: Tenant = Depends(identity_offered)) -> Response:
    """Seed 001 steps 1-2: the prerequisites; logged in, the case is resumed where it stands."""
    live = await current_session(request, tenant)
    if live is None:
        return render(
            request,
            "identity/prerequisites.html",
            {
                "progress": progress(ProgressStage.REQUEST),
                "login_url": login_url(tenant, start_url(tenant)),
                "register_url": f"/{tenant.slug}/register",
                "logged_in": False,
                "last_closed": None,
            },
        )
    container = get_container(request)
    overview = await run_in_threadpool(proofing(container).overview, tenant, live.account.id)
    if overview.identity is not None:
        return render(request, "identity/already.html", {"identity": overview.identity, "progress": None})
    if overview.case is not None:
        return await _resume(request, tenant, live, overview.case)
    return render(
        request,
        "identity/prerequisites.html",
        {
            "progress": progress(ProgressStage.ACCOUNT),
            "logged_in": True,
            "last_closed": overview.last_closed,
            "login_url": "",
            "register_url": "",
        },
    )


@router.post("/{tenant}/identity", name="identity_start")
async def identity_start(
    request: Request, tenant: Tenant = Depends(identity_offered), live: LiveSession = Depends(person)
) -> Response:
    """ "Continue": the account's case (a new one, or the open one), in a flow of this browser."""
    service = proofing(get_container(request))
    try:
        case = await run_in_threadpool(service.open_case, tenant, live.account, request_context(request, live))
    except ProofingError:
        return _redirect(start_url(tenant))  # already verified: /identity says so
    return await _resume(request, tenant, live, case)


async def _resume(request: Request, tenant: Tenant, live: LiveSession, case: ProofingCase) -> Response:
    runner = FlowRunner(get_container(request).uow, get_container(request).clock)
    context = ProofingContext(account_id=live.account.id, case_id=case.id)
    token = browser_token(request)
    flow = await run_in_threadpool(lambda: runner.start(PROOFING, tenant, token, context=context, state=case.status))
    return _redirect(f"{start_url(tenant)}/{flow.id}")


# -- the online path's video page (from the registered letter) --------------------------------------------------


@router.get("/{tenant}/identity/video", response_class=HTMLResponse, name="identity_video")
async def video_page(
    request: Request, tenant: Tenant = Depends(identity_offered), live: LiveSession = Depends(person)
) -> Response:
    return await _video(request, tenant, live)


@router.post("/{tenant}/identity/video/start", name="identity_video_start")
async def video_start(
    request: Request, tenant: Tenant = Depends(identity_offered), live: LiveSession = Depends(person)
) -> Response:
    """ "Start": three fresh digits to read in the video."""
    service = proofing(get_container(request))
    try:
        await run_in_threadpool(service.start_video, tenant, live.account.id, request_context(request, live))
    except ProofingError as error:
        return await _video(request, tenant, live, errors={"form": error.code})
    return _redirect(f"{start_url(tenant)}/video")


@router.post("/{tenant}/identity/video", name="identity_video_submit")
async def video_submit(
    request: Request, tenant: Tenant = Depends(identity_offered), live: LiveSession = Depends(person)
) -> Response:
    """The photo of the document and the video (recorded in the browser, or a file)."""
    container = get_container(request)
    service = proofing(container)
    limits = {
        "photo_recto": tenant.policy.identity.document_max_bytes,
        "photo_verso": tenant.policy.identity.document_max_bytes,
        "video": min(VIDEO_MAX_BYTES, container.settings.max_upload_bytes),
    }
    uploads = await _uploads(request, limits)
    try:
        prepared = await run_in_threadpool(
            service.prepare_video,
            tenant,
            uploads.get("photo_recto"),
            uploads.get("photo_verso"),
            uploads.get("video"),
            limits["video"],
        )
        await run_in_threadpool(service.submit_video, tenant, live.account, prepared, request_context(request, live))
    except StepRefused as refused:
        return await _video(request, tenant, live, errors={**refused.errors, **refused.params})
    except ProofingError as error:
        return await _video(request, tenant, live, errors={"form": error.code})
    return _redirect(start_url(tenant))


async def _video(
    request: Request, tenant: Tenant, live: LiveSession, *, errors: Mapping[str, str] | None = None
) -> Response:
    container = get_container(request)
    try:
        page = await run_in_threadpool(proofing(container).video_page, tenant, live.account.id)
    except ProofingError:
        return _redirect(start_url(tenant))  # no online case: the wizard says where things stand
    response = render(
        request,
        "identity/video.html",
        {
            "case": page.case,
            "letter_opened": page.letter_opened,
            "blocked_until": page.blocked_until,
            "letter_url": f"/{tenant.slug}/letters/{page.case.letter_ref}" if page.case.letter_ref else "",
            "errors": dict(errors or {}),
            "progress": progress(ProgressStage.VERIFICATION),
            "max_size": human_size(tenant.policy.identity.document_max_bytes),
            "video_max_size": human_size(min(VIDEO_MAX_BYTES, container.settings.max_upload_bytes)),
            "two_sided": page.case.document_kind in TWO_SIDED,
            "wizard_url": start_url(tenant),
        },
        status_code=400 if errors else 200,
    )
    response.headers["content-security-policy"] = VIDEO_CONTENT_SECURITY_POLICY
    return response


# -- the wizard's steps -----------------------------------------------------------------------------------


@router.get("/{tenant}/identity/{flow_id}", response_class=HTMLResponse, name="identity_step")
async def wizard_page(
    flow_id: str, request: Request, tenant: Tenant = Depends(identity_offered), live: LiveSession = Depends(person)
) -> Response:
    container = get_container(request)
    runner = FlowRunner(container.uow, container.clock)
    try:
        flow = await run_in_threadpool(runner.load, PROOFING, tenant, flow_id)
        case = await _case_of(request, tenant, live, flow)
    except (FlowNotFound, FlowExpired, TooManyAttempts, ProofingError):
        return _redirect(start_url(tenant))  # the case is what lasts: a fresh flow resumes it
    if case.status is not flow.state:
        return _redirect(start_url(tenant))  # moved on elsewhere (another device, an agent)
    return _step_page(request, tenant, flow, case)


@router.post("/{tenant}/identity/{flow_id}", name="identity_step_submit")
async def wizard_submit(
    flow_id: str, request: Request, tenant: Tenant = Depends(identity_offered), live: LiveSession = Depends(person)
) -> Response:
    container = get_container(request)
    form = await request.form()
    data = {key: value for key, value in form.items() if isinstance(value, str) and key not in _PAGE_FIELDS}
    limit = tenant.policy.identity.document_max_bytes
    uploads = await _uploads(request, dict.fromkeys(_DOCUMENT_FILES, limit))
    expected = form.get("step")
    runner = FlowRunner(container.uow, container.clock)
    extras = {
        steps.LIVE: live,
        steps.CONTEXT: request_context(request, live),
        steps.SERVICE: proofing(container),
        steps.PLACES: container.referentials,
        steps.UPLOADS: uploads,
    }
    try:
        result = await run_in_threadpool(
            lambda: runner.submit(
                PROOFING,
                tenant,
                flow_id,
                browser_token(request),
                data,
                expected_state=expected if isinstance(expected, str) else None,
                extras=extras,
            )
        )
    except (FlowNotFound, FlowExpired, TooManyAttempts, FlowCsrfMismatch, FlowStateError):
        return _redirect(start_url(tenant))
    if not result.ok:
        try:
            case = await _case_of(request, tenant, live, result.flow)
        except ProofingError:
            return _redirect(start_url(tenant))
        return _step_page(request, tenant, result.flow, case, errors=result.errors, values=data)
    return _redirect(f"{start_url(tenant)}/{flow_id}")


async def _case_of(request: Request, tenant: Tenant, live: LiveSession, flow: Flow[Any, Any]) -> ProofingCase:
    if flow.context.account_id != live.account.id:
        raise FlowNotFound("the flow belongs to another account")
    service = proofing(get_container(request))
    return await run_in_threadpool(service.case_of, tenant, live.account.id, flow.context.case_id)


async def _uploads(request: Request, limits: Mapping[str, int]) -> dict[str, Upload]:
    """The form's files, each read up to one byte past its limit (so "too large" is known)."""
    form = await request.form()
    uploads: dict[str, Upload] = {}
    for name, limit in limits.items():
        item = form.get(name)
        if isinstance(item, UploadFile):
            data = await item.read(limit + 1)
            if data:
                uploads[name] = Upload(item.filename or "", item.content_type or "", data)
    return uploads


def _step_page(
    request: Request,
    tenant: Tenant,
    flow: Flow[Any, Any],
    case: ProofingCase,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> Response:
    container = get_container(request)
    context = {
        "flow": flow,
        "case": case,
        "flow_url": f"{start_url(tenant)}/{flow.id}",
        "start_url": start_url(tenant),
        "errors": dict(errors or {}),
        "values": dict(values or {}),
        "progress": progress(stage_of(case.status)),
        "policy": tenant.policy.identity,
        **_step_details(container, tenant, case, errors or {}, values, request_locale(request)),
    }
    return render(request, f"identity/{case.status.value}.html", context, status_code=400 if errors else 200)


def _step_details(
    container: Container,
    tenant: Tenant,
    case: ProofingCase,
    errors: Mapping[str, str],
    values: Mapping[str, str] | None,
    locale: str,
) -> dict[str, Any]:
    """What one step's page shows besides the form (the countdown, the methods, the places)."""
    service, policy, places = proofing(container), tenant.policy.identity, container.referentials
    now = container.clock.now()
    details: dict[str, Any] = {"now": now}
    status = case.status
    if status is CaseStatus.DOCUMENT:
        details["max_size"] = human_size(policy.document_max_bytes)
        details["kinds"] = [kind.value for kind in policy.accepted_documents]
    elif status is CaseStatus.IDENTITY:
        if not values and case.identity is not None:
            details["values"] = identity_values(case.identity, places)
        details["nationalities"] = nationality_choices(locale)
        if values:
            details["values"] = _iso_dates(values)
        choices = [code for code in errors.get("birth_town_choices", "").split(",") if code]
        details["town_choices"] = [(town.code, town.label) for town in map(places.town, choices) if town]
    elif status is CaseStatus.REVIEW and case.identity is not None:
        country = places.country(case.identity.birth_country)
        town = places.town(case.identity.birth_town) if case.identity.birth_town else None
        nations = dict(nationality_choices(locale))
        details["birth_country"] = country.name if country else case.identity.birth_country
        details["birth_town"] = town.label if town else ""
        details["nationality"] = nations.get(case.identity.nationality, case.identity.nationality)
    elif status is CaseStatus.MOBILE_CODE:
        details["mobile_masked"] = mask_mobile(case.mobile or "")
        details["resend_wait"] = service.resend_wait(case, CodePurpose.MOBILE, policy)
        details["code_minutes"] = policy.sms_code_ttl_seconds // 60
    elif status is CaseStatus.METHOD:
        details["methods"] = [method.value for method in case.methods_offered(policy)]
    elif status is CaseStatus.IN_PERSON:
        details["mobile_masked"] = mask_mobile(case.mobile or "")
        details["resend_wait"] = service.resend_wait(case, CodePurpose.IN_PERSON, policy)
        details["code_until"] = _day_code_until(case, now)
    elif status in (CaseStatus.ONLINE_LETTER, CaseStatus.ONLINE_REVIEW):
        details["letter_url"] = f"/{tenant.slug}/letters/{case.letter_ref}" if case.letter_ref else ""
        details["video_url"] = f"{start_url(tenant)}/video"
        details["blocked_until"] = None if case.video_allowed(now) else case.video_blocked_until
        details["review_due"] = case.review_due_at(policy)
    elif status is CaseStatus.ACTIVATION:
        details["activation_open"] = case.activation_open(policy, now)
        details["tries_left"] = max(0, policy.activation_max_tries - case.activation_tries)
        details["online"] = case.method is VerificationMethod.ONLINE
    return details


def _iso_dates(values: Mapping[str, str]) -> dict[str, str]:
    """Typed values as the form shows them again: dates in ISO form (what a date input reads)."""
    shown = dict(values)
    for name in ("birth_date", "document_expiry"):
        parsed = parse_date(shown.get(name, ""))
        if parsed is not None:
            shown[name] = parsed.isoformat()
    return shown


def _day_code_until(case: ProofingCase, now: datetime) -> datetime | None:
    """When today's code stops working (None: it has, or was used)."""
    code = case.codes.get(CodePurpose.IN_PERSON.value)
    if code is None or code.used_at is not None or code.expires_at <= now:
        return None
    return min(code.expires_at, end_of_day(now))

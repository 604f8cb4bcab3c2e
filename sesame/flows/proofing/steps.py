"""Steps of the identity enrolment flow: one per case status that takes input.

The page gives the steps, in ``env.extras``, the logged-in session (``live``), the request's
context (``context``), the service (``proofing``), the referential (``places``) and the uploaded
files (``uploads``: field -> ``Upload``). Each step reads its form, does the slow work (images,
OCR, SMS counters) before its first use of ``env.uow`` (ADR 0002), then calls the service, which
checks the case is at this step. The flow then goes wherever the case is: its next step, or the
step it had already reached elsewhere (another device, an agent's decision) with nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sesame.domain.errors import FlowNotFound
from sesame.domain.identity import CaseStatus, CodePurpose, ProofingCase, ProofingError, VerificationMethod
from sesame.domain.phones import PhoneNumberRejected, parse_french_mobile
from sesame.flows.base import Advance, Flow, Reject, StepEnv, StepResult
from sesame.flows.proofing.forms import FormRejected, Places, parse_address, parse_identity
from sesame.flows.proofing.states import ProofingContext, ProofingState
from sesame.services.context import RequestContext
from sesame.services.proofing import PARIS, CaseMoved, ProofingService, StepRefused, Upload
from sesame.services.proofing_codes import CodeCheck
from sesame.services.sessions import LiveSession

#: Keys of ``StepEnv.extras`` that the identity page fills.
LIVE = "live"
CONTEXT = "context"
SERVICE = "proofing"
PLACES = "places"
UPLOADS = "uploads"
#: The form's "what to do" field, and where "modify" goes.
ACTION = "action"
BACK_TO = "to"

ProofingFlow = Flow[ProofingState, ProofingContext]
Action = Callable[[ProofingService, LiveSession, RequestContext], ProofingCase | str | None]
#: A code's check: :data:`Action` with the code typed.
CodeAction = Callable[[ProofingService, LiveSession, RequestContext, str], ProofingCase | str | None]


# -- what the page gives ----------------------------------------------------------------------------


def logged_in(env: StepEnv, account_id: int) -> LiveSession:
    """The logged-in session, if it belongs to the account that owns the flow's case."""
    live = env.extras.get(LIVE)
    if not isinstance(live, LiveSession) or live.account.id != account_id or live.account.tenant_id != env.tenant.id:
        raise FlowNotFound("the flow belongs to another account than the logged-in one")
    return live


def _service(env: StepEnv) -> ProofingService:
    service = env.extras.get(SERVICE)
    if not isinstance(service, ProofingService):
        raise TypeError("the proofing flow needs extras['proofing']: ProofingService")
    return service


def _places(env: StepEnv) -> Places:
    places: Places = env.extras[PLACES]
    return places


def _context(env: StepEnv) -> RequestContext:
    context = env.extras.get(CONTEXT)
    return context if isinstance(context, RequestContext) else RequestContext()


def _upload(env: StepEnv, name: str) -> Upload | None:
    uploads = env.extras.get(UPLOADS) or {}
    upload = uploads.get(name)
    return upload if isinstance(upload, Upload) else None


def _refusal(error: ProofingError) -> Reject:
    if isinstance(error, StepRefused):
        return Reject({**error.errors, **error.params})
    return Reject({"form": error.code})


def _run(flow: ProofingFlow, env: StepEnv, action: Action, *, counts: bool = False) -> StepResult[ProofingState]:
    """Run ``action``; the flow follows the case. A one-time code's check returns a
    ``CodeCheck`` result: wrong, it is a refusal that still commits (the try is saved)."""
    live = logged_in(env, flow.context.account_id)
    service = _service(env)
    try:
        result = action(service, live, _context(env))
        if isinstance(result, str):  # a CodeCheck result
            if result != CodeCheck.OK:
                return Reject({"code": result}, counts=True)
            result = None
        case = result or service.load(env.uow, env.tenant, live.account.id, flow.context.case_id)
    except CaseMoved as moved:
        return Advance(moved.status)  # the form was for another step: nothing changed, show where it is
    except ProofingError as error:
        return _refusal(error)
    return Advance(case.status)


def _back(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState] | None:
    """The "Modify" buttons: back to an earlier wizard step (or None when not asked)."""
    if data.get(ACTION) != "back":
        return None
    try:
        target = CaseStatus(data.get(BACK_TO, ""))
    except ValueError:
        return Reject({"form": "wrong_step"})
    return _run(
        flow,
        env,
        lambda service, live, context: service.go_back(
            env.uow, env.tenant, live.account.id, flow.context.case_id, flow.state, target, context
        ),
    )


def _cancel(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState] | None:
    if data.get(ACTION) != "cancel":
        return None
    if data.get("confirm_cancel") != "yes":
        return Reject({"confirm_cancel": "required"})
    return _run(
        flow,
        env,
        lambda service, live, context: service.cancel(
            env.uow, env.tenant, live.account.id, flow.context.case_id, context
        ),
    )


# -- the wizard ----------------------------------------------------------------------------------------


def terms(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The digital identity's terms, accepted (the version is kept)."""
    if (cancelled := _cancel(flow, data, env)) is not None:
        return cancelled
    accepted = data.get("accept") == "yes"
    return _run(
        flow,
        env,
        lambda service, live, context: service.accept_terms(
            env.uow, env.tenant, live.account.id, flow.context.case_id, accepted, context
        ),
    )


def document(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The type of document, its recto and verso: re-encoded here, before the transaction."""
    if (cancelled := _cancel(flow, data, env)) is not None:
        return cancelled
    logged_in(env, flow.context.account_id)
    try:
        prepared = _service(env).prepare_document(
            env.tenant, data.get("kind", ""), _upload(env, "recto"), _upload(env, "verso")
        )
    except ProofingError as error:
        return _refusal(error)
    return _run(
        flow,
        env,
        lambda service, live, context: service.attach_document(
            env.uow, env.tenant, live.account.id, flow.context.case_id, prepared, context
        ),
    )


def identity(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The identity form; the document's machine-readable zone is read (OCR) and compared."""
    if (back := _back(flow, data, env)) is not None:
        return back
    live = logged_in(env, flow.context.account_id)
    service = _service(env)
    try:
        person = parse_identity(data, _places(env), env.now.astimezone(PARIS).date())
    except FormRejected as error:
        return Reject(error.problems.as_errors())
    try:
        reading = service.read_mrz(env.tenant, live.account.id, flow.context.case_id)  # slow: before env.uow
    except ProofingError as error:
        return _refusal(error)

    def fill(service: ProofingService, live: LiveSession, context: RequestContext) -> None:
        # The problems are on the case: refused (under age, type), or only in person (expired).
        service.fill_identity(env.uow, env.tenant, live.account.id, flow.context.case_id, person, reading, context)

    return _run(flow, env, fill)


def review(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """ "My information is correct", or "Modify"."""
    if (back := _back(flow, data, env)) is not None:
        return back
    return _run(
        flow,
        env,
        lambda service, live, context: service.confirm_identity(
            env.uow, env.tenant, live.account.id, flow.context.case_id, context
        ),
    )


def _sms_allowed(flow: ProofingFlow, env: StepEnv, wait: int) -> Reject | None:
    """Before any transaction: the resend delay, then the day's SMS count (a counter of its own)."""
    if wait > 0:
        return Reject({"resend": "wait", "seconds": str(wait)})
    try:
        _service(env).count_sms(flow.context.account_id)
    except ProofingError as error:
        return _refusal(error)
    return None


def _wait(flow: ProofingFlow, env: StepEnv, purpose: CodePurpose) -> int:
    """Seconds before a code may be sent again (read in a transaction of its own, before env.uow)."""
    service = _service(env)
    try:
        case = service.case_of(env.tenant, flow.context.account_id, flow.context.case_id)
    except ProofingError:
        return 0  # the step itself will say what is wrong
    return service.resend_wait(case, purpose, env.tenant.policy.identity)


def mobile(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The French mobile number; a 6-digit code is sent to it."""
    if (back := _back(flow, data, env)) is not None:
        return back
    logged_in(env, flow.context.account_id)
    try:
        number = parse_french_mobile(data.get("mobile", ""))
    except PhoneNumberRejected as error:
        return Reject({"mobile": error.reason.value})
    if (refused := _sms_allowed(flow, env, _wait(flow, env, CodePurpose.MOBILE))) is not None:
        return refused
    return _run(
        flow,
        env,
        lambda service, live, context: service.set_mobile(
            env.uow, env.tenant, live.account, flow.context.case_id, number.e164, context
        ),
    )


def mobile_code(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The SMS code; or "send it again" (after the delay); or "change the number"."""
    if (back := _back(flow, data, env)) is not None:
        return back
    return _code_or_a_new_one(
        flow,
        data,
        env,
        action="resend",
        wait=lambda: _wait(flow, env, CodePurpose.MOBILE),
        send=lambda service, live, context: service.resend_mobile_code(
            env.uow, env.tenant, live.account, flow.context.case_id, context
        ),
        check=lambda service, live, context, code: service.verify_mobile(
            env.uow, env.tenant, live.account.id, flow.context.case_id, code, context
        ),
    )


def _code_or_a_new_one(
    flow: ProofingFlow,
    data: Mapping[str, str],
    env: StepEnv,
    *,
    action: str,
    wait: Callable[[], int],
    send: Action,
    check: CodeAction,
) -> StepResult[ProofingState]:
    """A step that takes a one-time code (``check``), or on ``action`` sends a new one
    (``send``, once ``wait()`` seconds have passed and the day's SMS allow it)."""
    logged_in(env, flow.context.account_id)
    if data.get(ACTION) == action:
        if (refused := _sms_allowed(flow, env, wait())) is not None:
            return refused
        return _run(flow, env, send)
    code = "".join(data.get("code", "").split())
    if not code:
        return Reject({"code": "required"})
    return _run(flow, env, lambda service, live, context: check(service, live, context, code[:20]))


def address(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The home address in France (postcode and town agree)."""
    if (back := _back(flow, data, env)) is not None:
        return back
    logged_in(env, flow.context.account_id)
    try:
        home = parse_address(data, _places(env))
    except FormRejected as error:
        return Reject(error.problems.as_errors())
    return _run(
        flow,
        env,
        lambda service, live, context: service.set_address(
            env.uow, env.tenant, live.account.id, flow.context.case_id, home, context
        ),
    )


def method(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """Postman, post office (the code of the day by SMS) or 100 % online (the registered letter)."""
    if (back := _back(flow, data, env)) is not None:
        return back
    if (cancelled := _cancel(flow, data, env)) is not None:
        return cancelled
    logged_in(env, flow.context.account_id)
    chosen = data.get("method", "")
    in_person = chosen in (VerificationMethod.POSTMAN.value, VerificationMethod.POST_OFFICE.value)
    if in_person and (refused := _sms_allowed(flow, env, 0)) is not None:
        return refused
    online_terms = data.get("online_terms") == "yes"
    return _run(
        flow,
        env,
        lambda service, live, context: service.choose_method(
            env.uow, env.tenant, live.account, flow.context.case_id, chosen, online_terms, context
        ),
    )


# -- the waits and the activation ------------------------------------------------------------------------


def in_person(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """Waiting for the postman or the clerk: "send me today's code again", or cancel."""
    if (cancelled := _cancel(flow, data, env)) is not None:
        return cancelled
    logged_in(env, flow.context.account_id)
    if data.get(ACTION) != "resend":
        return _run(flow, env, lambda service, live, context: None)
    if (refused := _sms_allowed(flow, env, _wait(flow, env, CodePurpose.IN_PERSON))) is not None:
        return refused
    return _run(
        flow,
        env,
        lambda service, live, context: service.resend_day_code(
            env.uow, env.tenant, live.account, flow.context.case_id, context
        ),
    )


def waiting(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The online path's waits (the letter, the review): cancel, or just look again."""
    if (cancelled := _cancel(flow, data, env)) is not None:
        return cancelled
    return _run(flow, env, lambda service, live, context: None)


def activation(flow: ProofingFlow, data: Mapping[str, str], env: StepEnv) -> StepResult[ProofingState]:
    """The activation code; or a new one once the first has expired."""
    return _code_or_a_new_one(
        flow,
        data,
        env,
        action="renew",
        wait=lambda: 0,
        send=lambda service, live, context: service.new_activation_code(
            env.uow, env.tenant, live.account, flow.context.case_id, context
        ),
        check=lambda service, live, context, code: service.activate(
            env.uow, env.tenant, live.account.id, flow.context.case_id, code, context
        ),
    )

"""Admin JSON API: the bank enrols a customer (``POST /api/{tenant}/customers``).

Authenticated with an admin API key of the tenant (``Authorization: Bearer sk_...``, made by
``sesame banque api-key create``). The answer gives the new customer number, never the code:
the code goes by post, a day after the number (seed 002). Bad requests get a clear 4xx and
create nothing: no or wrong key (401), unknown tenant or one without customer numbers (404),
not JSON (415), too large (413), malformed JSON (400), missing or invalid fields (422).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sesame.domain.customers import ADDRESS_LINE_MAX, ADDRESS_LINES_MAX
from sesame.domain.errors import InvalidInput
from sesame.domain.tenants import IdentifierKind, Tenant
from sesame.services.api_keys import ApiKeys
from sesame.services.banque import CUSTOMER_NUMBER_LETTER, FIRST_CODE_LETTER, NewCustomer
from sesame.web.deps import get_container, get_tenant
from sesame.web.errors import ErrorPage
from sesame.web.i18n import N_, gettext
from sesame.web.pages.banque import bank_customers
from sesame.web.session import request_context

router = APIRouter(tags=["customers"])
log = structlog.get_logger("sesame.web.api.customers")

#: A customer is a few hundred bytes; anything much larger is not one.
BODY_MAX_BYTES = 16 * 1024
bearer = HTTPBearer(auto_error=False, description="An admin API key of the tenant: `sesame banque api-key create`.")


class CustomerIn(BaseModel):
    """A customer to enrol: their names, the postal address for the letters, the birth date if known."""

    model_config = ConfigDict(extra="forbid")

    given_name: str = Field(min_length=1, max_length=100, examples=["Marie"])
    family_name: str = Field(min_length=1, max_length=100, examples=["Dupont"])
    address: list[str] = Field(
        min_length=1,
        max_length=ADDRESS_LINES_MAX,
        description=f"The postal address without the name, one line each (at most {ADDRESS_LINE_MAX} characters).",
        examples=[["12 rue des Lilas", "75011 Paris"]],
    )
    birth_date: date | None = Field(default=None, description="Known birth date: a chosen code may not be it.")
    locale: str = Field(default="fr", description="Language of the letters (one of the tenant's languages).")


class LetterOut(BaseModel):
    id: int
    template: str
    not_before: datetime | None


class CustomerOut(BaseModel):
    """The enrolled customer: the number to tell them about, never the code (their letter has it)."""

    account_id: int
    customer_number: str
    letters: list[LetterOut]


class ApiErrorOut(BaseModel):
    error: str
    message: str
    correlation_id: str
    details: list[dict[str, Any]] | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiErrorOut, "description": description}
    for status, description in (
        (400, "The body is not valid JSON."),
        (401, "No API key, or not a valid key of this tenant."),
        (404, "No such tenant, or the tenant does not enrol customers."),
        (413, "The body is too large."),
        (415, "The body is not application/json."),
        (422, "A field is missing or invalid (see details)."),
    )
}


def _unauthorized() -> ErrorPage:
    return ErrorPage(
        401,
        "invalid_api_key",
        N_("Please log in"),
        N_("This request needs a valid admin API key of this service."),
        headers={"WWW-Authenticate": 'Bearer realm="sesame"'},
    )


def _invalid(request: Request, details: list[dict[str, Any]]) -> JSONResponse:
    """422 with what is wrong per field (never the values sent)."""
    body = ApiErrorOut(
        error="invalid_input",
        message=gettext(N_("A field is missing or invalid: see the details.")),
        correlation_id=str(getattr(request.state, "correlation_id", "")),
        details=details,
    )
    return JSONResponse(body.model_dump(), status_code=422)


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ErrorPage(
            415, "unsupported_media_type", N_("Unsupported format"), N_("Send the customer as application/json.")
        )
    raw = await request.body()
    if len(raw) > BODY_MAX_BYTES:
        raise ErrorPage(413, "payload_too_large", N_("What you sent is too large"), N_("Send one customer at a time."))
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ErrorPage(
            400, "malformed_json", N_("The information sent could not be used"), N_("The body is not valid JSON.")
        ) from error


@router.post(
    "/api/{tenant}/customers",
    status_code=201,
    response_model=CustomerOut,
    summary="Enrol a customer: a customer number, a one-time code, two letters",
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CustomerIn.model_json_schema()}},
        }
    },
)
async def enrol_customer(
    request: Request,
    tenant: Tenant = Depends(get_tenant),
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
) -> Any:
    """Create the customer with a fresh customer number and a one-time code, and queue two letters:
    the number now, the code a day later. The code is never returned."""
    container = get_container(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized()
    api_keys = ApiKeys(container.uow, container.clock, container.keyed)
    key = await run_in_threadpool(api_keys.authenticate, tenant, credentials.credentials)
    if key is None:
        log.info("api.key_refused", tenant=tenant.slug)
        raise _unauthorized()
    if tenant.policy.identifier is not IdentifierKind.CUSTOMER_NUMBER:
        raise ErrorPage(
            404,
            "not_offered",
            N_("This is not possible with this service"),
            N_("This service does not enrol customers."),
        )
    payload = await _json_body(request)
    try:
        customer = CustomerIn.model_validate(payload)
    except ValidationError as error:
        return _invalid(request, [{"loc": ["body", *e["loc"]], "type": e["type"]} for e in error.errors()])
    context = replace(request_context(request), actor=f"api_key:{key.key_id}")
    new = NewCustomer(
        given_name=customer.given_name,
        family_name=customer.family_name,
        address=customer.address,
        birth_date=customer.birth_date,
        locale=customer.locale,
    )
    try:
        enrolled = await run_in_threadpool(bank_customers(container).enrol, tenant, new, context)
    except InvalidInput as error:
        problems = error.details.get("errors", {})
        fields = problems.items() if isinstance(problems, dict) else []
        return _invalid(request, [{"loc": ["body", field], "type": reason} for field, reason in fields])
    letters = [
        LetterOut(id=enrolled.letter_ids[0], template=CUSTOMER_NUMBER_LETTER, not_before=None),
        LetterOut(id=enrolled.letter_ids[1], template=FIRST_CODE_LETTER, not_before=enrolled.code_letter_not_before),
    ]
    out = CustomerOut(account_id=enrolled.account.id, customer_number=enrolled.customer_number, letters=letters)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)

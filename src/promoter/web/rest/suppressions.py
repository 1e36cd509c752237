"""REST API under /api/v2/: unsubscribed contacts (listed, and added by email address) and
bounced contacts with the delivery the mail server refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from promoter.contacts.service import StatusChangeRefused
from promoter.contacts.suppressions import (
    Bounced,
    Unsubscribed,
    list_bounced,
    list_unsubscribed,
    unsubscribe_email,
)
from promoter.domain.paging import Page
from promoter.services import Services
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import NON_FIELD, ApiBody, body_schema, invalid, parse, raw_body
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(prefix="/api/v2", tags=["unsubscribes and bounces"])

Email = Annotated[
    str | None, Query(max_length=320, description="Only this address (ignoring case).")
]


class UnsubscribeBody(ApiBody):
    email: str = Field(min_length=1, max_length=320)


def _contact_href(services: Services, contact_id: int) -> str:
    return f"{services.settings.public_url}{router.prefix}/contacts/{contact_id}/"


def unsubscribed_json(services: Services, u: Unsubscribed) -> dict[str, Any]:
    return {
        "contact": u.contact_id,
        "contact_href": _contact_href(services, u.contact_id),
        "email": u.email,
        "user_id": u.user_id,
        "date": u.date,
    }


def bounced_json(services: Services, b: Bounced) -> dict[str, Any]:
    return {
        "contact": b.contact_id,
        "contact_href": _contact_href(services, b.contact_id),
        "email": b.email,
        "user_id": b.user_id,
        "campaign": b.campaign_id,
        "campaign_name": b.campaign_name,
        "survey": b.survey_id,
        "kind": b.kind,
        "date": b.date,
        "error": b.error,
    }


def _no_nul(email: str | None) -> None:
    if email is not None and "\x00" in email:
        raise invalid({"email": ["Null characters are not allowed."]})


@router.get(
    "/unsubscribes/",
    summary="Unsubscribed contacts, the latest first",
    responses=schemas.success(schemas.UnsubscribedPage),
)
async def unsubscribes_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    email: Email = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """`date` is the contact's last change (unsubscribing is the last its status sees)."""
    _no_nul(email)
    paging = Page(page, page_size)
    total, found = await read(
        services, list_unsubscribed, organization_id=org.id, page=paging, email=email
    )
    results = [unsubscribed_json(services, u) for u in found]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/unsubscribes/",
    summary="Unsubscribe the contacts with an email address",
    status_code=201,
    openapi_extra=body_schema(UnsubscribeBody),
    responses={
        201: {"description": "A contact was unsubscribed", "model": schemas.Unsubscribe},
        200: {
            "description": "Every contact was unsubscribed already",
            "model": schemas.Unsubscribe,
        },
    },
)
async def unsubscribes_create(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """201 when a contact was unsubscribed, 200 when all were already; pending surveys
    and reminders are cancelled. Unsubscribing is permanent."""
    email = parse(UnsubscribeBody, await raw_body(request)).email.strip()
    now = datetime.now(UTC)
    try:
        ids, changed = await write(
            services, unsubscribe_email, organization_id=org.id, email=email, now=now
        )
    except StatusChangeRefused as exc:
        raise invalid({NON_FIELD: [str(exc)]}) from None
    if not ids:
        raise invalid({"email": ["No contact has this email address."]})
    answer = {"email": email, "contacts": ids, "date": now}
    return JSONResponse(answer, status_code=201 if changed else 200)


@router.get(
    "/bounces/",
    summary="Bounced contacts, the latest first",
    responses=schemas.success(schemas.BouncedPage),
)
async def bounces_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    email: Email = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """Each with the delivery the mail server refused (`campaign`, `survey`, `kind`:
    survey, reminder or reply, `error`, `date`: when it was due), or nulls and the
    contact's last change when it was marked bounced otherwise."""
    _no_nul(email)
    paging = Page(page, page_size)
    total, found = await read(
        services, list_bounced, organization_id=org.id, page=paging, email=email
    )
    results = [bounced_json(services, b) for b in found]
    return JSONResponse(paginated(request, services, total, paging, results))

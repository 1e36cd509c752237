"""The read API under /api/v2/: contacts with attributes, lists, events and orders."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from promoter.contacts.service import (
    Contact,
    ContactFilter,
    Page,
    contact_events,
    contact_orders,
    get_contact,
    list_contacts,
)
from promoter.orgs.service import Organization
from promoter.web.credentials import key_from_authorization
from promoter.web.responses import JSONResponse
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["api"])

_ATTRIBUTE_PARAM = re.compile(r"^attributes\[(.+)\]$")
T = TypeVar("T")


def organization_from_token(request: Request, services: ServicesDep) -> Organization:
    key = key_from_authorization(request.headers.get("authorization"))
    org = services.keys.organization(key) if key else None
    if org is None:
        raise HTTPException(
            401,
            "Invalid token.",
            headers={"WWW-Authenticate": "Token"},
        )
    return org


OrgDep = Annotated[Organization, Depends(organization_from_token)]
MAX_ID = 2**63 - 1
PageNumber = Annotated[int, Query(ge=1, le=10**9, description="1-based page number")]
ContactId = Annotated[int, Path(ge=1, le=MAX_ID, description="contact id")]
PageSize = Annotated[int, Query(ge=1, le=500, description="results per page")]


def paginated(
    request: Request, services: ServicesDep, total: int, page: Page, results: list[Any]
) -> dict[str, Any]:
    """Promoter's page shape; links use PROMOTER_BASE_URL, never the request's Host."""

    def link(number: int) -> str:
        query = request.url.include_query_params(page=number).query
        return f"{services.settings.public_url}{request.url.path}?{query}"

    last = max(1, -(-total // page.size))
    return {
        "count": total,
        "next": link(page.number + 1) if page.number < last else None,
        "previous": link(page.number - 1) if page.number > 1 else None,
        "results": results,
    }


def _contact_json(services: ServicesDep, contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "href": f"{services.settings.public_url}{router.prefix}/contacts/{contact.id}/",
        "user_id": contact.user_id,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "timezone": contact.timezone,
        "status": contact.status,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "attributes": contact.attributes,
        "contact_lists": contact.lists,
    }


async def read(services: ServicesDep, fn: Callable[..., T], **kwargs: Any) -> T:
    def run() -> T:
        with services.database.read() as conn:
            return fn(conn, **kwargs)

    return await run_in_threadpool(run)


@router.get("/contacts/", summary="List contacts")
async def contacts_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    email: str | None = None,
    user_id: str | None = None,
    contact_list: Annotated[int | None, Query(alias="contact_list__id", ge=1, le=2**31 - 1)] = None,
    status: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """Filter by `email`, `user_id`, `contact_list__id`, `status`, and
    `attributes[NAME]=VALUE` (repeatable, all must match)."""
    attributes = tuple(
        (m.group(1), value)
        for name, value in request.query_params.multi_items()
        if (m := _ATTRIBUTE_PARAM.match(name))
    )
    flt = ContactFilter(
        email=email, user_id=user_id, list_id=contact_list, status=status, attributes=attributes
    )
    paging = Page(page, page_size)
    total, found = await read(services, list_contacts, organization_id=org.id, flt=flt, page=paging)
    results = [_contact_json(services, c) for c in found]
    return JSONResponse(paginated(request, services, total, paging, results))


async def _contact_or_404(services: ServicesDep, org: Organization, contact_id: int) -> Contact:
    contact = await read(services, get_contact, organization_id=org.id, contact_id=contact_id)
    if contact is None:
        raise HTTPException(404, "Not found.")
    return contact


@router.get("/contacts/{contact_id}/", summary="Retrieve a contact")
async def contacts_retrieve(
    request: Request, services: ServicesDep, org: OrgDep, contact_id: ContactId
) -> JSONResponse:
    contact = await _contact_or_404(services, org, contact_id)
    return JSONResponse(_contact_json(services, contact))


@router.get("/contacts/{contact_id}/events/", summary="A contact's events, newest first")
async def contacts_events(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    contact_id: ContactId,
    event: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    await _contact_or_404(services, org, contact_id)
    paging = Page(page, page_size)
    total, rows = await read(
        services,
        contact_events,
        organization_id=org.id,
        contact_id=contact_id,
        page=paging,
        name=event,
    )
    return JSONResponse(paginated(request, services, total, paging, rows))


@router.get("/contacts/{contact_id}/orders/", summary="A contact's orders, newest first")
async def contacts_orders(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    contact_id: ContactId,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    await _contact_or_404(services, org, contact_id)
    paging = Page(page, page_size)
    total, rows = await read(
        services, contact_orders, organization_id=org.id, contact_id=contact_id, page=paging
    )
    return JSONResponse(paginated(request, services, total, paging, rows))

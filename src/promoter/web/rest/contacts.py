"""Contacts under /api/v2/contacts/ (read, created or updated by email, changed,
unsubscribed, erased) with their attributes, lists, events and orders."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BeforeValidator, EmailStr, Field, field_validator
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.filters import MAX_CONDITIONS
from promoter.campaigns.service import NotFound as CampaignNotFound
from promoter.campaigns.service import get_campaign
from promoter.contacts.service import (
    Contact,
    ContactFilter,
    ContactNotFound,
    StatusChangeRefused,
    change_status,
    contact_events,
    contact_orders,
    get_contact,
    list_contacts,
)
from promoter.contacts.suppressions import unsubscribe_email
from promoter.contacts.writes import (
    EmailTaken,
    TooManyAttributes,
    UnknownLists,
    erase,
    typed_attributes,
    update_contact,
    upsert_contact,
)
from promoter.domain.ids import MAX_BIGINT_ID, MAX_INT_ID
from promoter.domain.paging import Page
from promoter.orgs.service import Organization
from promoter.surveys.manual import MAX_CAMPAIGN_ID, ManualOutcome, send_survey
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import (
    ApiBody,
    body_schema,
    invalid,
    not_found,
    parse,
    raw_body,
    require,
)
from promoter.web.rest.deps import ContactId, OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(prefix="/api/v2", tags=["api"])

_ATTRIBUTE_PARAM = re.compile(r"^attributes\[(.+)\]$")


def contact_json(services: ServicesDep, contact: Contact) -> dict[str, Any]:
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


def _text_params(**values: str | None) -> None:
    """Query texts are compared with stored text: a NUL character can match nothing."""
    bad = {
        name: ["Null characters are not allowed."]
        for name, v in values.items()
        if v and "\x00" in v
    }
    if bad:
        raise invalid(bad)


QueryText = Annotated[str | None, Query(max_length=320)]
#: ``attributes[NAME]=VALUE`` filters a request may carry, as many as the analytics
#: filter language's conditions.
MAX_ATTRIBUTE_FILTERS = MAX_CONDITIONS
Status = Literal["active", "inactive", "unsubscribed", "bounced"]


@router.get("/contacts/", summary="List contacts", responses=schemas.success(schemas.ContactPage))
async def contacts_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    email: QueryText = None,
    user_id: QueryText = None,
    user_id_camel: Annotated[str | None, Query(alias="userId", max_length=320)] = None,
    contact_list: Annotated[
        int | None, Query(alias="contact_list__id", ge=1, le=MAX_INT_ID)
    ] = None,
    list_id: Annotated[int | None, Query(alias="list", ge=1, le=MAX_INT_ID)] = None,
    status: Status | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """Filter by `email`, `user_id` (or `userId`), `contact_list__id` (or `list`),
    `status`, and `attributes[NAME]=VALUE` (repeatable, all must match)."""
    _text_params(email=email, user_id=user_id, userId=user_id_camel)
    if user_id is not None and user_id_camel is not None and user_id != user_id_camel:
        raise invalid({"userId": ["Give user_id or userId, not both."]})
    if contact_list is not None and list_id is not None and contact_list != list_id:
        raise invalid({"list": ["Give list or contact_list__id, not both."]})
    attributes = tuple(
        (m.group(1), value)
        for name, value in request.query_params.multi_items()
        if (m := _ATTRIBUTE_PARAM.match(name))
    )
    if len(attributes) > MAX_ATTRIBUTE_FILTERS:
        message = f"At most {MAX_ATTRIBUTE_FILTERS} attribute filters, not {len(attributes)}."
        raise invalid({"attributes": [message]})
    _text_params(**{f"attributes[{n}]": n + v for n, v in attributes})
    too_long = [n for n, v in attributes if len(n) > 255 or len(v) > 10_000]
    if too_long:
        raise invalid({f"attributes[{n[:255]}]": ["Too long."] for n in too_long})
    flt = ContactFilter(
        email=email,
        user_id=user_id if user_id is not None else user_id_camel,
        list_id=contact_list if contact_list is not None else list_id,
        status=status,
        attributes=attributes,
    )
    paging = Page(page, page_size)
    total, found = await read(services, list_contacts, organization_id=org.id, flt=flt, page=paging)
    results = [contact_json(services, c) for c in found]
    return JSONResponse(paginated(request, services, total, paging, results))


async def _contact_or_404(services: ServicesDep, org: Organization, contact_id: int) -> Contact:
    contact = await read(services, get_contact, organization_id=org.id, contact_id=contact_id)
    if contact is None:
        raise HTTPException(404, "Not found.")
    return contact


@router.get(
    "/contacts/{contact_id}/",
    summary="Retrieve a contact",
    responses=schemas.success(schemas.Contact),
)
async def contacts_retrieve(
    request: Request, services: ServicesDep, org: OrgDep, contact_id: ContactId
) -> JSONResponse:
    contact = await _contact_or_404(services, org, contact_id)
    return JSONResponse(contact_json(services, contact))


@router.get(
    "/contacts/{contact_id}/events/",
    summary="A contact's events, newest first",
    responses=schemas.success(schemas.EventPage),
)
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


@router.get(
    "/contacts/{contact_id}/orders/",
    summary="A contact's orders, newest first",
    responses=schemas.success(schemas.OrderPage),
)
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


# Writing contacts -----------------------------------------------------------------------

#: Fields of a contact's answer a client may send back unchanged; they are ignored.
CONTACT_READ_ONLY = frozenset({"id", "href", "user_id", "timezone", "created_at", "updated_at"})
Id = Annotated[int, Field(ge=1, le=MAX_BIGINT_ID)]
Name = Annotated[str | None, Field(max_length=255)]


def _not_blank(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise ValueError("This field may not be blank.")
    return value


#: An email address (Django REST Framework's words for a blank one).
Email = Annotated[EmailStr, BeforeValidator(_not_blank)]


def _list_ref(value: object) -> object:
    """A list given by its id, or as contacts show it (``{"id": 1, "name": "..."}``)."""
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


ListRef = Annotated[int, BeforeValidator(_list_ref), Field(ge=1, le=MAX_BIGINT_ID)]
ListRefs = Annotated[list[ListRef] | None, Field(max_length=100)]


class ContactFields(ApiBody):
    """A contact's writable fields. ``contact_list`` (Promoter's name) or ``contact_lists``
    (the name contacts are shown with): lists the contact joins; it leaves none."""

    email: Email | None = None
    first_name: Name = None
    last_name: Name = None
    attributes: dict[str, Any] | None = None
    contact_list: ListRefs = None
    contact_lists: ListRefs = None

    @field_validator("attributes")
    @classmethod
    def _typed(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            typed_attributes(value)  # InvalidMessage is a ValueError: a field error
        return value


class ContactCreate(ContactFields):
    email: Email
    #: Survey the contact at once through ``campaign``.
    send: bool = False
    campaign: Id | None = None


class ContactChange(ContactFields):
    status: Literal["active", "inactive", "unsubscribed"] | None = None


class ContactRemove(ApiBody):
    email: str = Field(min_length=1, max_length=320)


def does_not_exist(pk: object) -> list[str]:
    """Django REST Framework's words for an id that names nothing."""
    return [f'Invalid pk "{pk}" - object does not exist.']


def _lists_of(body: ContactFields) -> tuple[str, list[int]]:
    """The name the client gave the lists under, and their ids."""
    given = body.model_fields_set
    if "contact_list" in given and "contact_lists" in given:
        raise invalid({"contact_list": ["Give contact_list or contact_lists, not both."]})
    if "contact_lists" in given:
        return "contact_lists", body.contact_lists or []
    return "contact_list", body.contact_list or []


def given_names(body: ApiBody) -> dict[str, str | None]:
    """The name fields given; a blank one clears the name."""
    return {
        name: (getattr(body, name) or "").strip() or None
        for name in ("first_name", "last_name")
        if name in body.model_fields_set
    }


def survey_json(outcome: ManualOutcome, campaign_id: int) -> dict[str, Any]:
    """A survey sent on request: scheduled, or ``not_sent`` with the reason."""
    if not outcome.scheduled:
        return {"status": "not_sent", "reason": outcome.reason}
    return {
        "id": outcome.survey_id,
        "campaign": campaign_id,
        "contact": outcome.contact_id,
        "status": "scheduled",
        "scheduled_at": outcome.scheduled_at,
    }


@router.post(
    "/contacts/",
    summary="Create a contact, or update the one with this email",
    openapi_extra=body_schema(ContactCreate),
    responses={
        201: {"description": "Created", "model": schemas.ContactWithSurvey},
        200: {"description": "Updated", "model": schemas.ContactWithSurvey},
    },
)
async def contacts_create(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """Upsert by `email` within the organization: 201 for a new contact, 200 for an
    existing one. With `send: true` and `campaign`, the contact joins the campaign's list
    and is surveyed if the rules allow it (`survey` in the answer says what happened)."""
    body = parse(ContactCreate, await raw_body(request), ignored=CONTACT_READ_ONLY)
    lists_field, list_ids = _lists_of(body)
    if body.send and body.campaign is None:
        raise invalid({"campaign": ["This field is required when send is true."]})
    attributes = typed_attributes(body.attributes or {})
    now = datetime.now(UTC)

    def save(conn: Connection) -> tuple[Contact, bool, ManualOutcome | None]:
        lists = set(list_ids)
        if body.send and body.campaign is not None:
            lists.add(campaign_list(conn, org.id, body.campaign, "campaign"))
        try:
            contact_id, created = upsert_contact(
                conn,
                organization_id=org.id,
                email=body.email,
                names=given_names(body),
                attributes=attributes,
                list_ids=lists,
                now=now,
                limits=services.attribute_limits,
            )
        except UnknownLists as exc:
            raise invalid({lists_field: does_not_exist(exc.ids[0])}) from None
        except TooManyAttributes as exc:
            raise invalid({"attributes": [str(exc)]}) from None
        outcome = None
        if body.send and body.campaign is not None:
            outcome = send_survey(
                conn,
                organization_id=org.id,
                campaign_id=body.campaign,
                contact_id=contact_id,
                attributes={},
                now=now,
            )
        contact = get_contact(conn, organization_id=org.id, contact_id=contact_id)
        assert contact is not None
        return contact, created, outcome

    contact, created, outcome = await write(services, save)
    answer = contact_json(services, contact)
    if outcome is not None and body.campaign is not None:
        answer["survey"] = survey_json(outcome, body.campaign)
    return JSONResponse(answer, status_code=201 if created else 200)


def campaign_list(conn: Connection, organization_id: int, campaign_id: int, field: str) -> int:
    """The campaign's list; an unknown campaign is a mistake in ``field``."""
    try:
        if campaign_id > MAX_CAMPAIGN_ID:
            raise CampaignNotFound(f"no campaign {campaign_id}")
        campaign = get_campaign(conn, organization_id=organization_id, campaign_id=campaign_id)
    except CampaignNotFound:
        raise invalid({field: does_not_exist(campaign_id)}) from None
    return campaign.contact_list_id


async def _change_contact(
    request: Request, services: ServicesDep, org: Organization, contact_id: int, *, partial: bool
) -> JSONResponse:
    body = parse(ContactChange, await raw_body(request), ignored=CONTACT_READ_ONLY)
    if not partial:
        require(body.model_fields_set, ("email",))
    if "email" in body.model_fields_set and body.email is None:
        raise invalid({"email": ["This field may not be null."]})
    lists_field, list_ids = _lists_of(body)
    attributes = typed_attributes(body.attributes) if body.attributes is not None else None
    fields: dict[str, str | None] = {**given_names(body)}
    if body.email is not None:
        fields["email"] = body.email
    now = datetime.now(UTC)

    def save(conn: Connection) -> Contact:
        try:
            update_contact(
                conn,
                organization_id=org.id,
                contact_id=contact_id,
                fields=fields,
                attributes=attributes,
                replace_attributes=not partial,
                list_ids=list_ids,
                now=now,
                limits=services.attribute_limits,
            )
            if body.status is not None:
                change_status(
                    conn, organization_id=org.id, contact_id=contact_id, status=body.status, now=now
                )
        except ContactNotFound:
            raise not_found() from None
        except UnknownLists as exc:
            raise invalid({lists_field: does_not_exist(exc.ids[0])}) from None
        except EmailTaken as exc:
            raise invalid({"email": [str(exc)]}) from None
        except TooManyAttributes as exc:
            raise invalid({"attributes": [str(exc)]}) from None
        except StatusChangeRefused as exc:
            raise invalid({"status": [str(exc)[:1].upper() + str(exc)[1:] + "."]}) from None
        contact = get_contact(conn, organization_id=org.id, contact_id=contact_id)
        assert contact is not None
        return contact

    return JSONResponse(contact_json(services, await write(services, save)))


@router.put(
    "/contacts/{contact_id}/",
    summary="Update a contact (attributes given replace all of its attributes)",
    openapi_extra=body_schema(ContactChange),
    responses=schemas.success(schemas.Contact),
)
async def contacts_replace(
    request: Request, services: ServicesDep, org: OrgDep, contact_id: ContactId
) -> JSONResponse:
    """`email` is required. Fields left out are kept; `attributes`, when given, become the
    contact's only attributes; lists given are joined. `status` goes from active to
    inactive or unsubscribed, or from inactive back to active."""
    return await _change_contact(request, services, org, contact_id, partial=False)


@router.patch(
    "/contacts/{contact_id}/",
    summary="Change some of a contact's fields (attributes are merged)",
    openapi_extra=body_schema(ContactChange),
    responses=schemas.success(schemas.Contact),
)
async def contacts_update(
    request: Request, services: ServicesDep, org: OrgDep, contact_id: ContactId
) -> JSONResponse:
    """Fields left out are kept; `attributes` are merged (`null` removes one)."""
    return await _change_contact(request, services, org, contact_id, partial=True)


@router.post(
    "/contacts/remove/",
    summary="Unsubscribe the contact with this email",
    openapi_extra=body_schema(ContactRemove),
    responses={200: {"model": schemas.Contact}, 404: {"description": "No contact has this email."}},
)
async def contacts_remove(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """Promoter's remove: the contact (every contact with the address) is unsubscribed for
    good and its scheduled surveys are cancelled. Answers the contact (the oldest one with
    the address); 404 when there is none."""
    body = parse(ContactRemove, await raw_body(request))
    now = datetime.now(UTC)

    def remove(conn: Connection) -> Contact | None:
        ids, _ = unsubscribe_email(conn, organization_id=org.id, email=body.email, now=now)
        return get_contact(conn, organization_id=org.id, contact_id=ids[0]) if ids else None

    contact = await write(services, remove)
    if contact is None:
        raise not_found()
    return JSONResponse(contact_json(services, contact))


@router.delete("/contacts/{contact_id}/", summary="Erase a contact", status_code=204)
async def contacts_erase(services: ServicesDep, org: OrgDep, contact_id: ContactId) -> Response:
    """Erase the contact and everything stored about it (attributes, list memberships,
    events, orders, surveys and answers), as Segment's `delete` does."""
    erased = await write(
        services, lambda conn: erase(conn, organization_id=org.id, contact_id=contact_id)
    )
    if not erased:
        raise not_found()
    return Response(status_code=204)

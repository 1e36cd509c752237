"""REST API under /api/v2/: contact lists and their members, and surveys sent on request
(to one contact, or to every member of a campaign's list)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.campaigns.service import NotFound as CampaignNotFound
from promoter.contacts.lists import (
    ContactList,
    ListInUse,
    ListNameTaken,
    ListNotFound,
    add_members,
    create_list,
    delete_list,
    get_list,
    list_lists,
    remove_member,
    rename_list,
)
from promoter.contacts.service import Contact, ContactFilter, get_contact, list_contacts
from promoter.contacts.writes import TooManyAttributes, typed_attributes, upsert_contact
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.paging import Page
from promoter.surveys.manual import (
    CampaignNotActive,
    ManualOutcome,
    send_survey,
    send_to_list,
    survey_attributes,
)
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import (
    ID_IN_PATH,
    NON_FIELD,
    ApiBody,
    body_schema,
    drf_message,
    invalid,
    json_object,
    not_found,
    object_id,
    parse,
    raw_body,
    require,
)
from promoter.web.rest.contacts import (
    Email,
    Id,
    Name,
    campaign_list,
    contact_json,
    does_not_exist,
    given_names,
    survey_json,
)
from promoter.web.rest.deps import ContactId, OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, read, write

router = APIRouter(prefix="/api/v2", tags=["lists"])

ListPath = Annotated[str, Path(description="list id", json_schema_extra=ID_IN_PATH)]
CampaignPath = Annotated[str, Path(description="campaign id", json_schema_extra=ID_IN_PATH)]
#: Fields of a list's answer a client may send back unchanged; they are ignored.
LIST_READ_ONLY = frozenset({"id", "href", "is_segment", "contact_count", "created_at"})
NOT_ELIGIBLE = "Contact is not eligible for survey."


# Lists ----------------------------------------------------------------------------------


class ListBody(ApiBody):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)


class MemberBody(ApiBody):
    """A member to add: an existing contact by id, or by email (created when new)."""

    contact: Id | None = None
    email: Email | None = None


def list_json(request: Request, item: ContactList) -> dict[str, Any]:
    base = request.app.state.services.settings.public_url
    return {
        "id": item.id,
        "href": f"{base}{router.prefix}/lists/{item.id}/",
        "name": item.name,
        "is_segment": item.is_segment,
        "contact_count": item.contact_count,
        "created_at": item.created_at,
    }


def _list_id(text: str) -> int:
    return object_id(text, MAX_INT_ID)


def _name_of(body: ListBody) -> str:
    if body.name is None:
        raise invalid({"name": ["This field may not be null."]})
    return body.name


def _name_taken() -> Exception:
    return invalid({"name": ["contact list with this name already exists."]})


@router.get(
    "/lists/", summary="List contact lists", responses=schemas.success(schemas.ContactListPage)
)
async def lists_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)
    total, found = await read(
        services, list_lists, organization_id=org.id, limit=paging.size, offset=paging.offset
    )
    results = [list_json(request, item) for item in found]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/lists/",
    summary="Create a contact list",
    status_code=201,
    openapi_extra=body_schema(ListBody),
    responses=schemas.success(schemas.ContactList, 201),
)
async def lists_create(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    body = parse(ListBody, await raw_body(request), ignored=LIST_READ_ONLY)
    require(body.model_fields_set, ("name",))
    name = _name_of(body)
    now = datetime.now(UTC)

    def create(conn: Connection) -> ContactList:
        try:
            return create_list(conn, organization_id=org.id, name=name, now=now)
        except ListNameTaken:
            raise _name_taken() from None

    return JSONResponse(list_json(request, await write(services, create)), status_code=201)


async def _list_or_404(services: ServicesDep, org_id: int, list_id: int) -> ContactList:
    try:
        return await read(services, get_list, organization_id=org_id, list_id=list_id)
    except ListNotFound:
        raise not_found() from None


@router.get(
    "/lists/{list_id}/",
    summary="Retrieve a contact list",
    responses=schemas.success(schemas.ContactList),
)
async def lists_retrieve(
    request: Request, services: ServicesDep, org: OrgDep, list_id: ListPath
) -> JSONResponse:
    return JSONResponse(list_json(request, await _list_or_404(services, org.id, _list_id(list_id))))


async def _rename(
    request: Request, services: ServicesDep, org_id: int, list_text: str, *, partial: bool
) -> JSONResponse:
    list_id = _list_id(list_text)
    body = parse(ListBody, await raw_body(request), ignored=LIST_READ_ONLY)
    if not partial:
        require(body.model_fields_set, ("name",))

    def rename(conn: Connection) -> ContactList:
        try:
            if "name" not in body.model_fields_set:
                return get_list(conn, organization_id=org_id, list_id=list_id)
            return rename_list(conn, organization_id=org_id, list_id=list_id, name=_name_of(body))
        except ListNotFound:
            raise not_found() from None
        except ListNameTaken:
            raise _name_taken() from None

    return JSONResponse(list_json(request, await write(services, rename)))


@router.patch(
    "/lists/{list_id}/",
    summary="Rename a contact list",
    openapi_extra=body_schema(ListBody),
    responses=schemas.success(schemas.ContactList),
)
async def lists_update(
    request: Request, services: ServicesDep, org: OrgDep, list_id: ListPath
) -> JSONResponse:
    return await _rename(request, services, org.id, list_id, partial=True)


@router.put(
    "/lists/{list_id}/",
    summary="Rename a contact list",
    openapi_extra=body_schema(ListBody),
    responses=schemas.success(schemas.ContactList),
)
async def lists_replace(
    request: Request, services: ServicesDep, org: OrgDep, list_id: ListPath
) -> JSONResponse:
    return await _rename(request, services, org.id, list_id, partial=False)


@router.delete("/lists/{list_id}/", summary="Delete a contact list", status_code=204)
async def lists_delete(services: ServicesDep, org: OrgDep, list_id: ListPath) -> Response:
    """The list goes, its contacts stay. The Segment list, and a list a campaign surveys,
    cannot be deleted (400)."""
    number = _list_id(list_id)

    def remove(conn: Connection) -> None:
        try:
            delete_list(conn, organization_id=org.id, list_id=number)
        except ListNotFound:
            raise not_found() from None
        except ListInUse as exc:
            raise invalid({NON_FIELD: [str(exc)]}) from None

    await write(services, remove)
    return Response(status_code=204)


@router.get(
    "/lists/{list_id}/contacts/",
    summary="A list's contacts",
    responses=schemas.success(schemas.ContactPage),
)
async def lists_members(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    list_id: ListPath,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    number = _list_id(list_id)
    await _list_or_404(services, org.id, number)
    paging = Page(page, page_size)
    total, found = await read(
        services,
        list_contacts,
        organization_id=org.id,
        flt=ContactFilter(list_id=number),
        page=paging,
    )
    results = [contact_json(services, c) for c in found]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/lists/{list_id}/contacts/",
    summary="Add a contact to a list",
    status_code=201,
    openapi_extra=body_schema(MemberBody),
    responses=schemas.success(schemas.Contact, 201),
)
async def lists_add_member(
    request: Request, services: ServicesDep, org: OrgDep, list_id: ListPath
) -> JSONResponse:
    """`{"contact": id}` adds an existing contact; `{"email": "..."}` adds the contact with
    that address, created when there is none. Answers the contact."""
    number = _list_id(list_id)
    body = parse(MemberBody, await raw_body(request))
    if body.contact is not None and body.email is not None:
        raise invalid({NON_FIELD: ["Give contact (an id) or email, not both."]})
    if body.contact is None and body.email is None:
        raise invalid({NON_FIELD: ["Give contact (an id) or email."]})
    now = datetime.now(UTC)

    def add(conn: Connection) -> Contact:
        try:
            get_list(conn, organization_id=org.id, list_id=number)
        except ListNotFound:
            raise not_found() from None
        if body.email is not None:
            contact_id, _ = upsert_contact(
                conn,
                organization_id=org.id,
                email=body.email,
                names={},
                attributes={},
                list_ids=[number],
                now=now,
                limits=services.attribute_limits,
            )
        else:
            assert body.contact is not None
            contact_id = body.contact
            if get_contact(conn, organization_id=org.id, contact_id=contact_id) is None:
                raise invalid({"contact": does_not_exist(contact_id)})
            add_members(
                conn, organization_id=org.id, list_ids=[number], contact_id=contact_id, now=now
            )
        contact = get_contact(conn, organization_id=org.id, contact_id=contact_id)
        assert contact is not None
        return contact

    return JSONResponse(contact_json(services, await write(services, add)), status_code=201)


@router.delete(
    "/lists/{list_id}/contacts/{contact_id}/",
    summary="Take a contact off a list",
    status_code=204,
)
async def lists_remove_member(
    services: ServicesDep, org: OrgDep, list_id: ListPath, contact_id: ContactId
) -> Response:
    """The contact stays; 404 when it is not on the list."""
    number = _list_id(list_id)

    def remove(conn: Connection) -> None:
        try:
            remove_member(conn, organization_id=org.id, list_id=number, contact_id=contact_id)
        except ListNotFound:
            raise not_found() from None

    await write(services, remove)
    return Response(status_code=204)


# Surveys on request ----------------------------------------------------------------------


class SurveyContact(ApiBody):
    email: Email
    first_name: Name = None
    last_name: Name = None
    attributes: dict[str, Any] | None = None

    @field_validator("attributes")
    @classmethod
    def _typed(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            typed_attributes(value)
        return value


class SurveyCreate(ApiBody):
    """Promoter's v2 survey: the contact (created or updated by email) and attributes of
    this survey alone."""

    campaign_id: Id
    contact: SurveyContact
    attributes: dict[str, Any] | None = None

    @field_validator("attributes")
    @classmethod
    def _typed(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            survey_attributes(value)
        return value


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with its ``$defs`` references replaced by what they name."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(v, defs) for v in schema]
    return schema


def nested_body_schema(model: type[ApiBody]) -> dict[str, Any]:
    """``body_schema`` for a body with nested objects: their definitions are inlined, as
    the OpenAPI document has no ``$defs`` of its own."""
    extra = body_schema(model)
    content = extra["requestBody"]["content"]["application/json"]
    content["schema"] = _inlined(content["schema"], content["schema"].get("$defs", {}))
    return extra


def nested_errors(exc: ValidationError) -> dict[str, Any]:
    """Validation errors nested as Django REST Framework nests them:
    ``{"contact": {"email": ["..."]}}``."""
    errors: dict[str, Any] = {}
    for error in exc.errors():
        path = [str(part) for part in error["loc"]] or [NON_FIELD]
        node = errors
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # the field has errors of its own too
                break
            node = child
        else:
            message = _nested_message(error)
            messages = node.setdefault(path[-1], [])
            if isinstance(messages, list) and message not in messages:
                messages.append(message)
    return errors


def _nested_message(error: ErrorDetails) -> str:
    if error["type"] in ("model_type", "dict_type") and error.get("input") is not None:
        kind = type(error.get("input")).__name__
        return f"Invalid data. Expected a dictionary, but got {kind}."
    return drf_message(error)


@router.post(
    "/survey/",
    summary="Survey a contact through a campaign",
    status_code=201,
    openapi_extra=nested_body_schema(SurveyCreate),
    responses=schemas.success(schemas.SurveyScheduled, 201),
)
async def survey_create(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """Creates or updates the contact (by email), puts it on the campaign's list, and
    schedules a survey if the rules allow it now; else 400 with
    `{"non_field_errors": ["Contact is not eligible for survey."], "reason": ["..."]}`."""
    data = json_object(await raw_body(request))
    try:
        body = SurveyCreate.model_validate(data)
    except ValidationError as exc:
        return JSONResponse(nested_errors(exc), status_code=400)
    person = body.contact
    names = given_names(person)
    contact_attributes = typed_attributes(person.attributes or {})
    now = datetime.now(UTC)

    def send(conn: Connection) -> ManualOutcome:
        list_id = campaign_list(conn, org.id, body.campaign_id, "campaign_id")
        contact_id, _ = upsert_contact(
            conn,
            organization_id=org.id,
            email=person.email,
            names=names,
            attributes=contact_attributes,
            list_ids=[list_id],
            now=now,
            limits=services.attribute_limits,
        )
        return send_survey(
            conn,
            organization_id=org.id,
            campaign_id=body.campaign_id,
            contact_id=contact_id,
            attributes=body.attributes or {},
            now=now,
        )

    try:
        outcome = await write(services, send)
    except TooManyAttributes as exc:
        return JSONResponse({"contact": {"attributes": [str(exc)]}}, status_code=400)
    if not outcome.scheduled:
        return JSONResponse(
            {NON_FIELD: [NOT_ELIGIBLE], "reason": [outcome.reason]}, status_code=400
        )
    return JSONResponse(survey_json(outcome, body.campaign_id), status_code=201)


class SendSurveysBody(ApiBody):
    #: False: only the members the campaign never surveyed.
    all_contacts: bool = False


@router.post(
    "/campaigns/{campaign_id}/send-surveys/",
    summary="Survey a campaign's list",
    openapi_extra=body_schema(SendSurveysBody),
    responses=schemas.success(schemas.SendReport),
)
async def campaigns_send_surveys(
    request: Request, services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    """Every member of the campaign's list (`all_contacts: false`: those it never
    surveyed) goes through the same rules as one survey; answers how many were scheduled,
    how many skipped, and why."""
    number = object_id(campaign_id, MAX_INT_ID)
    body = parse(SendSurveysBody, await raw_body(request))
    try:
        report = await in_thread(
            lambda: send_to_list(
                services.database.run_write,
                organization_id=org.id,
                campaign_id=number,
                all_contacts=body.all_contacts,
                now=datetime.now(UTC),
            )
        )
    except CampaignNotFound:
        raise not_found() from None
    except CampaignNotActive as exc:
        raise invalid({NON_FIELD: [str(exc)]}) from None
    return JSONResponse(
        {"scheduled": report.scheduled, "skipped": report.skipped, "reasons": dict(report.reasons)}
    )

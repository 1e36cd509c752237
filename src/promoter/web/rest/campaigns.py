"""REST API under /api/v2/campaigns/: campaigns with their counts, changed, paused, resumed
and completed; in Promoter's field names, ours accepted too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import Field, ValidationError
from sqlalchemy import Connection

from promoter.campaigns import service
from promoter.campaigns.counts import CampaignCounts, campaign_counts
from promoter.campaigns.links import public_link
from promoter.campaigns.models import Campaign, CampaignSettings
from promoter.campaigns.questions import question_dicts
from promoter.domain.ids import MAX_BIGINT_ID, MAX_INT_ID
from promoter.domain.paging import Page
from promoter.services import Services
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.bodies import (
    ID_IN_PATH,
    ApiBody,
    Errors,
    body_schema,
    field_errors,
    invalid,
    not_found,
    object_id,
    parse,
    raw_body,
    renamed,
    require,
)
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(prefix="/api/v2", tags=["campaigns"])

Id = Annotated[int, Field(ge=1, le=MAX_BIGINT_ID)]
CampaignPath = Annotated[str, Path(description="campaign id", json_schema_extra=ID_IN_PATH)]

#: Promoter's name of a field -> ours.
CAMPAIGN_ALIASES = {"contact_list": "contact_list_id", "email": "email_template_id"}
#: Fields of the answer a client may send back unchanged; they are ignored.
CAMPAIGN_READ_ONLY = frozenset(
    {
        "id",
        "href",
        "drip_duration",
        "all_count",
        "eligible_count",
        "last_surveyed_date",
        "launch_date",
        "public_link",
        "created_at",
        "updated_at",
    }
)


class CampaignBody(ApiBody):
    """A campaign's fields. ``contact_list`` and ``email`` (a template id) are Promoter's
    names of ``contact_list_id`` and ``email_template_id``."""

    name: str | None = Field(default=None, max_length=200)
    contact_list: Id | None = None
    contact_list_id: Id | None = None
    email: Id | None = None
    email_template_id: Id | None = None
    kind: str | None = Field(default=None, max_length=16)
    status: str | None = Field(default=None, max_length=16)
    trigger_events: list[Annotated[str, Field(max_length=255)]] | None = Field(
        default=None, max_length=50
    )
    delay_minutes: int | None = None
    throttle_days: int | None = None
    weekdays_only: bool | None = None
    send_window_start: int | None = None
    send_window_end: int | None = None
    reminder_days: int | None = None
    forward_email: str | None = Field(default=None, max_length=320)
    questions: list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "Up to 5 follow-up questions: {id, text, type, choices, audience, required}; "
            "the whole list replaces the current one."
        ),
    )
    thanks_url: str | None = Field(default=None, max_length=2000)
    answer_window_days: int | None = None
    channel: str | None = Field(
        default=None,
        description="email, web (the in-app web survey) or both (in the app first, email "
        "after 3 days if not shown there); a manual campaign is email.",
    )


def campaign_changes(body: CampaignBody) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes under our names, and the names to report errors under."""
    references = frozenset(CAMPAIGN_ALIASES.values())
    changes, names = renamed(body.model_dump(exclude_unset=True), CAMPAIGN_ALIASES, references)
    if isinstance(changes.get("status"), str):
        changes["status"] = changes["status"].lower()
    for ours in references:
        if changes.get(ours, 0) > MAX_INT_ID:  # no row has it; the column cannot hold it
            raise invalid(_missing(names[ours], changes[ours]))
    return changes, names


def _missing(name: str, value: int) -> Errors:
    return {name: [f'Invalid pk "{value}" - object does not exist.']}


def _check_template(conn: Connection, org_id: int, template_id: int, name: str) -> None:
    try:
        service.get_template(conn, organization_id=org_id, template_id=template_id)
    except service.NotFound:
        raise invalid(_missing(name, template_id)) from None


def _parse(raw: bytes, *, partial: bool) -> CampaignBody:
    body = parse(CampaignBody, raw, ignored=CAMPAIGN_READ_ONLY)
    if not partial:
        require(body.model_fields_set, ("name",), ("email", "email_template_id"))
    return body


def _create_campaign(
    conn: Connection, services: Services, org_id: int, raw: bytes
) -> dict[str, Any]:
    changes, names = campaign_changes(_parse(raw, partial=True))
    template_id = changes.pop("email_template_id", None)
    list_id = changes.pop("contact_list_id", None)
    errors: Errors = {}
    if template_id is None:
        errors[names["email_template_id"]] = ["This field is required."]
    try:
        settings = CampaignSettings.model_validate(changes)
    except ValidationError as exc:
        errors = field_errors(exc, names) | errors
    if errors:
        raise invalid(errors)
    _check_template(conn, org_id, template_id, names["email_template_id"])
    try:
        created = service.create_campaign(
            conn,
            organization_id=org_id,
            settings=settings,
            template_id=template_id,
            list_id=list_id,
        )
    except service.NotFound:
        raise invalid(_missing(names["contact_list_id"], list_id or 0)) from None
    return _campaign_json(services, conn, org_id, created)


def _update_campaign(
    conn: Connection,
    services: Services,
    org_id: int,
    campaign_id: int,
    raw: bytes,
    *,
    partial: bool,
) -> dict[str, Any]:
    """Another organization's campaign is not found before the body is read."""
    _campaign(conn, org_id, campaign_id)
    changes, names = campaign_changes(_parse(raw, partial=partial))
    if "email_template_id" in changes:
        _check_template(conn, org_id, changes["email_template_id"], names["email_template_id"])
    try:
        updated = service.update_campaign(
            conn, organization_id=org_id, campaign_id=campaign_id, changes=changes
        )
    except ValidationError as exc:
        raise invalid(field_errors(exc, names)) from None
    except service.NotFound:
        raise invalid(
            _missing(names["contact_list_id"], changes.get("contact_list_id", 0))
        ) from None
    return _campaign_json(services, conn, org_id, updated)


def _campaign(conn: Connection, org_id: int, campaign_id: int) -> Campaign:
    try:
        return service.get_campaign(conn, organization_id=org_id, campaign_id=campaign_id)
    except service.NotFound:
        raise not_found() from None


def _campaign_json(
    services: Services, conn: Connection, org_id: int, campaign: Campaign
) -> dict[str, Any]:
    counts = campaign_counts(
        conn, organization_id=org_id, campaigns=[campaign], now=datetime.now(UTC)
    )
    return campaign_json(services, campaign, counts[campaign.id])


def campaign_json(services: Services, c: Campaign, n: CampaignCounts) -> dict[str, Any]:
    return {
        "id": c.id,
        "href": f"{services.settings.public_url}{router.prefix}/campaigns/{c.id}/",
        "name": c.name,
        "contact_list": c.contact_list_id,
        "email": c.email_template_id,
        "kind": c.kind,
        "status": c.status,
        "trigger_events": c.trigger_events,
        "delay_minutes": c.delay_minutes,
        "throttle_days": c.throttle_days,
        "weekdays_only": c.weekdays_only,
        "send_window_start": c.send_window_start,
        "send_window_end": c.send_window_end,
        "reminder_days": c.reminder_days,
        "forward_email": c.forward_email,
        "questions": question_dicts(c.questions),
        "thanks_url": c.thanks_url,
        "answer_window_days": c.answer_window_days,
        "channel": c.channel,
        "public_link": _public_link(services, c),
        "drip_duration": None,
        "all_count": n.all_count,
        "eligible_count": n.eligible_count,
        "last_surveyed_date": n.last_surveyed_date,
        "launch_date": n.launch_date,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def _public_link(services: Services, c: Campaign) -> dict[str, str] | None:
    found = public_link(services.settings.public_url, c)
    return found.to_json() if found else None


def _campaign_page(
    conn: Connection, services: Services, org_id: int, status: str | None, page: Page
) -> tuple[int, list[dict[str, Any]]]:
    found = service.list_campaigns(conn, organization_id=org_id, status=status)
    shown = found[page.offset : page.offset + page.size]
    counts = campaign_counts(conn, organization_id=org_id, campaigns=shown, now=datetime.now(UTC))
    return len(found), [campaign_json(services, c, counts[c.id]) for c in shown]


def _read_campaign(
    conn: Connection, services: Services, org_id: int, campaign_id: int
) -> dict[str, Any]:
    return _campaign_json(services, conn, org_id, _campaign(conn, org_id, campaign_id))


def _set_status(
    conn: Connection, services: Services, org_id: int, campaign_id: int, status: str
) -> dict[str, Any]:
    _campaign(conn, org_id, campaign_id)
    updated = service.update_campaign(
        conn, organization_id=org_id, campaign_id=campaign_id, changes={"status": status}
    )
    return _campaign_json(services, conn, org_id, updated)


@router.get(
    "/campaigns/", summary="List campaigns", responses=schemas.success(schemas.CampaignPage)
)
async def campaigns_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    status: Literal["active", "paused", "complete"] | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)
    total, results = await read(services, _campaign_page, services, org.id, status, paging)
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/campaigns/",
    summary="Create a campaign",
    status_code=201,
    openapi_extra=body_schema(CampaignBody),
    responses=schemas.success(schemas.Campaign, 201),
)
async def campaigns_create(request: Request, services: ServicesDep, org: OrgDep) -> JSONResponse:
    """Required: `name` and `email` (an email template id). `contact_list` defaults to
    the Segment list."""
    raw = await raw_body(request)
    created = await write(services, _create_campaign, services, org.id, raw)
    return JSONResponse(created, status_code=201)


@router.get(
    "/campaigns/{campaign_id}/",
    summary="Retrieve a campaign",
    responses=schemas.success(schemas.Campaign),
)
async def campaigns_retrieve(
    services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    found = object_id(campaign_id, MAX_INT_ID)
    return JSONResponse(await read(services, _read_campaign, services, org.id, found))


@router.patch(
    "/campaigns/{campaign_id}/",
    summary="Change some of a campaign's fields",
    openapi_extra=body_schema(CampaignBody),
    responses=schemas.success(schemas.Campaign),
)
async def campaigns_patch(
    request: Request, services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    found = object_id(campaign_id, MAX_INT_ID)
    raw = await raw_body(request)
    return JSONResponse(
        await write(services, _update_campaign, services, org.id, found, raw, partial=True)
    )


@router.put(
    "/campaigns/{campaign_id}/",
    summary="Change a campaign",
    openapi_extra=body_schema(CampaignBody),
    responses=schemas.success(schemas.Campaign),
)
async def campaigns_put(
    request: Request, services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    """As PATCH, but `name` and `email` are required (fields left out keep their value)."""
    found = object_id(campaign_id, MAX_INT_ID)
    raw = await raw_body(request)
    return JSONResponse(
        await write(services, _update_campaign, services, org.id, found, raw, partial=False)
    )


async def _status_change(services: Services, org_id: int, text: str, status: str) -> JSONResponse:
    found = object_id(text, MAX_INT_ID)
    return JSONResponse(await write(services, _set_status, services, org_id, found, status))


@router.post(
    "/campaigns/{campaign_id}/pause/",
    summary="Pause a campaign",
    responses=schemas.success(schemas.Campaign),
)
async def campaigns_pause(
    services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    """A paused campaign sends no new surveys; scheduled ones still go."""
    return await _status_change(services, org.id, campaign_id, "paused")


@router.post(
    "/campaigns/{campaign_id}/resume/",
    summary="Resume a campaign",
    responses=schemas.success(schemas.Campaign),
)
async def campaigns_resume(
    services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    return await _status_change(services, org.id, campaign_id, "active")


@router.post(
    "/campaigns/{campaign_id}/complete/",
    summary="Complete a campaign",
    responses=schemas.success(schemas.Campaign),
)
async def campaigns_complete(
    services: ServicesDep, org: OrgDep, campaign_id: CampaignPath
) -> JSONResponse:
    return await _status_change(services, org.id, campaign_id, "complete")

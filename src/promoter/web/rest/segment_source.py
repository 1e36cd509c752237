"""REST API under /api/v2/: the organization's Segment source (its settings and the log
of the messages sent)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from promoter.domain.paging import Page
from promoter.segment_source.outbox import list_messages
from promoter.segment_source.settings import (
    DEFAULT_HOST,
    DEFAULT_PREFIX,
    EVENTS,
    InvalidSource,
    delete_source,
    get_source,
    save_source,
)
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, paginated
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["segment source"])
PATH = "/segment-source/"


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    write_key: str | None = Field(
        default=None,
        max_length=1000,
        description="The write key of the Segment (or RudderStack) source; "
        "leave it out to keep the saved one.",
    )
    host: str = Field(default=DEFAULT_HOST, max_length=5000, description="The API host.")
    events: list[str] = Field(
        default_factory=lambda: list(EVENTS[:3]),
        max_length=len(EVENTS),
        description=f"The track events to send, among: {', '.join(EVENTS)}.",
    )
    identify: bool = Field(default=True, description="Send an identify with the NPS traits.")
    trait_prefix: str = Field(default=DEFAULT_PREFIX, max_length=100)
    enabled: bool = True


class SourceOut(BaseModel):
    write_key: str = Field(description="Masked: its last four characters.")
    host: str
    events: list[str]
    identify: bool
    trait_prefix: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    id: int
    message_id: str
    kind: str = Field(description="The track event's name, or identify.")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    message: dict[str, Any] = Field(description="The Segment message (without sentAt).")


class MessagePage(schemas.Page[MessageOut]):
    pass


#: GET and DELETE before any settings were saved.
NOT_SAVED: dict[int | str, dict[str, Any]] = {404: {"description": "No settings saved yet"}}


@router.get(
    PATH,
    summary="The Segment source's settings",
    responses={**schemas.success(SourceOut), **NOT_SAVED},
)
async def source_retrieve(services: ServicesDep, org: OrgDep) -> JSONResponse:
    """404 until the organization saves settings."""
    found = await threads.read(services, lambda conn: get_source(conn, organization_id=org.id))
    if found is None:
        raise HTTPException(404, "Not found.")
    return JSONResponse(found.to_json())


@router.put(
    PATH, summary="Save the Segment source's settings", responses=schemas.success(SourceOut)
)
async def source_save(services: ServicesDep, org: OrgDep, body: SourceIn) -> JSONResponse:
    """Field errors are a 400 with a list of problems per field."""
    try:
        saved = await threads.write(
            services,
            lambda conn: save_source(
                conn,
                organization_id=org.id,
                write_key=body.write_key,
                host=body.host,
                events=body.events,
                identify=body.identify,
                trait_prefix=body.trait_prefix,
                enabled=body.enabled,
                policy=services.webhook_policy,
                now=datetime.now(UTC),
            ),
        )
    except InvalidSource as exc:
        return JSONResponse(exc.errors, status_code=400)
    return JSONResponse(saved.to_json())


@router.delete(
    PATH, summary="Remove the Segment source's settings", status_code=204, responses=NOT_SAVED
)
async def source_delete(services: ServicesDep, org: OrgDep) -> Response:
    """Messages still queued then fail; nothing new is queued."""
    removed = await threads.write(
        services, lambda conn: delete_source(conn, organization_id=org.id)
    )
    if not removed:
        raise HTTPException(404, "Not found.")
    return Response(status_code=204)


@router.get(
    PATH + "messages/",
    summary="The messages sent to the host, newest first",
    responses=schemas.success(MessagePage),
)
async def messages_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    status: Literal["pending", "delivered", "failed"] | None = Query(default=None),
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)
    total, found = await threads.read(
        services,
        lambda conn: list_messages(
            conn, organization_id=org.id, status=status, offset=paging.offset, limit=paging.size
        ),
    )
    results = [m.to_json() for m in found]
    return JSONResponse(paginated(request, services, total, paging, results))

"""NPS analytics under /api/v2/: the score, its trend and breakdown, the feedback itself
as CSV (the paginated list is in ``api_feedback``), and saved segments."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from promoter.analytics.breakdown import BreakdownError, SortKey
from promoter.analytics.buckets import parse_buckets
from promoter.analytics.filters import FilterError
from promoter.analytics.params import QuestionParams, build_query, zone_of
from promoter.analytics.query import Scope, scope
from promoter.analytics.segments import (
    SegmentConflict,
    SegmentNotFound,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    update_segment,
)
from promoter.analytics.trend import Interval, TrendError
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.nps import ScoreType
from promoter.feedback.reading import export_csv
from promoter.orgs.service import Organization
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.deps import OrgDep, SearchDep
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["analytics"])

_COMPACT = re.compile(r"^attributes\[([^\]]+)\](?:\[([a-z_]+)\])?$")
T = TypeVar("T")
SegmentId = Annotated[int, Path(ge=1, le=MAX_INT_ID, description="segment id")]


def _question(
    request: Request,
    filter: Annotated[
        str | None,
        Query(description="A filter as a JSON expression (see the analytics docs)."),
    ] = None,
    segment: Annotated[
        str | None, Query(description="A saved segment, by id or name; ANDed with the rest.")
    ] = None,
    since: Annotated[
        str | None, Query(description="Start: a date (local day) or an ISO date-time.")
    ] = None,
    until: Annotated[
        str | None,
        Query(description="End: a date (that whole day included) or an ISO date-time."),
    ] = None,
    campaign: Annotated[list[int], Query(description="Campaign ids (any of).")] = [],  # noqa: B006
    channel: Annotated[list[str], Query(description="Channels (any of): email, web, link.")] = [],  # noqa: B006
    score: Annotated[list[int], Query(description="Scores 0-10 (any of).")] = [],  # noqa: B006
    score_type: Annotated[list[ScoreType], Query(description="Any of these types.")] = [],  # noqa: B006
    ignore_case: Annotated[
        bool,
        Query(
            description="The attributes[...] conditions that compare text (eq, ne, in, "
            "not_in, contains) ignore case."
        ),
    ] = False,
    has_comment: bool | None = None,
    status: Annotated[
        list[Literal["OPEN", "CLOSED"]], Query(description="Feedback status (any of).")
    ] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="Tags (all of them).")] = [],  # noqa: B006
    attributes_at: Annotated[
        Literal["response", "now"],
        Query(description="Filter attributes as they were at response time, or as they are now."),
    ] = "response",
    count: Annotated[
        Literal["all", "latest"],
        Query(description="Every response, or each contact's latest one."),
    ] = "all",
) -> QuestionParams:
    """The question's parameters; ``attributes[NAME]=VALUE`` and
    ``attributes[NAME][OP]=VALUE`` are read from the query string as well."""
    compact = []
    for name, value in request.query_params.multi_items():
        if name.startswith("attributes["):
            match = _COMPACT.match(name)
            if match is None:
                raise HTTPException(
                    400, f"cannot read {name!r}: use attributes[NAME] or attributes[NAME][OP]"
                )
            compact.append((match.group(1), match.group(2), value))
    return QuestionParams(
        filter=filter,
        attributes=compact,
        ignore_case=ignore_case,
        segment=segment,
        since=since,
        until=until,
        campaigns=campaign,
        channels=channel,
        scores=score,
        score_types=score_type,
        has_comment=has_comment,
        statuses=status,
        tags=tag,
        attribute_source="snapshot" if attributes_at == "response" else "current",
        count=count,
    )


QuestionDep = Annotated[QuestionParams, Depends(_question)]


async def _answer(
    services: ServicesDep,
    org: Organization,
    params: QuestionParams,
    fn: Callable[[Connection, Scope], T],
) -> T:
    """Run ``fn`` on the question's scope in one read transaction, off the event loop."""

    def run(conn: Connection) -> T:
        try:
            query = build_query(
                conn, organization_id=org.id, zone=zone_of(org.timezone), params=params
            )
            return fn(conn, scope(conn, query, now=datetime.now(UTC)))
        except (FilterError, TrendError, BreakdownError) as exc:
            raise HTTPException(400, str(exc)) from None

    return await threads.read(services, run)


@router.get(
    "/nps/",
    summary="The NPS of the matching responses",
    responses=schemas.success(schemas.NpsReport),
)
async def nps_metrics(services: ServicesDep, org: OrgDep, question: QuestionDep) -> JSONResponse:
    """NPS, promoter/passive/detractor counts and percents, the 95% margin of error
    (adjusted Wald), the 0-10 distribution, and the window's delivery counts."""

    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        report = services.analytics.nps(conn, s)
        return report.to_json() | {"delivery": services.analytics.delivery(conn, s).to_json()}

    return JSONResponse(await _answer(services, org, question, compute))


@router.get("/nps/trend/", summary="The NPS over time", responses=schemas.success(schemas.Trend))
async def nps_trend(
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    interval: Annotated[Interval, Query(description="Calendar bucket.")] = "month",
    rolling: Annotated[
        int | None,
        Query(
            ge=1,
            le=365,
            description="Instead of buckets: a point per day over the last N days (30, 90).",
        ),
    ] = None,
) -> JSONResponse:
    zone = zone_of(org.timezone)

    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        points = services.analytics.trend(conn, s, interval=interval, rolling=rolling, zone=zone)
        return {
            "window": s.window.to_json(),
            "interval": "day" if rolling else interval,
            "rolling_days": rolling,
            "timezone": zone.key,
            "points": [p.to_json() for p in points],
        }

    return JSONResponse(await _answer(services, org, question, compute))


@router.get(
    "/nps/breakdown/",
    summary="The NPS per value of an attribute",
    responses=schemas.success(schemas.Breakdown),
)
async def nps_breakdown(
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    by: Annotated[
        str,
        Query(
            min_length=1,
            max_length=255,
            description="Attribute name, or channel (the channel each response came by).",
        ),
    ],
    top: Annotated[int, Query(ge=1, le=100, description="Values shown; the rest is OTHER.")] = 10,
    buckets: Annotated[
        str | None,
        Query(
            description="Numeric buckets: auto (the default: buckets for a numeric attribute "
            "with more than 10 values, chosen from its values), none (one row per value), or "
            "edges such as 1000,5000,20000."
        ),
    ] = None,
    sort: SortKey = "responses",
) -> JSONResponse:
    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        result = services.analytics.breakdown(
            conn, s, by=by, top=top, buckets=parse_buckets(buckets), sort=sort
        )
        return {"window": s.window.to_json(), **result.to_json()}

    return JSONResponse(await _answer(services, org, question, compute))


@router.get(
    "/feedback/export.csv",
    summary="Every matching response as CSV",
    response_class=StreamingResponse,
)
async def feedback_export(
    services: ServicesDep, org: OrgDep, question: QuestionDep, search: SearchDep
) -> StreamingResponse:
    """Streamed; one column per snapshot attribute (``attributes.NAME``). ``search``
    keeps the responses whose comment has its words, as in the feedback list."""
    resolved = await _answer(services, org, question, lambda conn, s: s)
    rows: Iterator[str] = export_csv(services.database.read, resolved, search)
    filename = f"promoter-feedback-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        threads.iterate_in_thread(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- saved segments ---------------------------------------------------------------------


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    filter: dict[str, Any]


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    filter: dict[str, Any] | None = None


async def _segments(services: ServicesDep, fn: Callable[[Connection], T], *, write: bool) -> T:
    try:
        if write:
            return await threads.write(services, fn)
        return await threads.read(services, fn)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from None
    except SegmentConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except SegmentNotFound:
        raise HTTPException(404, "Not found.") from None


@router.get("/segments/", summary="Saved segments", responses=schemas.success(schemas.SegmentPage))
async def segments_list(services: ServicesDep, org: OrgDep) -> JSONResponse:
    found = await _segments(
        services,
        lambda conn: [s.to_json() for s in list_segments(conn, organization_id=org.id)],
        write=False,
    )
    return JSONResponse({"count": len(found), "next": None, "previous": None, "results": found})


@router.post(
    "/segments/",
    summary="Save a segment",
    status_code=201,
    responses={
        **schemas.success(schemas.Segment, 201),
        **schemas.conflict("A segment of that name exists already"),
    },
)
async def segments_create(services: ServicesDep, org: OrgDep, body: SegmentIn) -> JSONResponse:
    created = await _segments(
        services,
        lambda conn: create_segment(
            conn,
            organization_id=org.id,
            name=body.name,
            filter=body.filter,
            description=body.description,
        ),
        write=True,
    )
    return JSONResponse(created.to_json(), status_code=201)


@router.get(
    "/segments/{segment_id}/", summary="A saved segment", responses=schemas.success(schemas.Segment)
)
async def segments_retrieve(
    services: ServicesDep, org: OrgDep, segment_id: SegmentId
) -> JSONResponse:
    found = await _segments(
        services,
        lambda conn: get_segment(conn, organization_id=org.id, segment=segment_id),
        write=False,
    )
    return JSONResponse(found.to_json())


@router.patch(
    "/segments/{segment_id}/",
    summary="Change a saved segment",
    responses={
        **schemas.success(schemas.Segment),
        **schemas.conflict("Another segment has that name"),
    },
)
async def segments_update(
    services: ServicesDep, org: OrgDep, segment_id: SegmentId, body: SegmentPatch
) -> JSONResponse:
    updated = await _segments(
        services,
        lambda conn: update_segment(
            conn,
            organization_id=org.id,
            segment_id=segment_id,
            name=body.name,
            filter=body.filter,
            description=body.description,
        ),
        write=True,
    )
    return JSONResponse(updated.to_json())


@router.delete("/segments/{segment_id}/", summary="Delete a saved segment", status_code=204)
async def segments_delete(services: ServicesDep, org: OrgDep, segment_id: SegmentId) -> None:
    await _segments(
        services,
        lambda conn: delete_segment(conn, organization_id=org.id, segment_id=segment_id),
        write=True,
    )

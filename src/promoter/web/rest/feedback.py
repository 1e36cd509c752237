"""REST API under /api/v2/: feedback, as Promoter.io's clients read and change it.

The list answers the analytics question (see ``web/analytics.py``) narrowed by Promoter's
own filters. One piece of feedback can be read, closed or reopened, tagged and annotated;
status and tag changes go through ``feedback.followup``, notes through ``feedback.notes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar, get_args

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.filters import FilterError
from promoter.analytics.params import build_query, zone_of
from promoter.campaigns.models import CampaignStatus
from promoter.domain.ids import MAX_BIGINT_ID, MAX_INT_ID
from promoter.domain.paging import Page
from promoter.feedback.followup import (
    FeedbackStatus,
    InvalidTag,
    add_tags,
    clean_tag,
    remove_tags,
    replace_tags,
    set_status,
)
from promoter.feedback.notes import InvalidNote, Note, add_note, clean_body, list_notes
from promoter.feedback.reading import Feedback, PromoterFilter, find_feedback, get_feedback
from promoter.feedback.responses import exists, tags_of
from promoter.orgs.keys import visible_prefix
from promoter.services import Services
from promoter.web import threads
from promoter.web.credentials import key_from_authorization
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.analytics import QuestionDep
from promoter.web.rest.bodies import (
    ID_IN_PATH,
    NON_FIELD,
    body_schema,
    invalid,
    not_found,
    object_id,
    parse,
    raw_body,
)
from promoter.web.rest.deps import OrgDep, PageNumber, PageSize, SearchDep, paginated
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["feedback"])

T = TypeVar("T")
MAX_EMAIL_LENGTH = 320
#: Tags set or added by one request.
MAX_TAGS = 100
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CAMPAIGN_STATUSES: dict[str, CampaignStatus] = {s: s for s in get_args(CampaignStatus)}


def _feedback_id(
    feedback_id: Annotated[str, Path(description="feedback id", json_schema_extra=ID_IN_PATH)],
) -> int:
    """The id in the path; anything that cannot be one (too big, not a number) is a 404."""
    return object_id(feedback_id, MAX_BIGINT_ID)


FeedbackId = Annotated[int, Depends(_feedback_id)]


def _day(name: str, text: str | None) -> date | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        day = date.fromisoformat(text) if _DAY.match(text) else None
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year < 9000:
        raise invalid({name: ["Enter a valid date (YYYY-MM-DD)."]})
    return day


def _campaign_id(text: str) -> int:
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= 10 and 1 <= int(text) <= MAX_INT_ID:
        return int(text)
    raise invalid({"survey__campaign": ["Select a valid choice: no such campaign."]})


def _promoter_filter(
    survey__campaign: Annotated[
        list[str], Query(description="Campaign ids (any of); Promoter's name for `campaign`.")
    ] = [],  # noqa: B006
    survey__campaign__status: Annotated[
        str | None, Query(description="Campaigns with this status: ACTIVE, PAUSED or COMPLETE.")
    ] = None,
    survey__contact__email: Annotated[
        str | None, Query(description="The contact's email address (case-insensitive).")
    ] = None,
    posted_date_0: Annotated[
        str | None, Query(description="From this day (YYYY-MM-DD, the organization's zone).")
    ] = None,
    posted_date_1: Annotated[
        str | None, Query(description="Up to this day, included (YYYY-MM-DD).")
    ] = None,
) -> PromoterFilter:
    """Promoter.io's feedback filters; blank values are ignored, as Promoter did."""
    campaign_ids = [_campaign_id(text) for text in survey__campaign if text.strip()]
    status = None
    if survey__campaign__status and survey__campaign__status.strip():
        status = _CAMPAIGN_STATUSES.get(survey__campaign__status.strip().lower())
        if status is None:
            choice = f'"{survey__campaign__status}" is not a valid choice'
            raise invalid({"survey__campaign__status": [f"{choice}: ACTIVE, PAUSED or COMPLETE."]})
    email = survey__contact__email.strip() if survey__contact__email else None
    if email and (len(email) > MAX_EMAIL_LENGTH or "\x00" in email):
        raise invalid({"survey__contact__email": ["Enter a valid email address."]})
    return PromoterFilter(
        campaign_ids=tuple(dict.fromkeys(campaign_ids)),
        campaign_status=status,
        contact_email=email or None,
        posted_from=_day("posted_date_0", posted_date_0),
        posted_to=_day("posted_date_1", posted_date_1),
    )


PromoterDep = Annotated[PromoterFilter, Depends(_promoter_filter)]


def _json(services: Services, item: Feedback, notes: list[Note] | None = None) -> dict[str, Any]:
    base = services.settings.public_url
    data: dict[str, Any] = {
        "id": item.id,
        "href": f"{base}{router.prefix}/feedback/{item.id}/",
        "followup_href": f"{base}/feedback/{item.id}",
        **item.to_json(),
    }
    if notes is not None:
        data["notes"] = [note.to_json() for note in notes]
    return data


Detail = tuple[Feedback, list[Note]]


def _detail(conn: Connection, organization_id: int, response_id: int) -> Detail | None:
    """The feedback with its notes, or None when the organization has none such."""
    item = get_feedback(conn, organization_id=organization_id, response_id=response_id)
    if item is None:
        return None
    listed = list_notes(conn, organization_id=organization_id, response_id=response_id)
    return item, (listed[1] if listed else [])


async def _run(services: Services, fn: Callable[[Connection], T | None], *, write: bool) -> T:
    """``fn`` in one transaction off the event loop; its None is a 404."""

    found = await (threads.write if write else threads.read)(services, fn)
    if found is None:
        raise not_found()
    return found


async def _answer_detail(
    services: Services, fn: Callable[[Connection], Detail | None]
) -> JSONResponse:
    item, notes = await _run(services, fn, write=True)
    return JSONResponse(_json(services, item, notes))


# -- reading ----------------------------------------------------------------------------


@router.get(
    "/feedback/", summary="Feedback, newest first", responses=schemas.success(schemas.FeedbackPage)
)
async def feedback_list(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    promoter: PromoterDep,
    search: SearchDep,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """The analytics question (``filter``, ``attributes[...]``, ``since``...), Promoter's
    filters (``survey__campaign``, ``posted_date_0``...) and the comment ``search``, all of
    them ANDed. Without ``since``/``until``/``posted_date_*`` every response counts,
    whatever its age."""
    paging = Page(page, page_size)
    zone = zone_of(org.timezone)

    def run(conn: Connection) -> tuple[int, list[Feedback]]:
        try:
            query = build_query(conn, organization_id=org.id, zone=zone, params=question)
        except FilterError as exc:
            raise HTTPException(400, str(exc)) from None
        return find_feedback(
            conn, query, promoter, zone=zone, page=paging, now=datetime.now(UTC), search=search
        )

    total, items = await threads.read(services, run)
    results = [_json(services, item) for item in items]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.get(
    "/feedback/{feedback_id}/",
    summary="One piece of feedback, with its notes",
    responses=schemas.success(schemas.FeedbackDetail),
)
async def feedback_retrieve(
    services: ServicesDep, org: OrgDep, feedback_id: FeedbackId
) -> JSONResponse:
    item, notes = await _run(services, lambda conn: _detail(conn, org.id, feedback_id), write=False)
    return JSONResponse(_json(services, item, notes))


# -- status and tags ----------------------------------------------------------------------


class FeedbackChange(BaseModel):
    """What a client may change; other fields it sends (what it read, say) are ignored, as
    Django REST Framework did."""

    model_config = ConfigDict(extra="ignore")
    status: str | None = Field(default=None, description="OPEN or CLOSED (any case).")
    tags: list[str] | None = Field(
        default=None, max_length=MAX_TAGS, description="The whole new set of tags."
    )


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tags: list[str] = Field(min_length=1, max_length=MAX_TAGS)


def _status(text: str | None) -> FeedbackStatus | None:
    if text is None:
        return None
    status = text.strip().upper()
    if status == "OPEN":
        return "OPEN"
    if status == "CLOSED":
        return "CLOSED"
    raise invalid({"status": [f'"{text}" is not a valid choice: OPEN or CLOSED.']})


def _tags(tags: list[str]) -> list[str]:
    try:
        return sorted({clean_tag(tag) for tag in tags})
    except InvalidTag as exc:
        raise invalid({"tags": [str(exc)]}) from None


_CHANGE = "Change a feedback's status and tags"


@router.put(
    "/feedback/{feedback_id}/",
    summary=_CHANGE,
    openapi_extra=body_schema(FeedbackChange),
    responses=schemas.success(schemas.FeedbackDetail),
)
@router.patch(
    "/feedback/{feedback_id}/",
    summary=_CHANGE,
    openapi_extra=body_schema(FeedbackChange),
    responses=schemas.success(schemas.FeedbackDetail),
)
async def feedback_update(
    request: Request, services: ServicesDep, org: OrgDep, feedback_id: FeedbackId
) -> JSONResponse:
    """``{"status": "CLOSED"}`` closes the loop, ``"OPEN"`` reopens it; ``tags`` replaces
    the whole set. Either may be left out. Notes are added through ``notes/``."""
    body = parse(FeedbackChange, await raw_body(request))
    status = _status(body.status)
    tags = None if body.tags is None else _tags(body.tags)

    def change(conn: Connection) -> Detail | None:
        now = datetime.now(UTC)
        current = get_feedback(conn, organization_id=org.id, response_id=feedback_id)
        if current is None:
            return None
        if status is not None and status != current.status:
            set_status(
                conn, organization_id=org.id, response_id=feedback_id, status=status, now=now
            )
        if tags is not None and tags != current.tags:
            replace_tags(conn, organization_id=org.id, response_id=feedback_id, tags=tags, now=now)
        return _detail(conn, org.id, feedback_id)

    return await _answer_detail(services, change)


@router.post(
    "/feedback/{feedback_id}/tags/",
    summary="Add tags to a feedback",
    openapi_extra=body_schema(TagsIn),
    responses=schemas.success(schemas.FeedbackDetail),
)
async def feedback_tag(
    request: Request, services: ServicesDep, org: OrgDep, feedback_id: FeedbackId
) -> JSONResponse:
    """``{"tags": ["pricing", "call back"]}``: added to those it has. Answers the feedback."""
    tags = _tags(parse(TagsIn, await raw_body(request)).tags)

    def change(conn: Connection) -> Detail | None:
        if not exists(conn, organization_id=org.id, response_id=feedback_id):
            return None
        if missing := sorted(set(tags) - set(tags_of(conn, response_id=feedback_id))):
            add_tags(
                conn,
                organization_id=org.id,
                response_id=feedback_id,
                tags=missing,
                now=datetime.now(UTC),
            )
        return _detail(conn, org.id, feedback_id)

    return await _answer_detail(services, change)


@router.delete(
    "/feedback/{feedback_id}/tags/{tag:path}/",
    summary="Remove a tag from a feedback",
    status_code=204,
)
async def feedback_untag(
    services: ServicesDep, org: OrgDep, feedback_id: FeedbackId, tag: str
) -> Response:
    """204; 404 when the feedback does not have that tag."""

    def change(conn: Connection) -> bool | None:
        if not exists(conn, organization_id=org.id, response_id=feedback_id):
            return None
        if tag.strip() not in tags_of(conn, response_id=feedback_id):
            return None
        return remove_tags(
            conn,
            organization_id=org.id,
            response_id=feedback_id,
            tags=[tag],
            now=datetime.now(UTC),
        )

    await _run(services, change, write=True)
    return Response(status_code=204)


# -- notes ------------------------------------------------------------------------------


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    body: str = Field(description="The note's text (up to 10,000 characters).")


def _field_errors(exc: RequestValidationError) -> JSONResponse:
    """The 400 for ``exc``, answered here: the app's handler would take a field named
    ``body`` for the request body itself."""
    fields: dict[str, list[str]] = {}
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"][1:])
        fields.setdefault(where or NON_FIELD, []).append(error["msg"])
    return JSONResponse(fields, status_code=400)


@router.get(
    "/feedback/{feedback_id}/notes/",
    summary="A feedback's notes, oldest first",
    responses=schemas.success(schemas.NotePage),
)
async def feedback_notes(
    request: Request,
    services: ServicesDep,
    org: OrgDep,
    feedback_id: FeedbackId,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    paging = Page(page, page_size)
    total, notes = await _run(
        services,
        lambda conn: list_notes(conn, organization_id=org.id, response_id=feedback_id, page=paging),
        write=False,
    )
    results = [note.to_json() for note in notes]
    return JSONResponse(paginated(request, services, total, paging, results))


@router.post(
    "/feedback/{feedback_id}/notes/",
    summary="Add a note to a feedback",
    status_code=201,
    openapi_extra=body_schema(NoteIn),
    responses=schemas.success(schemas.Note, 201),
)
async def feedback_note(
    request: Request, services: ServicesDep, org: OrgDep, feedback_id: FeedbackId
) -> JSONResponse:
    """``{"body": "..."}``; the note's author is ``api:`` and the key's first characters."""
    try:
        text = clean_body(parse(NoteIn, await raw_body(request)).body)
    except RequestValidationError as exc:
        return _field_errors(exc)
    except InvalidNote as exc:
        return JSONResponse({"body": [str(exc)]}, status_code=400)
    key = key_from_authorization(request.headers.get("authorization")) or ""
    note = await _run(
        services,
        lambda conn: add_note(
            conn,
            organization_id=org.id,
            response_id=feedback_id,
            body=text,
            author=f"api:{visible_prefix(key)}",
            now=datetime.now(UTC),
        ),
        write=True,
    )
    return JSONResponse(note.to_json(), status_code=201)

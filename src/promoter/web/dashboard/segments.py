"""The filter builder's form target, and saving the current filter as a segment."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from promoter.analytics.filters import FilterError
from promoter.analytics.segments import (
    SegmentConflict,
    SegmentNotFound,
    create_segment,
    delete_segment,
)
from promoter.web.dashboard.forms import Form, read_form
from promoter.web.dashboard.question import filter_from_form
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    refused,
    safe_next,
    see_other,
    with_done,
)
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)

#: The pages the builder may return to: each page that shows it.
PAGES = ("/", "/breakdown", "/drivers", "/feedback", "/keywords", "/themes")
#: A theme's own page shows it too.
THEME_PAGE = re.compile(r"/themes/[0-9]{1,12}")
KEPT = (
    "segment",
    "range",
    "since",
    "until",
    "campaign",
    "every",
    "by",
    "buckets",
    "sort",
    "top",
    "type",
    "status",
    "tag",
    "comment",
    "search",
)


@router.get("/filter")
async def apply_filter(request: Request, session: SessionDep) -> Response:
    """Turns the builder's rows into the page URL that holds the filter."""
    form = Form(list(request.query_params.multi_items()))
    page = form.get("return")
    page = page if page in PAGES or THEME_PAGE.fullmatch(page) else "/"
    text, pending = filter_from_form(form)
    pairs = [(name, value) for name, value in form.pairs if name in KEPT and value]
    if text:
        pairs.append(("filter", text))
    pairs += [("pending", name) for name in pending]
    return see_other(page + ("?" + urlencode(pairs) if pairs else ""))


@router.post("/segments")
async def save_segment(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    back = safe_next(form.get("return"))
    try:
        data = orjson.loads(form.get("filter") or "null")
    except orjson.JSONDecodeError:
        data = None

    def save() -> str | None:
        try:
            with services.database.write() as conn:
                create_segment(
                    conn,
                    organization_id=session.user.organization_id,
                    name=form.get("name"),
                    filter=data,
                )
        except (FilterError, SegmentConflict, ValueError) as exc:
            return str(exc)
        return None

    problem = await in_thread(save)
    if problem is not None:
        heading = "The segment was not saved"
        return refused(request, session, status=400, heading=heading, message=problem)
    return see_other(with_done(back, "segment-saved"))


@router.post("/segments/{segment_id}/delete")
async def remove_segment(
    request: Request, services: ServicesDep, session: SessionDep, segment_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)

    def remove() -> bool:
        try:
            with services.database.write() as conn:
                delete_segment(
                    conn, organization_id=session.user.organization_id, segment_id=segment_id
                )
        except SegmentNotFound:
            return False
        return True

    if not await in_thread(remove):
        message = "There is no such segment."
        return refused(request, session, status=404, heading="Not found", message=message)
    return see_other(with_done(safe_next(form.get("return")), "segment-deleted"))

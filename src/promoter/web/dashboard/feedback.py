"""Feedback: the matching responses, newest first, each with its contact, snapshot, tags
and status; tagging and closing the loop; CSV export of the current filter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response

from promoter.analytics.feedback import Feedback, export_csv, feedback_page
from promoter.analytics.query import Scope
from promoter.analytics.suggest import tag_names
from promoter.contacts.service import Page
from promoter.services import Services
from promoter.surveys.followup import (
    FeedbackStatus,
    InvalidTag,
    add_tags,
    remove_tags,
    set_status,
)
from promoter.web.dashboard.asking import ask_async
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    render,
    safe_next,
    see_other,
)
from promoter.web.state import ServicesDep

router = APIRouter(include_in_schema=False)
ResponseId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE_SIZE = 25
MAX_PAGE = 10**6


@dataclass
class FeedbackList:
    total: int
    items: list[Feedback]
    tags: list[str]
    page: int
    pages: int


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


def _compute(number: int) -> Callable[[Connection, Scope, ZoneInfo], FeedbackList]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> FeedbackList:
        page = Page(number=number, size=PAGE_SIZE)
        total, items = feedback_page(conn, scope, page)
        tags = tag_names(conn, organization_id=scope.query.organization_id)
        return FeedbackList(total, items, tags, number, max(1, -(-total // PAGE_SIZE)))

    return compute


@router.get("/feedback")
async def feedback_list(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    number = _page_number(request)
    asked = await ask_async(services, session, request.query_params.multi_items(), _compute(number))
    campaigns = {c.id: c.name for c in asked.bar["campaigns"]}
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    return render(
        request,
        "feedback.html",
        session,
        section="feedback",
        asked=asked,
        result=asked.answer,
        campaign_names=campaigns,
        here=here,
        **asked.bar,
    )


@router.get("/feedback/export.csv")
async def feedback_export(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    asked = await ask_async(
        services,
        session,
        request.query_params.multi_items(),
        lambda conn, scope, zone: scope,
    )
    if asked.answer is None:
        return render(
            request,
            "error.html",
            session,
            status=400,
            heading="Nothing to export",
            message=asked.error or "The filter cannot be read.",
        )
    rows: Iterator[str] = export_csv(services.database.read, asked.answer)
    filename = f"promoter-feedback-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        iterate_in_threadpool(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _change(
    request: Request,
    services: Services,
    session: SessionDep,
    change: Callable[[Connection, Any], bool],
    done: str,
) -> Response:
    """Run ``change`` (False: no such response in this organization) and go back."""
    form = await read_form(request)
    check_csrf(request, session, form)

    def run() -> bool | str:
        try:
            with services.database.write() as conn:
                return change(conn, form)
        except InvalidTag as exc:
            return str(exc)

    outcome = await run_in_threadpool(run)
    if outcome is False:
        return render(
            request,
            "error.html",
            session,
            status=404,
            heading="Not found",
            message="There is no such feedback.",
        )
    if isinstance(outcome, str):
        return render(
            request, "error.html", session, status=400, heading="Not saved", message=outcome
        )
    back = safe_next(form.get("return") or "/feedback")
    path, _, fragment = back.partition("#")
    separator = "&" if "?" in path else "?"
    return see_other(f"{path}{separator}done={done}" + (f"#{fragment}" if fragment else ""))


@router.post("/feedback/{response_id}/status")
async def change_status(
    request: Request, services: ServicesDep, session: SessionDep, response_id: ResponseId
) -> Response:
    def change(conn: Connection, form: Any) -> bool:
        status: FeedbackStatus = "CLOSED" if form.get("status") == "CLOSED" else "OPEN"
        return set_status(
            conn,
            organization_id=session.user.organization_id,
            response_id=response_id,
            status=status,
            now=datetime.now(UTC),
        )

    return await _change(request, services, session, change, "status-saved")


@router.post("/feedback/{response_id}/tags")
async def tag(
    request: Request, services: ServicesDep, session: SessionDep, response_id: ResponseId
) -> Response:
    def change(conn: Connection, form: Any) -> bool:
        tags = [t for t in form.get("tags").split(",") if t.strip()]
        if not tags:
            raise InvalidTag("type a tag (several: separate them with commas)")
        return add_tags(
            conn,
            organization_id=session.user.organization_id,
            response_id=response_id,
            tags=tags,
            now=datetime.now(UTC),
        )

    return await _change(request, services, session, change, "tags-saved")


@router.post("/feedback/{response_id}/tags/remove")
async def untag(
    request: Request, services: ServicesDep, session: SessionDep, response_id: ResponseId
) -> Response:
    def change(conn: Connection, form: Any) -> bool:
        return remove_tags(
            conn,
            organization_id=session.user.organization_id,
            response_id=response_id,
            tags=[form.get("tag")],
            now=datetime.now(UTC),
        )

    return await _change(request, services, session, change, "tags-saved")

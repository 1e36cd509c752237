"""Feedback: the matching responses, newest first, one or two lines each (score, comment,
contact, date, tags, status), searched by their comments (acting on those selected:
selection.py); one piece of feedback on its own page (the API's ``followup_href``), with
its tags, status and notes; CSV export of the current filter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import Session
from promoter.analytics.params import zone_of
from promoter.analytics.query import Scope
from promoter.analytics.suggest import tag_names
from promoter.campaigns.service import list_campaigns
from promoter.domain.ids import MAX_BIGINT_ID
from promoter.domain.paging import Page
from promoter.feedback.followup import FeedbackStatus, InvalidTag, add_tags, remove_tags, set_status
from promoter.feedback.notes import InvalidNote, Note, add_note, notes_by_response
from promoter.feedback.reading import Feedback, export_csv, feedback_page, get_feedback
from promoter.feedback.replies import Conversation, Replier, conversation
from promoter.feedback.search import CommentSearch, SearchError, parse_search
from promoter.orgs.service import get_organization
from promoter.services import Services
from promoter.web.dashboard.answers import ask_async
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    render,
    safe_next,
    see_other,
    with_done,
)
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, iterate_in_thread, read

router = APIRouter(include_in_schema=False)
ResponseId = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID)]
PAGE_SIZE = 25
MAX_PAGE = 10**6


@dataclass
class FeedbackList:
    total: int
    items: list[Feedback]
    tags: list[str]
    page: int
    pages: int


@dataclass
class FeedbackOne:
    item: Feedback
    tags: list[str]
    notes: dict[int, list[Note]]
    timezone: str
    campaign_names: dict[int, str]
    reply: Conversation | None = None


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


def _compute(
    services: Services, number: int, search: CommentSearch | None
) -> Callable[[Connection, Scope, ZoneInfo], FeedbackList]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> FeedbackList:
        page = Page(number=number, size=PAGE_SIZE)
        listed = services.analytics.listed
        total, items = feedback_page(conn, scope, page, search=search, listed=listed)
        tags = tag_names(conn, organization_id=scope.query.organization_id)
        pages = max(1, -(-total // PAGE_SIZE))
        return FeedbackList(total, items, tags, number, pages)

    return compute


@dataclass(frozen=True)
class Searched:
    """The comment search in the page's URL (``search``): as typed, and as read."""

    typed: str
    search: CommentSearch | None
    error: str | None

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The query pairs that keep it in the page's links and forms."""
        return [("search", self.typed)] if self.typed else []


def _searched(request: Request) -> Searched:
    typed = request.query_params.get("search", "").strip()
    try:
        return Searched(typed, parse_search(typed), None)
    except SearchError as exc:
        return Searched(typed, None, str(exc))


def _nothing(conn: Connection, scope: Scope, zone: ZoneInfo) -> None:
    return None


@router.get("/feedback")
async def feedback_list(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    number = _page_number(request)
    searched = _searched(request)
    compute = _nothing if searched.error else _compute(services, number, searched.search)
    asked = await ask_async(services, session, request.query_params.multi_items(), compute)
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
        timezone=asked.timezone,
        here=here,
        searched=searched,
        keep=searched.pairs,
        extra_css=["feedback.css"],
        extra_js=["feedback.js"],
        **asked.bar,
    )


@router.get("/feedback/export.csv")
async def feedback_export(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    searched = _searched(request)
    asked = await ask_async(
        services,
        session,
        request.query_params.multi_items(),
        lambda conn, scope, zone: scope,
    )
    if asked.answer is None or searched.error:
        return render(
            request,
            "error.html",
            session,
            status=400,
            heading="Nothing to export",
            message=searched.error or asked.error or "The filter cannot be read.",
        )
    rows: Iterator[str] = export_csv(services.database.read, asked.answer, searched.search)
    filename = f"promoter-feedback-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        iterate_in_thread(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def not_found(request: Request, session: Session) -> Response:
    return render(
        request,
        "error.html",
        session,
        status=404,
        heading="Not found",
        message="There is no such feedback.",
    )


def load_one(conn: Connection, *, session: Session, response_id: int) -> FeedbackOne | None:
    """One piece of feedback of the session's organization, with what its page shows."""
    organization_id = session.user.organization_id
    item = get_feedback(conn, organization_id=organization_id, response_id=response_id)
    if item is None:
        return None
    org = get_organization(conn, organization_id=organization_id)
    return FeedbackOne(
        item=item,
        tags=tag_names(conn, organization_id=organization_id),
        notes=notes_by_response(conn, organization_id=organization_id, response_ids=[response_id]),
        timezone=zone_of(org.timezone).key,
        campaign_names={
            c.id: c.name for c in list_campaigns(conn, organization_id=organization_id)
        },
        reply=conversation(
            conn,
            organization_id=organization_id,
            response_id=response_id,
            replier=Replier(session.user.email, session.user.name),
        ),
    )


def render_one(
    request: Request,
    services: Services,
    session: Session,
    found: FeedbackOne,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The page of one piece of feedback (``context``: a reply form sent back, say)."""
    return render(
        request,
        "feedback.html",
        session,
        status=status,
        section="feedback",
        single=found.item,
        result=found,
        campaign_names=found.campaign_names,
        timezone=found.timezone,
        here=request.url.path,
        sender_address=services.settings.sender_address,
        extra_css=["replies.css"],
        **context,
    )


@router.get("/feedback/{response_id}")
async def feedback_one(
    request: Request, services: ServicesDep, session: SessionDep, response_id: ResponseId
) -> Response:
    """One piece of feedback with all its notes: where the API's ``followup_href`` leads."""
    found = await read(services, load_one, session=session, response_id=response_id)
    if found is None:
        return not_found(request, session)
    return render_one(request, services, session, found)


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
        except (InvalidTag, InvalidNote) as exc:
            return str(exc)

    outcome = await in_thread(run)
    if outcome is False:
        return not_found(request, session)
    if isinstance(outcome, str):
        return render(
            request, "error.html", session, status=400, heading="Not saved", message=outcome
        )
    return see_other(with_done(safe_next(form.get("return") or "/feedback"), done))


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


@router.post("/feedback/{response_id}/notes")
async def write_note(
    request: Request, services: ServicesDep, session: SessionDep, response_id: ResponseId
) -> Response:
    def change(conn: Connection, form: Any) -> bool:
        note = add_note(
            conn,
            organization_id=session.user.organization_id,
            response_id=response_id,
            body=form.get("body"),
            author=session.user.email,
            now=datetime.now(UTC),
        )
        return note is not None

    return await _change(request, services, session, change, "note-saved")

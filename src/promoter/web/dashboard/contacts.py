"""Dashboard: contacts pages: searching contacts, one contact's profile, and changing its
status (unsubscribe, mark inactive or active)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.sessions import Session
from promoter.analytics.params import zone_of
from promoter.contacts.profile import Answer, ListChoice, Profile, load_profile, organization_lists
from promoter.contacts.service import (
    Contact,
    ContactFilter,
    ContactNotFound,
    StatusChangeRefused,
    change_status,
    list_contacts,
)
from promoter.domain.ids import MAX_BIGINT_ID, MAX_INT_ID
from promoter.domain.paging import Page
from promoter.orgs.service import get_organization
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, render, see_other, with_done
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, write

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MAX_PAGE = 1_000_000
MAX_LIST_ID = MAX_INT_ID
MAX_SEARCH = 320
STATUSES = ("active", "inactive", "unsubscribed", "bounced")
_DIGITS = re.compile(r"[0-9]{1,19}")
CSS = ["contacts.css"]

#: The POST actions: the path's last part -> (the status it sets, the flash code).
ACTIONS = {
    "unsubscribe": ("unsubscribed", "contact-unsubscribed"),
    "inactive": ("inactive", "contact-inactive"),
    "active": ("active", "contact-active"),
}


def _number(text: str | None, highest: int) -> int | None:
    """A whole number from 1 to ``highest`` written in plain digits, else None."""
    if text is None or not _DIGITS.fullmatch(text.strip()):
        return None
    value = int(text.strip())
    return value if 1 <= value <= highest else None


def _zone_name(name: str) -> str:
    """The organization's time zone, or UTC when it is not one Python knows."""
    return zone_of(name).key


def _not_found(request: Request, session: Session) -> Response:
    return render(
        request,
        "error.html",
        session,
        status=404,
        section="contacts",
        heading="Contact not found",
        message="There is no such contact in your organization.",
    )


@dataclass(frozen=True)
class Search:
    text: str
    list_id: int | None
    status: str
    page: int

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The search as query parameters, without the page."""
        pairs = [("q", self.text)] if self.text else []
        if self.list_id is not None:
            pairs.append(("list", str(self.list_id)))
        if self.status:
            pairs.append(("status", self.status))
        return pairs


def _search(request: Request) -> Search:
    params = request.query_params
    status = params.get("status", "")
    return Search(
        text=params.get("q", "").replace("\x00", "").strip()[:MAX_SEARCH],
        list_id=_number(params.get("list"), MAX_LIST_ID),
        status=status if status in STATUSES else "",
        page=_number(params.get("page"), MAX_PAGE) or 1,
    )


@dataclass(frozen=True)
class Found:
    total: int
    contacts: list[Contact]
    lists: list[ListChoice]
    timezone: str


@router.get("/contacts")
async def contacts_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    search = _search(request)
    organization_id = session.user.organization_id
    flt = ContactFilter(
        text=search.text or None, list_id=search.list_id, status=search.status or None
    )

    def find() -> Found:
        with services.database.read() as conn:
            org = get_organization(conn, organization_id=organization_id)
            total, found = list_contacts(
                conn,
                organization_id=organization_id,
                flt=flt,
                page=Page(search.page, PAGE_SIZE),
                newest_first=True,
            )
            lists = organization_lists(conn, organization_id=organization_id)
        return Found(total, found, lists, _zone_name(org.timezone))

    found = await in_thread(find)
    last = max(1, -(-found.total // PAGE_SIZE))
    return render(
        request,
        "contacts.html",
        session,
        section="contacts",
        extra_css=CSS,
        search=search,
        found=found,
        statuses=STATUSES,
        last_page=last,
        first_shown=(search.page - 1) * PAGE_SIZE + 1,
    )


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    kind: str
    title: str


@dataclass(frozen=True)
class ScoreChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    #: (position, label) of the score grid lines.
    y_ticks: list[tuple[float, str]]
    #: (position, label, anchor) of the first and last dates.
    x_ticks: list[tuple[float, str, str]]
    line: str
    dots: list[Dot]


def score_chart(
    answers: Sequence[Answer], zone: ZoneInfo, width: int = 640, height: int = 170
) -> ScoreChart | None:
    """Scores over time (placed by date), coloured by promoter, passive or detractor."""
    if not answers:
        return None
    left, right, top, bottom = 36.0, width - 12.0, 18.0, height - 24.0
    ordered = sorted(answers, key=lambda a: (a.created_at, a.id))
    first, last = ordered[0].created_at, ordered[-1].created_at
    span = (last - first).total_seconds()

    def x(at: datetime) -> float:
        if span <= 0:
            return (left + right) / 2
        return left + (at - first).total_seconds() / span * (right - left)

    def y(score: float) -> float:
        return bottom - score / 10 * (bottom - top)

    dots = [
        Dot(
            x(a.created_at),
            y(a.score),
            a.kind,
            f"{a.created_at.astimezone(zone):%Y-%m-%d}: {a.score} ({a.campaign_name})",
        )
        for a in ordered
    ]
    start = first.astimezone(zone).strftime("%Y-%m-%d")
    end = last.astimezone(zone).strftime("%Y-%m-%d")
    if span <= 0:
        x_ticks = [((left + right) / 2, start, "middle")]
    else:
        x_ticks = [(left, start, "start")]
        if end != start:
            x_ticks.append((right, end, "end"))
    return ScoreChart(
        width,
        height,
        left,
        right,
        top,
        bottom,
        [(y(v), str(v)) for v in (0, 5, 10)],
        x_ticks,
        " ".join(f"{d.x:.1f},{d.y:.1f}" for d in dots),
        dots,
    )


@router.get("/contacts/{contact_id}")
async def contact_page(
    request: Request, services: ServicesDep, session: SessionDep, contact_id: str
) -> Response:
    number = _number(contact_id, MAX_BIGINT_ID)
    if number is None:
        return _not_found(request, session)
    organization_id = session.user.organization_id

    def load() -> tuple[Profile | None, str]:
        with services.database.read() as conn:
            org = get_organization(conn, organization_id=organization_id)
            profile = load_profile(conn, organization_id=organization_id, contact_id=number)
        return profile, _zone_name(org.timezone)

    profile, timezone = await in_thread(load)
    if profile is None:
        return _not_found(request, session)
    return render(
        request,
        "contact.html",
        session,
        section="contacts",
        extra_css=CSS,
        profile=profile,
        c=profile.contact,
        timezone=timezone,
        chart=score_chart(profile.responses.items, ZoneInfo(timezone)),
    )


@router.post("/contacts/{contact_id}/{action}")
async def contact_action(
    request: Request, services: ServicesDep, session: SessionDep, contact_id: str, action: str
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    number = _number(contact_id, MAX_BIGINT_ID)
    if number is None or action not in ACTIONS:
        return _not_found(request, session)
    status, done = ACTIONS[action]
    organization_id = session.user.organization_id

    def change(conn: Connection) -> None:
        change_status(
            conn,
            organization_id=organization_id,
            contact_id=number,
            status=status,
            now=datetime.now(UTC),
        )

    try:
        await write(services, change)
    except ContactNotFound:
        return _not_found(request, session)
    except StatusChangeRefused as exc:
        problem = str(exc)
        return render(
            request,
            "error.html",
            session,
            status=409,
            section="contacts",
            heading="The contact was not changed",
            message=problem[:1].upper() + problem[1:] + ".",
        )
    return see_other(with_done(f"/contacts/{number}", done))

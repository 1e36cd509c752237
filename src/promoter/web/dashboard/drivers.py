"""Drivers: the groups of answers ranked by their impact on the NPS, with intervals in
words and as bars, and the regressions of promoter and detractor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.drivers import (
    DEFAULT_TOP,
    MAX_ATTRIBUTES,
    MAX_EVENTS,
    MAX_TOP,
    Drivers,
    DriversError,
    Ranked,
    drivers,
)
from promoter.analytics.drivers import Request as Asking
from promoter.analytics.query import Scope
from promoter.services import Services
from promoter.web.dashboard.answers import ask_async
from promoter.web.dashboard.session import SessionDep, render
from promoter.web.state import ServicesDep

router = APIRouter(include_in_schema=False)


class Choice:
    """The page's own parameters, as typed in the URL (out of range: the default)."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.by = [v for v in params.getlist("by") if v.strip()][:MAX_ATTRIBUTES]
        self.events = [v for v in params.getlist("event") if v.strip()][:MAX_EVENTS]
        self.top = _number(params.get("top", ""), 1, MAX_TOP, DEFAULT_TOP)
        days = _number(params.get("within_days", ""), 1, 3650, 0)
        self.within_days = days or None

    def asking(self) -> Asking:
        return Asking(tuple(self.by), tuple(self.events), True, self.top, self.within_days)


def _number(text: str, low: int, high: int, default: int) -> int:
    text = text.strip()
    if text.isascii() and text.isdigit() and low <= int(text) <= high:
        return int(text)
    return default


@dataclass(frozen=True, slots=True)
class Bar:
    """An impact and its interval on a scale from -``scale`` to +``scale`` points, as
    percents of the bar's width."""

    start: float
    width: float
    low: float | None
    high: float | None


def bars(groups: list[Ranked]) -> list[Bar]:
    ends = [abs(v) for r in groups if r.impact for v in (r.impact.interval or (r.impact.points,))]
    scale = max([*ends, 1.0])

    def at(points: float) -> float:
        return 50 + 50 * points / scale

    found = []
    for r in groups:
        points = 0.0 if r.impact is None else r.impact.points
        interval = None if r.impact is None else r.impact.interval
        start, end = sorted((at(0), at(points)))
        low, high = (None, None) if interval is None else (at(interval[0]), at(interval[1]))
        found.append(Bar(start, end - start, low, high))
    return found


def _compute(
    services: Services, choice: Choice
) -> Callable[[Connection, Scope, ZoneInfo], Drivers | str]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> Drivers | str:
        try:
            return drivers(services.analytics, conn, scope, choice.asking())
        except DriversError as exc:
            return str(exc)

    return compute


@router.get("/drivers")
async def drivers_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    choice = Choice(request)
    asked = await ask_async(
        services, session, request.query_params.multi_items(), _compute(services, choice)
    )
    found = asked.answer
    result = found if isinstance(found, Drivers) else None
    return render(
        request,
        "drivers.html",
        session,
        section="drivers",
        asked=asked,
        result=result,
        problem=found if isinstance(found, str) else None,
        bars=bars(result.groups) if result else [],
        choice=choice,
        **asked.bar,
    )

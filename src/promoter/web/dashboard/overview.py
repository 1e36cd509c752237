"""The overview: NPS with its margin and its change from the period before, the split, the
0-10 distribution, the trend, and delivery counts, for the question in the URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.change import NpsChange, TooFewToCompare, nps_change
from promoter.analytics.params import zone_of
from promoter.analytics.query import Scope
from promoter.analytics.report import DeliveryStats, NpsReport
from promoter.analytics.trend import TrendPoint
from promoter.domain.nps import NpsSummary
from promoter.services import Services
from promoter.web.dashboard import charts
from promoter.web.dashboard.answers import ask_async
from promoter.web.dashboard.ranges import Days, first_day, last_day, window_of
from promoter.web.dashboard.session import SessionDep, render
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, read
from promoter.webhooks.subscriptions import Subscription, disabled_after_failing

router = APIRouter(include_in_schema=False)

Interval = Literal["day", "week", "month", "quarter"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month", "quarter")


@dataclass
class Overview:
    report: NpsReport
    delivery: DeliveryStats
    interval: Interval
    points: list[TrendPoint]
    scope: Scope


def _interval(requested: str, scope: Scope) -> Interval:
    if requested in INTERVALS:
        return requested
    days = (scope.window.until - scope.window.since).days
    if days <= 45:
        return "day"
    if days <= 200:
        return "week"
    if days <= 1100:
        return "month"
    return "quarter"


def _compute(
    services: Services, requested: str
) -> Callable[[Connection, Scope, ZoneInfo], Overview]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> Overview:
        report = services.analytics.nps(conn, scope)
        interval = _interval(requested, scope)
        points = services.analytics.trend(conn, scope, interval=interval, zone=zone)
        return Overview(report, services.analytics.delivery(conn, scope), interval, points, scope)

    return compute


@dataclass
class Change:
    """The same question over the period before: its NPS, and the change from it."""

    before: NpsSummary
    change: NpsChange | TooFewToCompare | None

    @property
    def compared(self) -> NpsChange | None:
        return self.change if isinstance(self.change, NpsChange) else None

    @property
    def too_few(self) -> TooFewToCompare | None:
        return self.change if isinstance(self.change, TooFewToCompare) else None


def _change(
    conn: Connection, services: Services, result: Overview, days: Days, zone: ZoneInfo
) -> Change:
    before = services.analytics.nps(conn, replace(result.scope, window=window_of(days, zone)))
    return Change(before.summary, nps_change(result.report.summary, before.summary))


def _disabled_webhooks(services: Services, organization_id: int) -> list[Subscription]:
    with services.database.read() as conn:
        return disabled_after_failing(conn, organization_id=organization_id)


@router.get("/")
async def overview(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    requested = request.query_params.get("every", "")
    asked = await ask_async(
        services,
        session,
        request.query_params.multi_items(),
        _compute(services, requested),
    )
    context: dict[str, Any] = {"asked": asked, **asked.bar}
    result: Overview | None = asked.answer
    previous = asked.question.previous
    context["previous"] = previous
    context["change"] = None
    if result is not None:
        zone = zone_of(asked.timezone)
        window = result.report.window
        context["days"] = Days(first_day(window, zone), last_day(window, zone))
        context["distribution"] = charts.distribution(result.report.distribution)
        context["trend"] = charts.fitted_trend(result.points, result.interval, zone)
        if previous is not None:
            context["change"] = await read(services, _change, services, result, previous.days, zone)
    return render(
        request,
        "overview.html",
        session,
        section="overview",
        result=result,
        intervals=INTERVALS,
        every=requested if requested in INTERVALS else "",
        keep=[("every", requested)] if requested in INTERVALS else [],
        disabled_webhooks=await in_thread(
            _disabled_webhooks, services, session.user.organization_id
        ),
        **context,
    )

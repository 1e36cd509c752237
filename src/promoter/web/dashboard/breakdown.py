"""Breakdown: the NPS by the values (or numeric buckets) of one attribute, or by channel,
as a sorted bar chart and a table."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast, get_args
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.breakdown import (
    Breakdown,
    BreakdownRow,
    SortKey,
    row_filter,
)
from promoter.analytics.buckets import parse_buckets
from promoter.analytics.query import Scope
from promoter.services import Services
from promoter.web.dashboard import charts
from promoter.web.dashboard.answers import ask_async
from promoter.web.dashboard.question import filter_json
from promoter.web.dashboard.session import SessionDep, render
from promoter.web.state import ServicesDep

router = APIRouter(include_in_schema=False)

SORTS: dict[str, str] = {
    "nps": "NPS, highest first",
    "responses": "Most responses",
    "value": "Value",
}
assert set(SORTS) == set(get_args(SortKey))


class Choice:
    """The breakdown's own parameters, as typed in the URL."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.by = params.get("by", "").strip()
        self.buckets = params.get("buckets", "").strip()
        sort = params.get("sort", "nps")
        self.sort = cast(SortKey, sort if sort in SORTS else "nps")
        top = params.get("top", "10")
        self.top = int(top) if top.isascii() and top.isdigit() and 1 <= int(top) <= 100 else 10

    def keep(self) -> list[tuple[str, str]]:
        pairs = [("by", self.by), ("sort", self.sort), ("top", str(self.top))]
        if self.buckets:
            pairs.append(("buckets", self.buckets))
        return [(k, v) for k, v in pairs if v]


def _compute(
    services: Services, choice: Choice
) -> Callable[[Connection, Scope, ZoneInfo], Breakdown | None]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> Breakdown | None:
        if not choice.by:
            return None
        buckets = parse_buckets(choice.buckets)
        result = services.analytics.breakdown(
            conn, scope, by=choice.by, top=choice.top, buckets=buckets, sort=choice.sort
        )
        return result if result.edges is None else in_order(result)

    return compute


def in_order(result: Breakdown) -> Breakdown:
    """Buckets from low to high (then OTHER and MISSING): they read best in their order,
    whatever the values' sort."""
    rows = result.rows
    buckets = [r for r in rows if r.low is not None or r.high is not None]
    buckets.sort(key=lambda r: -math.inf if r.low is None else r.low)
    return replace(result, rows=buckets + [r for r in rows if r.low is None and r.high is None])


def drill_down(current: Any, by: str, row: BreakdownRow) -> str | None:
    """The filter that reads this row's feedback: the page's filter AND the row's value."""
    condition = row_filter(by, row)
    if condition is None:
        return None
    combined = condition if current is None else {"and": [current, condition]}
    return filter_json(combined)


def edge_text(edge: float) -> str:
    """An edge as it is typed in the buckets field (no thousands separators)."""
    return str(int(edge)) if edge.is_integer() and abs(edge) < 2**53 else repr(edge)


@router.get("/breakdown")
async def breakdown_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    choice = Choice(request)
    asked = await ask_async(
        services, session, request.query_params.multi_items(), _compute(services, choice)
    )
    if not choice.by and asked.error is None:
        names = asked.bar["attribute_names"]
        if names:  # start with the most telling attribute there is
            choice.by = "plan" if "plan" in names else names[0]
            asked = await ask_async(
                services, session, request.query_params.multi_items(), _compute(services, choice)
            )
    result: Breakdown | None = asked.answer
    links = (
        [drill_down(asked.question.filter_data, choice.by, r) for r in result.rows]
        if result
        else []
    )
    return render(
        request,
        "breakdown.html",
        session,
        section="breakdown",
        asked=asked,
        result=result,
        chart=charts.fitted_breakdown(result.rows) if result else None,
        links=links,
        differences=result.differences() if result else [],
        choice=choice,
        edges_text=", ".join(edge_text(e) for e in result.edges) if result and result.edges else "",
        sorts=SORTS,
        keep=choice.keep(),
        **asked.bar,
    )

"""The answers to a page's question: the filter bar's choices and the page's numbers, read in
one transaction off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from promoter.accounts.sessions import Session
from promoter.analytics.breakdown import BreakdownError
from promoter.analytics.filters import FilterError
from promoter.analytics.params import build_query, zone_of
from promoter.analytics.query import Scope, first_response_at, scope
from promoter.analytics.segments import list_segments
from promoter.analytics.suggest import (
    attribute_names,
    attribute_values,
    case_variants,
    event_names,
)
from promoter.analytics.trend import TrendError
from promoter.campaigns.service import list_campaigns
from promoter.orgs.service import get_organization
from promoter.services import Services
from promoter.web.dashboard.chips import chips
from promoter.web.dashboard.question import (
    OP_LABELS,
    Builder,
    CaseHint,
    PageQuestion,
    Row,
    builder,
    conditions_of,
    read_question,
    since_first,
    with_value,
)
from promoter.web.dashboard.ranges import RANGES
from promoter.web.threads import in_thread

T = TypeVar("T")


@dataclass
class Asked:
    question: PageQuestion
    builder: Builder
    #: What the page computed, or None when the question could not be asked.
    answer: Any
    error: str | None
    timezone: str
    #: Template context for _filters.html.
    bar: dict[str, Any]


def ask(
    services: Services,
    session: Session,
    query: list[tuple[str, str]],
    compute: Callable[[Connection, Scope, ZoneInfo], T],
) -> Asked:
    organization_id = session.user.organization_id
    with services.database.read() as conn:
        org = get_organization(conn, organization_id=organization_id)
        zone = zone_of(org.timezone)
        now = datetime.now(UTC)
        q = read_question(query, zone, now)
        if q.range == "all":
            since_first(q, first_response_at(conn, organization_id=organization_id), zone)
        rows = builder(q.filter_data, q.pending)
        names = attribute_names(conn, organization_id=organization_id)
        for row in rows.rows:
            if row.kind == "attribute" and row.name:
                row.suggestions = attribute_values(
                    conn, organization_id=organization_id, name=row.name
                )
        if not rows.advanced:
            _case_hints(conn, organization_id, q, rows)
        answer: Any = None
        problem = "; ".join(q.errors) if q.errors else None
        if problem is None:
            try:
                nps_query = build_query(
                    conn, organization_id=organization_id, zone=zone, params=q.params
                )
                answer = compute(conn, scope(conn, nps_query, now=now), zone)
            except (FilterError, TrendError, BreakdownError) as exc:
                problem = str(exc)
        bar = {
            "q": q,
            "builder": rows,
            "chips": chips(q.filter_data, q.filter_text, rows),
            "carry": "?" + urlencode(q.shared()) if q.shared() else "",
            "ranges": RANGES,
            "op_labels": OP_LABELS,
            "attribute_names": names,
            "event_names": event_names(conn, organization_id=organization_id),
            "campaigns": list_campaigns(conn, organization_id=organization_id),
            "segments": list_segments(conn, organization_id=organization_id),
            "blank_attribute": Row("attribute"),
            "blank_event": Row("event"),
            "filter_error": problem,
        }
    return Asked(q, rows, answer, problem, org.timezone, bar)


def _case_hints(conn: Connection, organization_id: int, q: PageQuestion, rows: Builder) -> None:
    """For each row "is" (or "is any of") matching case, a value no response has but one
    does in another case: the hint that says so."""
    items = conditions_of(q.filter_data)  # the rows before the pending ones
    for index, (row, item) in enumerate(zip(rows.rows, items, strict=False)):
        if row.kind != "attribute" or row.ignore_case or row.op not in ("eq", "in"):
            continue
        given = item.get("value")
        for value in given if isinstance(given, list) else [given]:
            if not isinstance(value, str):
                continue
            found = case_variants(conn, organization_id=organization_id, name=row.name, value=value)
            if found:
                fixed = with_value(q.filter_data, index, value, found[0])
                row.hint = CaseHint(value, found[0], fixed)
                break


async def ask_async(
    services: Services,
    session: Session,
    query: list[tuple[str, str]],
    compute: Callable[[Connection, Scope, ZoneInfo], T],
) -> Asked:
    return await in_thread(ask, services, session, query, compute)

"""NPS per value of one attribute (top values plus "other"), or per numeric bucket; or per
channel, the response's own dimension."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, select

from promoter.analytics.query import Scope, matching
from promoter.domain.channels import CHANNELS
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary
from promoter.storage.tables import contact_attributes, response_attributes

SortKey = Literal["responses", "nps", "value"]
MAX_TOP = 100
MAX_EDGES = 50

#: Labels of the rows that are not one value.
OTHER = "(other)"
MISSING = "(missing)"

#: ``by`` naming the response's channel rather than an attribute.
CHANNEL = "channel"


class BreakdownError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    #: The attribute's text value, a bucket label, OTHER or MISSING.
    value: str
    summary: NpsSummary
    #: For numeric buckets: [low, high) (None: unbounded).
    low: float | None = None
    high: float | None = None

    def to_json(self) -> dict[str, object]:
        row: dict[str, object] = {"value": self.value}
        if self.low is not None or self.high is not None:
            row["low"] = self.low
            row["high"] = self.high
        return row | self.summary.to_json()


@dataclass(frozen=True, slots=True)
class Breakdown:
    attribute: str
    rows: list[BreakdownRow]
    total: NpsSummary

    def to_json(self) -> dict[str, object]:
        return {
            "attribute": self.attribute,
            "total": self.total.to_json(),
            "rows": [row.to_json() for row in self.rows],
        }


def breakdown(
    conn: Connection,
    scope: Scope,
    *,
    by: str,
    top: int = 10,
    edges: Sequence[float] | None = None,
    sort: SortKey = "responses",
) -> Breakdown:
    """Rows for the ``top`` most frequent values (the rest summed as OTHER, contacts
    without the attribute as MISSING); with ``edges``, one row per numeric bucket
    [edge, next edge), plus below the first and from the last (non-numbers are OTHER)."""
    check(top, edges, by)
    if by == CHANNEL:
        return _by_channel(conn, scope, sort)
    found = matching(scope)
    if scope.query.attributes == "snapshot":
        table: Any = response_attributes
        key = table.c.response_id == found.c.id
    else:
        table = contact_attributes
        key = table.c.contact_id == found.c.contact_id
    joined = found.outerjoin(table, and_(key, table.c.name == by))
    group: Any = table.c.value_text if edges is None else _bucket(table, edges)
    rows = conn.execute(
        select(
            group,
            func.count(),
            func.count().filter(found.c.score >= PROMOTER_MIN),
            func.count().filter(found.c.score <= DETRACTOR_MAX),
        )
        .select_from(joined)
        .group_by(group)
    ).all()
    summaries = {value: NpsSummary.of(n, p, d) for value, n, p, d in rows}
    total = total_of(summaries.values())
    result = top_rows(summaries, top) if edges is None else bucket_rows(summaries, list(edges))
    return Breakdown(by, sorted_rows(result, sort), total)


def _by_channel(conn: Connection, scope: Scope, sort: SortKey) -> Breakdown:
    found = matching(scope, "channel")
    rows = conn.execute(
        select(
            found.c.channel,
            func.count(),
            func.count().filter(found.c.score >= PROMOTER_MIN),
            func.count().filter(found.c.score <= DETRACTOR_MAX),
        ).group_by(found.c.channel)
    ).all()
    return channel_breakdown({value: NpsSummary.of(n, p, d) for value, n, p, d in rows}, sort)


def channel_breakdown(summaries: dict[str, NpsSummary], sort: SortKey) -> Breakdown:
    """One row per channel that has responses."""
    rows = [BreakdownRow(c, summaries[c]) for c in CHANNELS if c in summaries]
    if sort == "responses":
        rows.sort(key=lambda r: (-r.summary.responses, r.value))
    return Breakdown(CHANNEL, sorted_rows(rows, sort), total_of(summaries.values()))


def parse_edges(text: str | None) -> list[float] | None:
    """Bucket edges as typed: numbers separated by commas (``0,100,1000``)."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise BreakdownError("buckets: expected numbers separated by commas") from None


def check(top: int, edges: Sequence[float] | None, by: str) -> None:
    if not by or len(by) > 255 or "\x00" in by:
        raise BreakdownError("by: an attribute name is 1 to 255 characters")
    if by == CHANNEL and edges is not None:
        raise BreakdownError("buckets: a breakdown by channel has no numeric buckets")
    if not 1 <= top <= MAX_TOP:
        raise BreakdownError(f"top is from 1 to {MAX_TOP}")
    if edges is not None and (
        not 1 <= len(edges) <= MAX_EDGES
        or any(b <= a for a, b in itertools.pairwise(edges))
        or not all(math.isfinite(e) for e in edges)
    ):
        raise BreakdownError(f"bucket edges are 1 to {MAX_EDGES} increasing numbers")


def _bucket(table: Any, edges: Sequence[float]) -> Any:
    """-1: missing; 0: below the first edge; i: [edges[i-1], edges[i]); -2: not a number."""
    number = table.c.value_number
    return case(
        (table.c.value_type.is_(None), -1),
        (table.c.value_type != "number", -2),
        *((number < edge, index) for index, edge in enumerate(edges)),
        else_=len(edges),
    )


def top_rows(summaries: dict[Any, NpsSummary], top: int) -> list[BreakdownRow]:
    present = sorted(
        ((value, s) for value, s in summaries.items() if value is not None),
        key=lambda item: (-item[1].responses, item[0]),
    )
    rows = [BreakdownRow(value, s) for value, s in present[:top]]
    rest = [s for _, s in present[top:]]
    if rest:
        rows.append(BreakdownRow(OTHER, total_of(rest)))
    if None in summaries:
        rows.append(BreakdownRow(MISSING, summaries[None]))
    return rows


def bucket_rows(summaries: dict[Any, NpsSummary], edges: list[float]) -> list[BreakdownRow]:
    rows = []
    bounds: list[float | None] = [None, *edges, None]
    for index in range(len(edges) + 1):
        low, high = bounds[index], bounds[index + 1]
        summary = summaries.get(index, NpsSummary.of(0, 0, 0))
        rows.append(BreakdownRow(_label(low, high), summary, low, high))
    if -2 in summaries:
        rows.append(BreakdownRow(OTHER, summaries[-2]))
    if -1 in summaries:
        rows.append(BreakdownRow(MISSING, summaries[-1]))
    return rows


def _label(low: float | None, high: float | None) -> str:
    def text(x: float) -> str:
        return str(int(x)) if x.is_integer() else repr(x)

    if low is None:
        return f"< {text(high)}" if high is not None else "all"
    if high is None:
        return f">= {text(low)}"
    return f"{text(low)} to < {text(high)}"


def total_of(summaries: Any) -> NpsSummary:
    n = p = d = 0
    for s in summaries:
        n, p, d = n + s.responses, p + s.promoters, d + s.detractors
    return NpsSummary.of(n, p, d)


def sorted_rows(rows: list[BreakdownRow], sort: SortKey) -> list[BreakdownRow]:
    """Values first in the chosen order; OTHER and MISSING stay last; buckets keep theirs."""
    if sort == "responses" and any(r.low is not None or r.high is not None for r in rows):
        return rows
    fixed = [r for r in rows if r.value in (OTHER, MISSING)]
    values = [r for r in rows if r.value not in (OTHER, MISSING)]
    if sort == "nps":
        values.sort(key=lambda r: (r.summary.nps is None, -(r.summary.nps or 0.0), r.value))
    elif sort == "value":
        values.sort(key=lambda r: r.value)
    return values + fixed

"""NPS per value of one attribute (top values plus "other"), or per numeric bucket (chosen
automatically for a numeric attribute, or given); or per channel, the response's own
dimension."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, func, select

from promoter.analytics.buckets import AUTO, NONE, Buckets, auto_edges, check_edges, is_numeric
from promoter.analytics.buckets import BreakdownError as BreakdownError
from promoter.analytics.buckets import label as bucket_label
from promoter.analytics.query import Scope, matching
from promoter.analytics.significance import Difference, differences
from promoter.domain.channels import CHANNELS
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary
from promoter.storage.tables import contact_attributes, response_attributes

SortKey = Literal["responses", "nps", "value"]
MAX_TOP = 100

#: Labels of the rows that are not one value.
OTHER = "(other)"
MISSING = "(missing)"

EMPTY = NpsSummary.of(0, 0, 0)

#: ``by`` naming the response's channel rather than an attribute.
CHANNEL = "channel"


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
    #: The bucket edges used (given or chosen), or None for one row per value.
    edges: tuple[float, ...] | None = None

    def differences(self) -> list[Difference | None]:
        """Per row, how its NPS differs from the other rows' (None: too few to test)."""
        return differences([row.summary for row in self.rows], self.total)

    def to_json(self) -> dict[str, object]:
        return {
            "attribute": self.attribute,
            "buckets": None if self.edges is None else list(self.edges),
            "total": self.total.to_json(),
            "rows": [
                row.to_json() | difference_json(found)
                for row, found in zip(self.rows, self.differences(), strict=True)
            ],
        }


def difference_json(found: Difference | None) -> dict[str, object]:
    if found is None:
        return {"differs": None, "p_value": None, "q_value": None}
    return {"differs": found.differs, "p_value": found.p_value, "q_value": found.q_value}


@dataclass(frozen=True, slots=True)
class ValueCount:
    """The responses sharing one value of the attribute: its canonical text (None: the
    attribute is missing) and, for a value typed as a number, the number."""

    text: str | None
    number: float | None
    summary: NpsSummary


def breakdown(
    conn: Connection,
    scope: Scope,
    *,
    by: str,
    top: int = 10,
    buckets: Buckets = AUTO,
    sort: SortKey = "responses",
) -> Breakdown:
    """The breakdown of the scope's responses by ``by`` (see ``from_values``)."""
    check(top, buckets, by)
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
    group = (table.c.value_text, table.c.value_type, table.c.value_number)
    rows = conn.execute(
        select(
            *group,
            func.count(),
            func.count().filter(found.c.score >= PROMOTER_MIN),
            func.count().filter(found.c.score <= DETRACTOR_MAX),
        )
        .select_from(joined)
        .group_by(*group)
    ).all()
    values = [
        ValueCount(text, number if kind == "number" else None, NpsSummary.of(n, p, d))
        for text, kind, number, n, p, d in rows
    ]
    return from_values(by, values, top=top, buckets=buckets, sort=sort)


def from_values(
    by: str, values: list[ValueCount], *, top: int, buckets: Buckets, sort: SortKey
) -> Breakdown:
    """Rows for the ``top`` most frequent values (the rest summed as OTHER, responses
    without the attribute as MISSING); or, with edges (given, or chosen for a numeric
    attribute), one row per bucket [edge, next edge), plus below the first and from the
    last (values that are not numbers are OTHER)."""
    numbers: dict[float, int] = {}
    for v in values:
        if v.number is not None:
            numbers[v.number] = numbers.get(v.number, 0) + v.summary.responses
    present = sum(v.summary.responses for v in values if v.text is not None)
    edges = edges_of(buckets, sorted(numbers.items()), present)
    total = total_of(v.summary for v in values)
    if edges is None:
        by_text: dict[str | None, list[NpsSummary]] = {}
        for v in values:
            by_text.setdefault(v.text, []).append(v.summary)
        merged = {text: total_of(summaries) for text, summaries in by_text.items()}
        return Breakdown(by, sorted_rows(top_rows(merged, top), sort), total)
    integers = all(n.is_integer() for n in numbers)
    return Breakdown(by, sorted_rows(bucket_rows(values, edges, integers), sort), total, edges)


def edges_of(
    buckets: Buckets, counts: Sequence[tuple[float, int]], present: int
) -> tuple[float, ...] | None:
    """The bucket edges: given, or chosen for a numeric attribute (``counts``: its numbers
    and their responses, by increasing number; ``present``: the responses that have it);
    None: one row per value."""
    if isinstance(buckets, tuple):
        return buckets
    if buckets == AUTO and is_numeric(sum(n for _, n in counts), present, len(counts)):
        return auto_edges(counts) or None
    return None


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


def row_filter(by: str, row: BreakdownRow) -> dict[str, Any] | None:
    """The filter (as JSON) that finds the row's responses; None for OTHER, the values
    the other rows leave."""
    if row.value == OTHER:
        return None
    if by == CHANNEL:
        return {"channel": row.value}
    if row.value == MISSING:
        return {"attribute": by, "op": "missing"}
    if row.low is None and row.high is None:
        return {"attribute": by, "op": "eq", "value": row.value}
    parts = []
    if row.low is not None:
        parts.append({"attribute": by, "op": "gte", "value": row.low})
    if row.high is not None:
        parts.append({"attribute": by, "op": "lt", "value": row.high})
    return parts[0] if len(parts) == 1 else {"and": parts}


def check(top: int, buckets: Buckets, by: str) -> None:
    if not by or len(by) > 255 or "\x00" in by:
        raise BreakdownError("by: an attribute name is 1 to 255 characters")
    if by == CHANNEL and isinstance(buckets, tuple):
        raise BreakdownError("buckets: a breakdown by channel has no numeric buckets")
    if not 1 <= top <= MAX_TOP:
        raise BreakdownError(f"top is from 1 to {MAX_TOP}")
    if isinstance(buckets, tuple):
        check_edges(buckets)
    elif buckets not in (AUTO, NONE):
        raise BreakdownError(f"buckets: expected edges, {AUTO} or {NONE}")


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


def bucket_rows(
    values: Iterable[ValueCount], edges: tuple[float, ...], integers: bool
) -> list[BreakdownRow]:
    """One row per bucket (empty ones too), then OTHER and MISSING when they have
    responses; ``integers``: every number is whole (see ``buckets.label``)."""
    counted: dict[int, list[NpsSummary]] = {}
    for v in values:
        index = -1 if v.text is None else -2 if v.number is None else bisect_right(edges, v.number)
        counted.setdefault(index, []).append(v.summary)
    return rows_of_buckets({i: total_of(found) for i, found in counted.items()}, edges, integers)


def rows_of_buckets(
    counted: dict[int, NpsSummary], edges: tuple[float, ...], integers: bool
) -> list[BreakdownRow]:
    """``bucket_rows`` from each bucket's summary (by its index: ``bisect_right`` of the
    edges; -2 for values that are not numbers, -1 for the missing)."""
    rows = []
    bounds: list[float | None] = [None, *edges, None]
    for index in range(len(edges) + 1):
        low, high = bounds[index], bounds[index + 1]
        summary = counted.get(index, EMPTY)
        rows.append(BreakdownRow(bucket_label(low, high, integers=integers), summary, low, high))
    if counted.get(-2, EMPTY).responses:
        rows.append(BreakdownRow(OTHER, counted[-2]))
    if counted.get(-1, EMPTY).responses:
        rows.append(BreakdownRow(MISSING, counted[-1]))
    return rows


def total_of(summaries: Any) -> NpsSummary:
    n = p = d = 0
    for s in summaries:
        n, p, d = n + s.responses, p + s.promoters, d + s.detractors
    return NpsSummary.of(n, p, d)


def sorted_rows(rows: list[BreakdownRow], sort: SortKey) -> list[BreakdownRow]:
    """Values first in the chosen order; OTHER and MISSING stay last; buckets keep their
    order unless sorted by NPS."""
    if sort != "nps" and any(r.low is not None or r.high is not None for r in rows):
        return rows
    fixed = [r for r in rows if r.value in (OTHER, MISSING)]
    values = [r for r in rows if r.value not in (OTHER, MISSING)]
    if sort == "nps":
        values.sort(key=lambda r: (r.summary.nps is None, -(r.summary.nps or 0.0), r.value))
    elif sort == "value":
        values.sort(key=lambda r: r.value)
    return values + fixed

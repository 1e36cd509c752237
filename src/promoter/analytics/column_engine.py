"""The analytics questions answered over ``ResponseColumns`` with numpy.

Same semantics as the SQL in ``query.py``/``compile.py`` (the tests hold both to the same
brute-force reference). Conditions on the responses — window, campaign, score, comment,
status, tags, channel, snapshot attributes — are array operations. Conditions on contacts —
attributes as they are now, events, orders — are asked of the database as the set of
contacts that satisfy them (that data changes with every ingested event), then looked up;
so are answers to follow-up questions, as the set of responses that gave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, select

from promoter.analytics import breakdown as sql_breakdown
from promoter.analytics import trend as sql_trend
from promoter.analytics.breakdown import Breakdown, SortKey, ValueCount
from promoter.analytics.buckets import AUTO, NONE, Buckets
from promoter.analytics.bulk_read import KINDS
from promoter.analytics.compile import (
    Target,
    answer_matches,
    number_holds,
    order_measure,
    property_condition,
    value_matches,
)
from promoter.analytics.events import tail_counts
from promoter.analytics.filters import (
    And,
    AnswerFilter,
    AttributeFilter,
    ChannelFilter,
    Condition,
    EventFilter,
    Expr,
    Not,
    Or,
    OrderFilter,
    positive,
)
from promoter.analytics.numpy_arrays import Bools, Ints, compare, micros
from promoter.analytics.query import Scope
from promoter.analytics.report import NpsReport
from promoter.analytics.response_columns import CHANNEL_CODES, MISSING, ResponseColumns
from promoter.analytics.trend import Interval, TrendPoint
from promoter.domain.channels import CHANNELS
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, SCORE_RANGES, NpsSummary
from promoter.storage.tables import contact_attributes, orders, response_answers
from promoter.storage.tables import events as events_table

#: Positions of responses: an index array, or a slice of the time-ordered columns.
Rows = Ints | slice


@dataclass
class _Context:
    conn: Connection
    columns: ResponseColumns
    scope: Scope

    @property
    def target(self) -> Target:
        query = self.scope.query
        return Target(
            response_id=None,  # type: ignore[arg-type]
            contact_id=None,  # type: ignore[arg-type]
            organization_id=query.organization_id,
            source=query.attributes,
            now=self.scope.now,
            dialect=self.scope.dialect,
        )


# -- which responses --------------------------------------------------------------------


def matching(
    conn: Connection, scope: Scope, columns: ResponseColumns, *, edges: Sequence[datetime] = ()
) -> Ints | slice:
    """Positions of the matching responses, in time order. With ``edges`` in "latest"
    mode, each contact's latest response per bucket [edges[i], edges[i+1])."""
    query = scope.query
    lo, hi = columns.window(scope.window.since, scope.window.until)
    # A plain window stays a slice: its columns are views, not copies.
    positions: Rows = slice(lo, hi)
    if query.campaign_ids:
        in_campaigns = np.isin(columns.campaign[lo:hi], query.campaign_ids)
        positions = np.flatnonzero(in_campaigns) + lo
    if query.count == "latest":
        positions = _latest(columns, _indexes(positions), edges)
    keep = _response_conditions(_Context(conn, columns, scope), positions)
    if keep is None:
        return positions
    if isinstance(positions, slice):
        return np.flatnonzero(keep) + lo
    return positions[keep]


def _indexes(rows: Rows) -> Ints:
    if isinstance(rows, slice):
        return np.arange(rows.start, rows.stop, dtype=np.int64)
    return rows


def _size(rows: Rows) -> int:
    if isinstance(rows, slice):
        return max(0, int(rows.stop) - int(rows.start))
    return len(rows)


def _latest(columns: ResponseColumns, positions: Ints, edges: Sequence[datetime]) -> Ints:
    if not len(positions):
        return positions
    _, dense = columns.contact_dense()
    key = dense[positions]
    if edges:
        bucket = np.searchsorted(
            np.array([micros(e) for e in edges]), columns.created[positions], "right"
        )
        key = bucket.astype(np.int64) * (int(dense.max()) + 1) + key
    # The last occurrence of each key is the latest (positions are in time order).
    _, first_from_end = np.unique(key[::-1], return_index=True)
    latest = np.sort(len(positions) - 1 - first_from_end)
    return positions[latest]


def _response_conditions(ctx: _Context, positions: Rows) -> Bools | None:
    query = ctx.scope.query
    columns = ctx.columns
    keep: Bools | None = None
    size = _size(positions)

    def narrow(mask: Bools) -> None:
        nonlocal keep
        keep = mask if keep is None else keep & mask

    if query.scores or query.score_types:
        allowed = set(query.scores)
        for kind in query.score_types:
            low, high = SCORE_RANGES[kind]
            allowed.update(range(low, high + 1))
        narrow(np.isin(columns.score[positions], sorted(allowed)))
    if query.has_comment is not None:
        commented = columns.commented[positions]
        narrow(commented if query.has_comment else ~commented)
    if query.statuses and set(query.statuses) != {"OPEN", "CLOSED"}:
        closed = columns.closed[positions]
        narrow(closed if "CLOSED" in query.statuses else ~closed)
    for tag in query.tags:
        flags = columns.tags.get(tag)
        narrow(np.zeros(size, np.bool_) if flags is None else flags[positions])
    if query.where is not None:
        narrow(_mask(query.where, ctx, positions))
    return keep


def filter_mask(conn: Connection, scope: Scope, columns: ResponseColumns, positions: Rows) -> Bools:
    """Whether each response at ``positions`` meets the scope's filter (``where`` alone:
    not its window, campaigns, scores, comment, status or tags)."""
    assert scope.query.where is not None
    return _mask(scope.query.where, _Context(conn, columns, scope), positions)


def _mask(expr: Expr, ctx: _Context, positions: Rows) -> Bools:
    if isinstance(expr, And):
        result = np.ones(_size(positions), np.bool_)
        for item in expr.items:
            result &= _mask(item, ctx, positions)
        return result
    if isinstance(expr, Or):
        result = np.zeros(_size(positions), np.bool_)
        for item in expr.items:
            result |= _mask(item, ctx, positions)
        return result
    if isinstance(expr, Not):
        return ~_mask(expr.item, ctx, positions)
    if isinstance(expr, AttributeFilter):
        complemented = positive(expr.condition)
        if complemented is not None:
            return ~_mask(AttributeFilter(expr.name, complemented), ctx, positions)
        if ctx.scope.query.attributes == "snapshot":
            return _snapshot(ctx.conn, ctx.columns, expr, positions)
        return ctx.columns.contacts_in(positions, _current_contacts(ctx, expr))
    if isinstance(expr, EventFilter):
        return _event_mask(ctx, expr, positions)
    if isinstance(expr, AnswerFilter):
        complemented = positive(expr.condition)
        if complemented is not None:
            return ~_mask(replace(expr, condition=complemented), ctx, positions)
        return ctx.columns.responses_in(positions, _answering(ctx, expr))
    if isinstance(expr, ChannelFilter):
        codes = [CHANNEL_CODES[channel] for channel in expr.channels]
        return _one_of(ctx.columns.channel[positions], codes)
    return _orders(ctx, expr, positions)


def _snapshot(
    conn: Connection, columns: ResponseColumns, expr: AttributeFilter, positions: Rows
) -> Bools:
    column = columns.attribute(conn, expr.name)
    if column is None:
        return np.zeros(_size(positions), np.bool_)
    condition = expr.condition
    kind = column.kind[positions]
    op = condition.op
    if op == "exists":
        return kind != MISSING  # type: ignore[no-any-return]
    if op in ("eq", "in"):
        if condition.ignore_case:
            lowered = {v.text.lower() for v in condition.values}
            wanted = [code for code, text in enumerate(column.texts) if text.lower() in lowered]
        else:
            wanted = [column.codes[v.text] for v in condition.values if v.text in column.codes]
        return _one_of(column.code[positions], wanted)
    if op == "contains":
        needle = condition.values[0].text
        if condition.ignore_case:
            needle = needle.lower()
            wanted = [code for code, text in enumerate(column.texts) if needle in text.lower()]
        else:
            wanted = [code for code, text in enumerate(column.texts) if needle in text]
        return (kind == 1) & _one_of(column.code[positions], wanted)  # type: ignore[no-any-return]
    number = column.numbers(positions)
    if condition.kind == "number":
        low = None if condition.low is None else condition.low.number
        high = None if condition.high is None else condition.high.number
        return (kind == 2) & compare(number, op, low, high)  # type: ignore[no-any-return]
    low = (
        None if condition.low is None or condition.low.date is None else micros(condition.low.date)
    )
    high = (
        None
        if condition.high is None or condition.high.date is None
        else micros(condition.high.date)
    )
    return (kind == 4) & compare(number, op, low, high)  # type: ignore[no-any-return]


def _one_of(codes: Any, wanted: list[int]) -> Bools:
    """``codes`` in ``wanted``: a comparison or two for short lists, a lookup table else."""
    if len(wanted) <= 4:
        result = np.zeros(len(codes), np.bool_)
        for code in wanted:
            result |= codes == code
        return result
    return np.isin(codes, wanted, kind="table")


def _current_contacts(ctx: _Context, expr: AttributeFilter) -> list[int]:
    c = contact_attributes.c
    stmt = select(c.contact_id).where(
        c.organization_id == ctx.scope.query.organization_id,
        c.name == expr.name,
        value_matches(contact_attributes, expr.condition, ctx.target),
    )
    return list(ctx.conn.execute(stmt).scalars())


def _answering(ctx: _Context, expr: AnswerFilter) -> list[int]:
    """The responses whose answer meets the condition, asked of the database by the
    ``(organization_id, campaign_id, question_id)`` index."""
    a = response_answers.c
    stmt = (
        select(a.response_id)
        .distinct()
        .where(
            a.organization_id == ctx.scope.query.organization_id,
            a.campaign_id == expr.campaign_id,
            a.question_id == expr.question_id,
            answer_matches(expr.condition, ctx.target),
        )
    )
    return list(ctx.conn.execute(stmt).scalars())


def _since(days: int | None, now: datetime) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _event_mask(ctx: _Context, expr: EventFilter, positions: Rows) -> Bools:
    """Settled events from the columns, the newest ones from the database, counted per
    userId; then each response's contact looked up by its userId."""
    events = ctx.columns.events
    events.refresh(ctx.conn)
    since = _since(expr.within_days, ctx.scope.now)
    counts = events.user_counts(ctx.conn, expr, since)
    tail_conditions: list[Any] = [] if since is None else [events_table.c.timestamp >= since]
    tail_conditions.extend(property_condition(p, ctx.target) for p in expr.where)
    tail = tail_counts(
        ctx.conn, ctx.scope.query.organization_id, events.horizon, expr, tail_conditions
    )
    if tail:
        codes = {user: events.code_of_user(user) for user in tail}
        counts = np.concatenate([counts, np.zeros(len(events.user_codes) - len(counts), np.int64)])
        for user, n in tail.items():
            counts[codes[user]] += n
    distinct, dense = ctx.columns.contact_dense()
    user_of_contact = events.user_codes_of(ctx.conn, distinct)
    # The last flag stands for "no such user" (code -1).
    flags = np.append(counts >= expr.min_count, False)
    return flags[user_of_contact[dense[positions]]]


def _orders(ctx: _Context, expr: OrderFilter, positions: Rows) -> Bools:
    o = orders.c
    conditions: list[Any] = [
        o.organization_id == ctx.scope.query.organization_id,
        o.contact_id.is_not(None),
    ]
    since = _since(expr.within_days, ctx.scope.now)
    if since is not None:
        conditions.append(o.timestamp >= since)
    stmt = select(o.contact_id).where(*conditions).group_by(o.contact_id)
    holds = number_holds(expr.condition, order_measure(expr))
    holding = list(ctx.conn.execute(stmt.having(holds)).scalars())
    result = ctx.columns.contacts_in(positions, holding)
    if _holds_for_zero(expr.condition):
        with_orders = list(ctx.conn.execute(stmt).scalars())
        result |= ~ctx.columns.contacts_in(positions, with_orders)
    return result


def _holds_for_zero(condition: Condition) -> bool:
    """Whether a contact without orders (count and total 0) satisfies the condition."""
    numbers = [v.number for v in condition.values]
    op = condition.op
    if op in ("eq", "in"):
        return 0.0 in numbers
    if op in ("ne", "not_in"):
        return 0.0 not in numbers
    low = None if condition.low is None else condition.low.number
    high = None if condition.high is None else condition.high.number
    return bool(compare(np.zeros(1), op, low, high)[0])


# -- what comes back --------------------------------------------------------------------


def nps(conn: Connection, scope: Scope, columns: ResponseColumns) -> NpsReport:
    positions = matching(conn, scope, columns)
    distribution = np.bincount(columns.score[positions], minlength=11).tolist()
    return NpsReport(scope.window, NpsSummary.from_distribution(distribution), distribution)


def listed(
    conn: Connection,
    scope: Scope,
    columns: ResponseColumns,
    offset: int,
    size: int,
    among: list[int] | None,
) -> tuple[int, list[int]]:
    """How many responses match (those among the ids ``among`` only, when given), and the
    ids of [offset, offset + size) of them, newest first (by time, then id)."""
    positions = _indexes(matching(conn, scope, columns))
    if among is not None:
        positions = positions[columns.responses_in(positions, among)]
    total = len(positions)
    chosen = positions[::-1][offset : offset + size]
    return total, columns.ids_at(chosen).tolist()


def _summaries(scores: Any, groups: Any, count: int) -> list[NpsSummary]:
    n = np.bincount(groups, minlength=count)
    p = np.bincount(groups, weights=scores >= PROMOTER_MIN, minlength=count)
    d = np.bincount(groups, weights=scores <= DETRACTOR_MAX, minlength=count)
    return [NpsSummary.of(int(n[i]), int(p[i]), int(d[i])) for i in range(count)]


def trend(
    conn: Connection,
    scope: Scope,
    columns: ResponseColumns,
    *,
    interval: Interval = "month",
    rolling: int | None = None,
    zone: ZoneInfo | None = None,
) -> list[TrendPoint]:
    return sql_trend.points(
        scope,
        lambda s, edges: _bucketed(conn, s, columns, edges),
        interval=interval,
        rolling=rolling,
        zone=zone or ZoneInfo("UTC"),
    )


def _bucketed(
    conn: Connection, scope: Scope, columns: ResponseColumns, edges: Sequence[datetime]
) -> list[NpsSummary]:
    positions = matching(conn, scope, columns, edges=edges)
    bounds = np.array([micros(e) for e in edges], np.int64)
    bucket = np.searchsorted(bounds, columns.created[positions], "right") - 1
    inside = (bucket >= 0) & (bucket < len(edges) - 1)
    return _summaries(columns.score[positions][inside], bucket[inside], len(edges) - 1)


def breakdown(
    conn: Connection,
    scope: Scope,
    columns: ResponseColumns,
    *,
    by: str,
    top: int = 10,
    buckets: Buckets = AUTO,
    sort: SortKey = "responses",
) -> Breakdown:
    sql_breakdown.check(top, buckets, by)
    positions = matching(conn, scope, columns)
    scores = columns.score[positions]
    if by == sql_breakdown.CHANNEL:
        per_channel = _summaries(scores, columns.channel[positions], len(CHANNELS))
        found: dict[str, NpsSummary] = {
            c: s for c, s in zip(CHANNELS, per_channel, strict=True) if s.responses
        }
        return sql_breakdown.channel_breakdown(found, sort)
    assert scope.query.attributes == "snapshot", "breakdowns by current attributes use SQL"
    bucketed = _in_buckets(conn, columns, by, positions, buckets)
    if bucketed is not None:
        return replace(bucketed, rows=sql_breakdown.sorted_rows(bucketed.rows, sort))
    return sql_breakdown.from_values(
        by, _value_counts(conn, columns, by, positions), top=top, buckets=buckets, sort=sort
    )


def _in_buckets(
    conn: Connection, columns: ResponseColumns, by: str, positions: Rows, buckets: Buckets
) -> Breakdown | None:
    """The responses at ``positions`` counted per numeric bucket of ``by`` (as
    ``breakdown.from_values`` counts them, without a row per value); None when they are
    shown one row per value."""
    column = columns.attribute(conn, by)
    if buckets == NONE or column is None:
        return None
    kind = column.kind[positions]
    is_number = kind == KINDS["number"]
    numbers = column.numbers(positions)[is_number]
    distinct, counts = np.unique(numbers, return_counts=True)
    present = int(np.count_nonzero(kind != MISSING))
    edges = sql_breakdown.edges_of(
        buckets, list(zip(distinct.tolist(), counts.tolist(), strict=True)), present
    )
    if edges is None:
        return None
    # Group b: bucket b (bisect_right of the edges); then values that are not numbers,
    # then the missing.
    other, missing = len(edges) + 1, len(edges) + 2
    groups = np.where(kind == MISSING, missing, other)
    groups[is_number] = np.searchsorted(np.asarray(edges, np.float64), numbers, "right")
    summaries = _summaries(columns.score[positions], groups, missing + 1)
    counted = dict(enumerate(summaries[:other])) | {-2: summaries[other], -1: summaries[missing]}
    integers = bool(np.all(distinct == np.floor(distinct)))
    rows = sql_breakdown.rows_of_buckets(counted, edges, integers)
    return Breakdown(by, rows, sql_breakdown.total_of(summaries), edges)


def _value_counts(
    conn: Connection, columns: ResponseColumns, by: str, positions: Rows
) -> list[ValueCount]:
    """The responses at ``positions`` grouped by their value of ``by`` (text and type), as
    the SQL groups them."""
    scores = columns.score[positions]
    column = columns.attribute(conn, by)
    if column is None:
        missing = _summaries(scores, np.zeros(len(scores), np.int64), 1)[0]
        return [ValueCount(None, None, missing)] if missing.responses else []
    kind, code = column.kind[positions], column.code[positions]
    kinds = max(KINDS.values()) + 1
    # One group per (text, type); the missing ones after them all.
    absent = len(column.texts) * kinds
    groups = np.where(kind == MISSING, absent, code.astype(np.int64) * kinds + kind)
    # The groups that occur, numbered densely (a lookup, not a sort: linear in responses).
    keys = np.flatnonzero(np.bincount(groups, minlength=absent + 1))
    number_of = np.zeros(absent + 1, np.int64)
    number_of[keys] = np.arange(len(keys))
    dense = number_of[groups]
    counts = []
    for key, summary in zip(keys.tolist(), _summaries(scores, dense, len(keys)), strict=True):
        if key == absent:
            counts.append(ValueCount(None, None, summary))
            continue
        text_code, type_code = divmod(key, kinds)
        text = column.texts[text_code]
        number = float(text) if type_code == KINDS["number"] else None
        counts.append(ValueCount(text, number, summary))
    return counts

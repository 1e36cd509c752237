"""Brute force: every analytics question answered by loading all rows into Python.

Independent of the SQL: snapshots come from the ``contact_snapshot`` JSON, not from
``response_attributes``; filters are evaluated row by row (answers to follow-up questions
too: read once per response, compared in Python).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

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
    PropertyFilter,
)
from promoter.analytics.query import NpsQuery, Window
from promoter.domain.attributes import AttributeValue, typed_value
from promoter.domain.nps import SCORE_RANGES
from promoter.storage.tables import (
    contact_attributes,
    events,
    orders,
    response_answers,
    response_tags,
    responses,
)


@dataclass
class Row:
    id: int
    contact_id: int
    campaign_id: int
    score: int
    comment: str | None
    status: str
    created_at: datetime
    snapshot: dict[str, AttributeValue]
    tags: set[str] = field(default_factory=set)
    #: Question id -> the values answered.
    answers: dict[str, list[str]] = field(default_factory=dict)
    channel: str = "email"


@dataclass
class World:
    organization_id: int
    rows: list[Row]
    current: dict[int, dict[str, AttributeValue]]
    events: dict[int, list[tuple[str, datetime, dict[str, Any]]]]
    orders: dict[int, list[tuple[float | None, datetime]]]


def load(conn: Connection, organization_id: int) -> World:
    tags: dict[int, set[str]] = defaultdict(set)
    for response_id, tag in conn.execute(
        select(response_tags.c.response_id, response_tags.c.tag).where(
            response_tags.c.organization_id == organization_id
        )
    ):
        tags[response_id].add(tag)
    answers: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for a in conn.execute(
        select(response_answers).where(response_answers.c.organization_id == organization_id)
    ):
        answers[a.response_id].setdefault(a.question_id, []).append(a.value)
    rows = []
    for r in conn.execute(select(responses).where(responses.c.organization_id == organization_id)):
        snapshot = {}
        for name, value in r.contact_snapshot.items():
            typed = typed_value(value)
            assert typed is not None
            snapshot[name] = typed
        rows.append(
            Row(
                r.id,
                r.contact_id,
                r.campaign_id,
                r.score,
                r.comment,
                r.status,
                r.created_at,
                snapshot,
                tags[r.id],
                answers[r.id],
                r.channel,
            )
        )
    current: dict[int, dict[str, AttributeValue]] = defaultdict(dict)
    for a in conn.execute(
        select(contact_attributes).where(contact_attributes.c.organization_id == organization_id)
    ):
        current[a.contact_id][a.name] = AttributeValue(
            a.value_type, a.value_text, a.value_number, a.value_date
        )
    found_events: dict[int, list[tuple[str, datetime, dict[str, Any]]]] = defaultdict(list)
    for e in conn.execute(select(events).where(events.c.organization_id == organization_id)):
        if e.contact_id is not None:
            found_events[e.contact_id].append((e.name, e.timestamp, e.properties))
    found_orders: dict[int, list[tuple[float | None, datetime]]] = defaultdict(list)
    for o in conn.execute(select(orders).where(orders.c.organization_id == organization_id)):
        if o.contact_id is not None:
            amount = o.total if o.total is not None else o.revenue
            found_orders[o.contact_id].append((amount, o.timestamp))
    return World(organization_id, rows, current, found_events, found_orders)


def window(world: World, query: NpsQuery) -> Window:
    until = query.until
    if until is None:
        times = [r.created_at for r in world.rows if _in_campaigns(r, query)]
        until = max(times) + timedelta(microseconds=1)
    since = query.since if query.since is not None else until - timedelta(days=30)
    return Window(since, until)


def _in_campaigns(row: Row, query: NpsQuery) -> bool:
    return not query.campaign_ids or row.campaign_id in query.campaign_ids


def matching(world: World, query: NpsQuery, now: datetime) -> list[Row]:
    span = window(world, query)
    rows = [
        r for r in world.rows if _in_campaigns(r, query) and span.since <= r.created_at < span.until
    ]
    if query.count == "latest":
        latest: dict[int, Row] = {}
        for r in sorted(rows, key=lambda r: (r.created_at, r.id)):
            latest[r.contact_id] = r
        rows = list(latest.values())
    return [r for r in rows if _matches_response(world, query, r, now)]


def _matches_response(world: World, query: NpsQuery, row: Row, now: datetime) -> bool:
    if query.scores or query.score_types:
        allowed = set(query.scores)
        for kind in query.score_types:
            low, high = SCORE_RANGES[kind]
            allowed.update(range(low, high + 1))
        if row.score not in allowed:
            return False
    if query.has_comment is not None and bool(row.comment) != query.has_comment:
        return False
    if query.statuses and row.status not in query.statuses:
        return False
    if not set(query.tags) <= row.tags:
        return False
    return query.where is None or evaluate(world, query, query.where, row, now)


def evaluate(world: World, query: NpsQuery, expr: Expr, row: Row, now: datetime) -> bool:
    if isinstance(expr, And):
        return all(evaluate(world, query, e, row, now) for e in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(world, query, e, row, now) for e in expr.items)
    if isinstance(expr, Not):
        return not evaluate(world, query, expr.item, row, now)
    if isinstance(expr, AttributeFilter):
        attrs = row.snapshot if query.attributes == "snapshot" else world.current[row.contact_id]
        return _attribute(attrs.get(expr.name), expr.condition)
    if isinstance(expr, ChannelFilter):
        return row.channel in expr.channels
    if isinstance(expr, AnswerFilter):
        given = row.answers.get(expr.question_id, [])
        return _answer(given if row.campaign_id == expr.campaign_id else [], expr.condition)
    if isinstance(expr, EventFilter):
        since = None if expr.within_days is None else now - timedelta(days=expr.within_days)
        count = sum(
            1
            for name, at, props in world.events[row.contact_id]
            if name == expr.name
            and (since is None or at >= since)
            and all(_property(props, p) for p in expr.where)
        )
        return count >= expr.min_count
    return _orders(world, expr, row, now)


def _attribute(value: AttributeValue | None, condition: Condition) -> bool:
    op = condition.op
    negated = {"ne": "eq", "not_in": "in", "missing": "exists"}
    if op in negated:
        positive = Condition(negated[op], condition.values, ignore_case=condition.ignore_case)  # type: ignore[arg-type]
        return not _attribute(value, positive)
    if value is None:
        return False
    if op == "exists":
        return True
    if condition.ignore_case and op in ("eq", "in", "contains"):
        text = (value.text or "").lower()
        if op == "contains":
            return value.type == "string" and condition.values[0].text.lower() in text
        return text in {v.text.lower() for v in condition.values}
    if op in ("eq", "in"):
        return value.text in {v.text for v in condition.values}
    if op == "contains":
        return value.type == "string" and condition.values[0].text in (value.text or "")
    if condition.kind == "number":
        return value.type == "number" and _compare(
            value.number, op, _n(condition.low), _n(condition.high)
        )
    return value.type == "date" and _compare(value.date, op, _d(condition.low), _d(condition.high))


def _answer(values: list[str], condition: Condition) -> bool:
    op = condition.op
    negated = {"ne": "eq", "not_in": "in", "missing": "exists"}
    if op in negated:
        return not _answer(values, Condition(negated[op], condition.values))  # type: ignore[arg-type]
    if not values:
        return False
    if op == "exists":
        return True
    if op in ("eq", "in"):
        return any(v in {s.text for s in condition.values} for v in values)
    if op == "contains":
        return any(condition.values[0].text in v for v in values)
    numbers = [int(v) for v in values if v in ("1", "2", "3", "4", "5")]
    return any(_compare(n, op, _n(condition.low), _n(condition.high)) for n in numbers)


def _n(bound: Any) -> Any:
    return None if bound is None else bound.number


def _d(bound: Any) -> Any:
    return None if bound is None else bound.date


def _compare(value: Any, op: str, low: Any, high: Any) -> bool:
    if op == "gt":
        return bool(value > low)
    if op == "gte":
        return bool(value >= low)
    if op == "lt":
        return bool(value < high)
    if op == "lte":
        return bool(value <= high)
    return bool(low <= value <= high)


_MISSING = object()


def _property(props: dict[str, Any], prop: PropertyFilter) -> bool:
    condition = prop.condition
    negated = {"ne": "eq", "not_in": "in", "missing": "exists"}
    if condition.op in negated:
        positive = Condition(negated[condition.op], condition.values)  # type: ignore[arg-type]
        return not _property(props, PropertyFilter(prop.path, positive))
    value: Any = props
    for key in prop.path:
        value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
    if value is _MISSING or value is None:
        return False
    op = condition.op
    if op == "exists":
        return True
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if op == "contains":
        return isinstance(value, str) and condition.values[0].text in value
    if op in ("eq", "in"):
        for scalar in condition.values:
            if scalar.boolean is not None:
                if isinstance(value, bool) and value == scalar.boolean:
                    return True
            elif scalar.number is not None:
                if is_number and float(value) == scalar.number:
                    return True
            elif isinstance(value, str) and value == scalar.text:
                return True
        return False
    return is_number and _compare(float(value), op, _n(condition.low), _n(condition.high))


def _orders(world: World, expr: OrderFilter, row: Row, now: datetime) -> bool:
    since = None if expr.within_days is None else now - timedelta(days=expr.within_days)
    mine = [
        (amount, at) for amount, at in world.orders[row.contact_id] if since is None or at >= since
    ]
    value = (
        float(len(mine)) if expr.measure == "count" else sum(a for a, _ in mine if a is not None)
    )
    condition = expr.condition
    numbers = [v.number for v in condition.values]
    if condition.op == "eq":
        return value == numbers[0]
    if condition.op == "ne":
        return value != numbers[0]
    if condition.op == "in":
        return value in numbers
    if condition.op == "not_in":
        return value not in numbers
    return _compare(value, condition.op, _n(condition.low), _n(condition.high))


def counts(rows: list[Row]) -> tuple[int, int, int, list[int]]:
    distribution = [0] * 11
    for r in rows:
        distribution[r.score] += 1
    return len(rows), sum(distribution[9:]), sum(distribution[:7]), distribution


def buckets(rows: list[Row], edges: list[datetime]) -> list[tuple[int, int, int]]:
    grouped: list[list[Row]] = [[] for _ in range(len(edges) - 1)]
    for r in rows:
        index = bisect_right(edges, r.created_at) - 1
        if 0 <= index < len(grouped):
            grouped[index].append(r)
    return [counts(g)[:3] for g in grouped]


def attribute_of(world: World, query: NpsQuery, row: Row, name: str) -> AttributeValue | None:
    """The row's value of ``name``, from the snapshot or the contact now, as ``query`` says."""
    attrs = row.snapshot if query.attributes == "snapshot" else world.current[row.contact_id]
    return attrs.get(name)


def numeric_buckets(
    world: World, query: NpsQuery, rows: list[Row], name: str, edges: tuple[float, ...]
) -> list[tuple[Any, Any, tuple[int, int, int]]]:
    """(low, high, counts) per bucket of ``edges``, then ("other", None, ...) for values
    that are not numbers and ("missing", None, ...) for rows without one, when there are."""
    grouped: list[list[Row]] = [[] for _ in range(len(edges) + 1)]
    other: list[Row] = []
    missing: list[Row] = []
    for r in rows:
        value = attribute_of(world, query, r, name)
        if value is None:
            missing.append(r)
        elif value.type != "number":
            other.append(r)
        else:
            grouped[bisect_right(edges, value.number)].append(r)
    bounds = [None, *edges, None]
    result = [(bounds[i], bounds[i + 1], counts(g)[:3]) for i, g in enumerate(grouped)]
    result += [("other", None, counts(other)[:3])] if other else []
    return result + ([("missing", None, counts(missing)[:3])] if missing else [])

"""Filters as SQL conditions on a set of responses, the same on SQLite and PostgreSQL.

Each attribute condition is an ``EXISTS`` probe into a typed attribute table by primary
key (``response_attributes`` for the snapshot, ``contact_attributes`` for attributes as
they are now); behaviour conditions probe ``events`` and ``orders`` by their
``(organization_id, contact_id, ...)`` indexes. ``ne``, ``not_in`` and ``missing`` are
the complements of ``eq``, ``in`` and ``exists``: a contact without the attribute is
"not equal". An answer condition probes ``response_answers`` by its primary key (the
response, then the question); a channel condition compares the row's own channel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

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
    positive,
    scale_values,
)
from promoter.storage.tables import (
    contact_attributes,
    events,
    orders,
    response_answers,
    response_attributes,
)

AttributeSource = Literal["snapshot", "current"]


@dataclass(frozen=True, slots=True)
class Target:
    """The rows being filtered: their response and contact id columns."""

    response_id: ColumnElement[Any]
    contact_id: ColumnElement[Any]
    organization_id: int
    source: AttributeSource
    now: datetime
    dialect: str
    #: The rows' channel column (a response's, or a survey's).
    channel: ColumnElement[Any] | None = None


def compile_filter(expr: Expr, target: Target) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(compile_filter(item, target) for item in expr.items))
    if isinstance(expr, Or):
        return or_(*(compile_filter(item, target) for item in expr.items))
    if isinstance(expr, Not):
        return not_(compile_filter(expr.item, target))
    if isinstance(expr, AttributeFilter):
        return _attribute(expr, target)
    if isinstance(expr, EventFilter):
        return _event(expr, target)
    if isinstance(expr, AnswerFilter):
        return _answer(expr, target)
    if isinstance(expr, ChannelFilter):
        assert target.channel is not None, "channel conditions need the rows' channel"
        return target.channel.in_(expr.channels)
    return _orders(expr, target)


def _attribute(expr: AttributeFilter, target: Target) -> ColumnElement[bool]:
    condition = expr.condition
    complemented = positive(condition)
    if complemented is not None:
        return not_(_attribute(AttributeFilter(expr.name, complemented), target))
    table: Table = response_attributes if target.source == "snapshot" else contact_attributes
    key = (
        table.c.response_id == target.response_id
        if target.source == "snapshot"
        else table.c.contact_id == target.contact_id
    )
    return exists().where(
        key,
        table.c.organization_id == target.organization_id,
        table.c.name == expr.name,
        value_matches(table, condition, target),
    )


def value_matches(table: Table, condition: Condition, target: Target) -> ColumnElement[bool]:
    c = table.c
    op = condition.op
    if op == "exists":
        return true()
    if condition.ignore_case and op in ("eq", "in", "contains"):
        return _ignoring_case(c.value_type, c.value_text, condition, target)
    if op == "eq":
        return c.value_text == condition.values[0].text
    if op == "in":
        return c.value_text.in_(sorted({v.text for v in condition.values}))
    if op == "contains":
        return and_(
            c.value_type == "string", _position(c.value_text, condition.values[0].text, target) > 0
        )
    if condition.kind == "number":
        numbers = ordered(c.value_number, op, _num(condition.low), _num(condition.high))
        return and_(c.value_type == "number", numbers)
    dates = ordered(c.value_date, op, _date(condition.low), _date(condition.high))
    return and_(c.value_type == "date", dates)


def _ignoring_case(
    kind: Any, text: Any, condition: Condition, target: Target
) -> ColumnElement[bool]:
    """eq, in or contains on both sides' ``lower()``."""
    lowered = func.lower(text)
    wanted = [func.lower(literal(v)) for v in sorted({v.text for v in condition.values})]
    if condition.op == "eq":
        return lowered == wanted[0]
    if condition.op == "in":
        return lowered.in_(wanted)
    return and_(kind == "string", _position(lowered, wanted[0], target) > 0)


def ordered(column: Any, op: str, low: Any, high: Any) -> ColumnElement[bool]:
    if op == "gt":
        return column > low  # type: ignore[no-any-return]
    if op == "gte":
        return column >= low  # type: ignore[no-any-return]
    if op == "lt":
        return column < high  # type: ignore[no-any-return]
    if op == "lte":
        return column <= high  # type: ignore[no-any-return]
    return and_(column >= low, column <= high)


def _answer(expr: AnswerFilter, target: Target) -> ColumnElement[bool]:
    complemented = positive(expr.condition)
    if complemented is not None:
        return not_(_answer(replace(expr, condition=complemented), target))
    a = response_answers.c
    return exists().where(
        a.response_id == target.response_id,
        a.question_id == expr.question_id,
        a.organization_id == target.organization_id,
        a.campaign_id == expr.campaign_id,
        answer_matches(expr.condition, target),
    )


def answer_matches(condition: Condition, target: Target) -> ColumnElement[bool]:
    """A positive condition on one stored answer value (a multiple choice has several)."""
    value = response_answers.c.value
    op = condition.op
    if op == "exists":
        return true()
    if op in ("eq", "in"):
        return value.in_(sorted({v.text for v in condition.values}))
    if op == "contains":
        return _position(value, condition.values[0].text, target) > 0
    return value.in_(scale_values(condition))


def _num(bound: Any) -> float | None:
    return None if bound is None else bound.number


def _date(bound: Any) -> datetime | None:
    return None if bound is None else bound.date


def _position(text: Any, needle: Any, target: Target) -> ColumnElement[int]:
    if target.dialect == "postgresql":
        return func.strpos(text, needle)
    return func.instr(text, needle)


def _since(days: int | None, target: Target) -> datetime | None:
    return None if days is None else target.now - timedelta(days=days)


def _event(expr: EventFilter, target: Target) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [
        events.c.organization_id == target.organization_id,
        events.c.contact_id == target.contact_id,
        events.c.name == expr.name,
    ]
    since = _since(expr.within_days, target)
    if since is not None:
        conditions.append(events.c.timestamp >= since)
    conditions.extend(property_condition(p, target) for p in expr.where)
    if expr.min_count == 1:
        return exists().where(*conditions)
    counted = select(func.count()).where(*conditions).scalar_subquery()
    return counted >= expr.min_count


def _orders(expr: OrderFilter, target: Target) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [
        orders.c.organization_id == target.organization_id,
        orders.c.contact_id == target.contact_id,
    ]
    since = _since(expr.within_days, target)
    if since is not None:
        conditions.append(orders.c.timestamp >= since)
    value = select(order_measure(expr)).where(*conditions).scalar_subquery()
    return number_holds(expr.condition, value)


def order_measure(expr: OrderFilter) -> ColumnElement[Any]:
    """A contact's order count, or total spent (each order's total, else its revenue)."""
    if expr.measure == "count":
        return func.count()
    return func.coalesce(func.sum(func.coalesce(orders.c.total, orders.c.revenue)), 0.0)


def number_holds(condition: Condition, value: Any) -> ColumnElement[bool]:
    """A numeric condition on a SQL value."""
    numbers = [v.number for v in condition.values]
    if condition.op == "eq":
        return value == numbers[0]  # type: ignore[no-any-return]
    if condition.op == "ne":
        return value != numbers[0]  # type: ignore[no-any-return]
    if condition.op == "in":
        return value.in_(numbers)  # type: ignore[no-any-return]
    if condition.op == "not_in":
        return value.not_in(numbers)  # type: ignore[no-any-return]
    return ordered(value, condition.op, _num(condition.low), _num(condition.high))


# -- event properties (JSON) ------------------------------------------------------------


def property_condition(prop: PropertyFilter, target: Target) -> ColumnElement[bool]:
    condition = prop.condition
    complemented = positive(condition)
    if complemented is not None:
        return not_(property_condition(PropertyFilter(prop.path, complemented), target))
    json = _JsonPath(prop.path, target.dialect)
    op = condition.op
    if op == "exists":
        return json.present()
    if op == "contains":
        return and_(json.is_string(), _position(json.text(), condition.values[0].text, target) > 0)
    if op in ("eq", "in"):
        return or_(*(json.equals(value) for value in condition.values))
    return and_(
        json.is_number(),
        ordered(json.number(), op, _num(condition.low), _num(condition.high)),
    )


class _JsonPath:
    """One path into ``events.properties``, typed the way JSON types it."""

    def __init__(self, path: tuple[str, ...], dialect: str) -> None:
        self.pg = dialect == "postgresql"
        self.path = path
        self.sqlite_path = "$" + "".join(f'."{key}"' for key in path)

    def _type(self) -> ColumnElement[Any]:
        """The JSON type at the path; "missing" (never NULL, so ``not`` stays two-valued)."""
        if self.pg:
            kind = func.jsonb_typeof(func.jsonb_extract_path(events.c.properties, *self.path))
        else:
            kind = func.json_type(events.c.properties, self.sqlite_path)
        return func.coalesce(kind, "missing")

    def text(self) -> ColumnElement[Any]:
        if self.pg:
            return func.jsonb_extract_path_text(events.c.properties, *self.path)
        return func.json_extract(events.c.properties, self.sqlite_path)

    def present(self) -> ColumnElement[bool]:
        return self._type().not_in(["missing", "null"])

    def is_string(self) -> ColumnElement[bool]:
        return self._type() == ("string" if self.pg else "text")

    def is_number(self) -> ColumnElement[bool]:
        if self.pg:
            return self._type() == "number"
        return self._type().in_(["integer", "real"])

    def number(self) -> ColumnElement[Any]:
        if self.pg:
            # CASE: the cast is evaluated only for numbers.
            return case((self.is_number(), cast(self.text(), Float)))
        return self.text()

    def equals(self, value: Any) -> ColumnElement[bool]:
        if value.boolean is not None:
            word = "true" if value.boolean else "false"
            if self.pg:
                return and_(self._type() == "boolean", self.text() == word)
            return self._type() == word
        if value.number is not None:
            return and_(self.is_number(), self.number() == value.number)
        return and_(self.is_string(), self.text() == value.text)

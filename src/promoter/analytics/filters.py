"""The filter language: attribute, behaviour, order and answer conditions joined by and/or/not.

A filter is a JSON expression (see docs/analytics.md)::

    {"and": [
        {"attribute": "company.plan", "op": "in", "value": ["Premium", "Pro"]},
        {"attribute": "country", "op": "eq", "value": "germany", "ignore_case": true},
        {"not": {"attribute": "churned", "op": "eq", "value": true}},
        {"event": "Order Completed", "min_count": 2, "within_days": 90,
         "where": [{"property": "total", "op": "gt", "value": 100}]},
        {"orders": "total", "op": "gte", "value": 500},
        {"answer": "q1", "campaign": 3, "op": "in", "value": ["Price", "Support"]},
        {"channel": {"in": ["web", "link"]}}
    ]}

Parsing checks everything a database would otherwise reject, and says where, so a bad
filter is a clear 400 and never a failed query.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, get_args

import orjson

from promoter.domain.attributes import MAX_NAME_LENGTH, typed_value
from promoter.domain.channels import CHANNELS
from promoter.domain.errors import InvalidMessage
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.questions import MAX_QUESTION_ID, QUESTION_ID, SCALE_MAX, SCALE_MIN
from promoter.domain.timestamps import parse_timestamp

Op = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "exists",
    "missing",
    "lt",
    "lte",
    "gt",
    "gte",
    "between",
]
OPS: tuple[Op, ...] = get_args(Op)
ORDERED_OPS = frozenset({"lt", "lte", "gt", "gte", "between"})
#: The operators that compare text, and so may ignore case.
TEXT_OPS: tuple[Op, ...] = ("eq", "ne", "in", "not_in", "contains")

#: Bounds that keep one filter a reasonable query.
MAX_DEPTH = 12
MAX_CONDITIONS = 100
MAX_LIST = 1000
MAX_DAYS = 36_600


class FilterError(ValueError):
    """A filter that cannot be run; the message says what is wrong and where."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A comparison value in the form its attribute column holds.

    ``text`` is the canonical text (what ``eq`` compares; ``12`` and ``12.0`` agree),
    ``number`` is set for numbers, ``date`` for ISO-8601 dates.
    """

    text: str
    number: float | None = None
    date: datetime | None = None
    boolean: bool | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator and its operand(s): ``values`` for eq/ne/in/not_in/contains,
    ``low``/``high`` for ordered comparisons (``between`` uses both; ``lt`` uses high...).
    ``ignore_case``: text compares by its lower case (SQL ``lower()``, Python's on SQLite)."""

    op: Op
    values: tuple[Scalar, ...] = ()
    low: Scalar | None = None
    high: Scalar | None = None
    kind: Literal["number", "date", "any"] = "any"
    ignore_case: bool = False


#: The negative operators, each the exact complement of a positive one.
_COMPLEMENTS = {"ne": "eq", "not_in": "in", "missing": "exists"}


def positive(condition: Condition) -> Condition | None:
    """The positive condition a negative one (ne, not_in, missing) complements, else None."""
    op = _COMPLEMENTS.get(condition.op)
    if op is None:
        return None
    return Condition(op, condition.values, ignore_case=condition.ignore_case)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AttributeFilter:
    name: str
    condition: Condition


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    path: tuple[str, ...]
    condition: Condition


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Contacts with at least ``min_count`` events named ``name`` (in the window, matching
    every property condition)."""

    name: str
    min_count: int = 1
    within_days: int | None = None
    where: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """The contact's order count or total spent (``total``, else ``revenue``), compared."""

    measure: Literal["count", "total"]
    condition: Condition
    within_days: int | None = None


@dataclass(frozen=True, slots=True)
class AnswerFilter:
    """Responses of campaign ``campaign_id`` whose answer to its question ``question_id``
    meets the condition: ``eq``/``in`` hold when any value chosen is one of the values
    given; ordered comparisons compare a scale answer (1 to 5). ``at`` says where the
    condition is in the filter, for errors found later."""

    question_id: str
    campaign_id: int
    condition: Condition
    at: str = field(default="filter", compare=False)


@dataclass(frozen=True, slots=True)
class ChannelFilter:
    """Responses answered on one of ``channels`` (``ne`` and ``not_in`` are kept as the
    channels they leave: every response has a channel)."""

    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr = AttributeFilter | EventFilter | OrderFilter | AnswerFilter | ChannelFilter | And | Or | Not


def parse_filter(data: object) -> Expr:
    """A filter from its JSON form (a mapping, or JSON text)."""
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise FilterError(f"filter is not valid JSON: {exc}") from None
    counter = [0]
    return _expr(data, "filter", 0, counter)


def _expr(data: object, where: str, depth: int, counter: list[int]) -> Expr:
    if depth > MAX_DEPTH:
        raise FilterError(f"{where}: filters nest at most {MAX_DEPTH} levels")
    if not isinstance(data, Mapping):
        raise FilterError(f"{where}: expected an object, got {_kind(data)}")
    keys = set(data)
    for combinator, cls in (("and", And), ("or", Or)):
        if combinator in data:
            _only(data, {combinator}, where)
            items = data[combinator]
            if not isinstance(items, list) or not items:
                raise FilterError(f"{where}.{combinator}: expected a non-empty list of filters")
            return cls(
                tuple(
                    _expr(item, f"{where}.{combinator}[{i}]", depth + 1, counter)
                    for i, item in enumerate(items)
                )
            )
    if "not" in data:
        _only(data, {"not"}, where)
        return Not(_expr(data["not"], f"{where}.not", depth + 1, counter))
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise FilterError(f"a filter has at most {MAX_CONDITIONS} conditions")
    if "attribute" in data:
        _only(data, {"attribute", "op", "value", "ignore_case"}, where)
        name = _name(data["attribute"], f"{where}.attribute")
        condition = _condition(data, where, ordered_dates=True)
        return AttributeFilter(name, _case(condition, data.get("ignore_case", False), where))
    if "event" in data:
        return _event(data, where)
    if "answer" in data:
        return _answer(data, where)
    if "channel" in data:
        _only(data, {"channel"}, where)
        return _channel(data["channel"], f"{where}.channel")
    if "orders" in data:
        _only(data, {"orders", "op", "value", "within_days"}, where)
        measure = data["orders"]
        if measure not in ("count", "total"):
            raise FilterError(f'{where}.orders: expected "count" or "total"')
        condition = _condition(data, where, ordered_dates=False)
        if condition.op not in ORDERED_OPS and condition.op not in ("eq", "ne", "in", "not_in"):
            raise FilterError(f"{where}.op: {condition.op} does not apply to order {measure}")
        if any(v.number is None for v in condition.values):
            raise FilterError(f"{where}.value: order {measure} compares with numbers")
        return OrderFilter(
            measure,
            condition,
            _days(data.get("within_days"), f"{where}.within_days"),
        )
    expected = '"attribute", "event", "orders", "answer", "channel", "and", "or" or "not"'
    got = ", ".join(sorted(map(str, keys))) or "nothing"
    raise FilterError(f"{where}: expected one of {expected}; got {got}")


def _case(condition: Condition, ignore_case: object, where: str) -> Condition:
    if not isinstance(ignore_case, bool):
        raise FilterError(f"{where}.ignore_case: expected true or false")
    if ignore_case and condition.op not in TEXT_OPS:
        raise FilterError(
            f"{where}.ignore_case: applies to {', '.join(TEXT_OPS)}, not {condition.op}"
        )
    return replace(condition, ignore_case=ignore_case)


def _event(data: Mapping[str, object], where: str) -> EventFilter | Not:
    _only(data, {"event", "min_count", "within_days", "where", "did"}, where)
    name = _name(data["event"], f"{where}.event")
    min_count = data.get("min_count", 1)
    if (
        isinstance(min_count, bool)
        or not isinstance(min_count, int)
        or not 1 <= min_count <= 1_000_000_000
    ):
        raise FilterError(f"{where}.min_count: expected a whole number from 1 to 1000000000")
    raw_where = data.get("where", [])
    if not isinstance(raw_where, list):
        raise FilterError(f"{where}.where: expected a list of property conditions")
    if len(raw_where) > MAX_CONDITIONS:
        raise FilterError(f"{where}.where: at most {MAX_CONDITIONS} property conditions")
    properties = []
    for i, item in enumerate(raw_where):
        at = f"{where}.where[{i}]"
        if not isinstance(item, Mapping):
            raise FilterError(f"{at}: expected an object")
        _only(item, {"property", "op", "value"}, at)
        path = _name(item.get("property"), f"{at}.property")
        if '"' in path or "\\" in path or any(not part for part in path.split(".")):
            raise FilterError(f"{at}.property: expected a dotted path like total or address.city")
        condition = _condition(item, at, ordered_dates=False)
        raw = item.get("value")
        if isinstance(raw, list) and (
            condition.op in ("eq", "ne") or any(isinstance(v, list) for v in raw)
        ):
            raise FilterError(f"{at}.value: properties compare with text, numbers or booleans")
        if condition.op in ORDERED_OPS and condition.kind != "number":
            raise FilterError(f"{at}.value: property comparisons with {condition.op} need numbers")
        properties.append(PropertyFilter(tuple(path.split(".")), condition))
    result = EventFilter(
        name,
        min_count,
        _days(data.get("within_days"), f"{where}.within_days"),
        tuple(properties),
    )
    did = data.get("did", True)
    if not isinstance(did, bool):
        raise FilterError(f"{where}.did: expected true or false")
    return result if did else Not(result)


def _answer(data: Mapping[str, object], where: str) -> AnswerFilter:
    _only(data, {"answer", "campaign", "op", "value"}, where)
    question_id = data["answer"]
    if not isinstance(question_id, str) or not QUESTION_ID.match(question_id):
        raise FilterError(
            f"{where}.answer: expected a question id "
            f"(1 to {MAX_QUESTION_ID} characters of a-z, 0-9, _ and -)"
        )
    campaign = data.get("campaign")
    if (
        isinstance(campaign, bool)
        or not isinstance(campaign, int)
        or not 1 <= campaign <= MAX_INT_ID
    ):
        raise FilterError(f"{where}.campaign: expected the id of the campaign asking {question_id}")
    at = f"{where}.value"
    value = data.get("value")
    op = data.get("op", "eq")
    if op in ("eq", "ne", "in", "not_in"):
        listed = op in ("in", "not_in")
        if listed and (not isinstance(value, list) or not value or len(value) > MAX_LIST):
            raise FilterError(f"{at}: {op} needs a list of 1 to {MAX_LIST} answers")
        items = value if listed and isinstance(value, list) else [value]
        values = tuple(
            _answer_value(v, f"{at}[{i}]" if listed else at) for i, v in enumerate(items)
        )
        return AnswerFilter(question_id, campaign, Condition(op, values), where)
    condition = _condition(data, where, ordered_dates=False)
    if condition.op in ORDERED_OPS and condition.kind != "number":
        raise FilterError(f"{at}: {condition.op} compares a scale answer with numbers")
    return AnswerFilter(question_id, campaign, condition, where)


def _channel(value: object, where: str) -> ChannelFilter:
    """``"web"``, or one operator and its operand: ``{"in": ["web", "link"]}``."""
    if isinstance(value, str):
        return ChannelFilter((_channel_name(value, where),))
    if not isinstance(value, Mapping) or len(value) != 1:
        raise FilterError(
            f'{where}: expected a channel ("web") or one operator and its value '
            '({"in": ["web", "link"]})'
        )
    op, operand = next(iter(value.items()))
    at = f"{where}.{op}"
    if op in ("eq", "ne"):
        named = {_channel_name(operand, at)}
    elif op in ("in", "not_in"):
        if not isinstance(operand, list) or not operand:
            raise FilterError(f"{at}: expected a non-empty list of channels")
        named = {_channel_name(v, f"{at}[{i}]") for i, v in enumerate(operand)}
    else:
        raise FilterError(f"{where}: unknown operator {op!r}; expected one of eq, ne, in, not_in")
    keep = named if op in ("eq", "in") else set(CHANNELS) - named
    return ChannelFilter(tuple(c for c in CHANNELS if c in keep))


def _channel_name(value: object, where: str) -> str:
    if not isinstance(value, str) or value not in CHANNELS:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise FilterError(
            f"{where}: unknown channel {shown[:80]}; expected one of {', '.join(CHANNELS)}"
        )
    return value


def _answer_value(value: object, where: str) -> Scalar:
    """An answer to compare with: text, or a whole number (a scale answer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Scalar(text=str(value), number=float(value))
    if isinstance(value, str) and value:
        _no_nul(value, where)
        return Scalar(text=value)
    raise FilterError(f"{where}: expected an answer: non-empty text or a whole number")


def scale_values(condition: Condition) -> list[str]:
    """The scale answers (``"1"`` to ``"5"``) an ordered condition keeps."""
    low = condition.low.number if condition.low is not None else None
    high = condition.high.number if condition.high is not None else None

    def holds(n: int) -> bool:
        above = low is None or (n > low if condition.op == "gt" else n >= low)
        below = high is None or (n < high if condition.op == "lt" else n <= high)
        return above and below

    return [str(n) for n in range(SCALE_MIN, SCALE_MAX + 1) if holds(n)]


def answer_filters(expr: Expr) -> Iterator[AnswerFilter]:
    """Every answer condition in the filter."""
    if isinstance(expr, And | Or):
        for item in expr.items:
            yield from answer_filters(item)
    elif isinstance(expr, Not):
        yield from answer_filters(expr.item)
    elif isinstance(expr, AnswerFilter):
        yield expr


def mentions_channel(expr: Expr) -> bool:
    """Whether the filter has a channel condition."""
    if isinstance(expr, And | Or):
        return any(mentions_channel(item) for item in expr.items)
    if isinstance(expr, Not):
        return mentions_channel(expr.item)
    return isinstance(expr, ChannelFilter)


def _only(data: Mapping[str, object], allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise FilterError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FilterError(f"{where}: expected a non-empty name")
    _no_nul(value, where)
    if len(value) > MAX_NAME_LENGTH:
        raise FilterError(f"{where}: names have at most {MAX_NAME_LENGTH} characters")
    return value


def _days(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise FilterError(f"{where}: expected a whole number of days from 1 to {MAX_DAYS}")
    return value


def _condition(data: Mapping[str, object], where: str, *, ordered_dates: bool) -> Condition:
    op = data.get("op", "eq")
    if op not in OPS:
        raise FilterError(f"{where}.op: unknown operator {op!r}; expected one of {', '.join(OPS)}")
    at = f"{where}.value"
    if op in ("exists", "missing"):
        if "value" in data:
            raise FilterError(f"{at}: {op} takes no value")
        return Condition(op)
    if "value" not in data:
        raise FilterError(f"{at}: {op} needs a value")
    value = data["value"]
    if op in ("eq", "ne"):
        return Condition(op, (scalar(value, at),))
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"{at}: {op} needs a non-empty list")
        if len(value) > MAX_LIST:
            raise FilterError(f"{at}: at most {MAX_LIST} values")
        return Condition(op, tuple(scalar(v, f"{at}[{i}]") for i, v in enumerate(value)))
    if op == "contains":
        if not isinstance(value, str) or not value:
            raise FilterError(f"{at}: contains needs non-empty text")
        _no_nul(value, at)
        return Condition(op, (Scalar(text=value),))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise FilterError(f"{at}: between needs a list of two values [low, high]")
        low = _ordered(value[0], f"{at}[0]", ordered_dates)
        high = _ordered(value[1], f"{at}[1]", ordered_dates)
        kind = _same_kind(low, high, at)
        return Condition(op, low=low, high=high, kind=kind)
    bound = _ordered(value, at, ordered_dates)
    kind = "number" if bound.number is not None else "date"
    if op in ("gt", "gte"):
        return Condition(op, low=bound, kind=kind)
    return Condition(op, high=bound, kind=kind)


def _same_kind(low: Scalar, high: Scalar, where: str) -> Literal["number", "date"]:
    if low.number is not None and high.number is not None:
        return "number"
    if low.date is not None and high.date is not None:
        return "date"
    raise FilterError(f"{where}: both bounds must be numbers, or both dates")


def _ordered(value: object, where: str, dates: bool) -> Scalar:
    """A bound for <, >, between: a number, a numeric string, or (where allowed) a date."""
    if isinstance(value, str):
        number = _number_text(value)
        if number is not None:
            value = number
    parsed = scalar(value, where)
    if parsed.number is not None and parsed.boolean is None:
        return parsed
    if dates and parsed.date is not None:
        return parsed
    expected = "a number or an ISO-8601 date" if dates else "a number"
    raise FilterError(f"{where}: expected {expected}, got {_kind(value)}")


def _number_text(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def scalar(value: object, where: str) -> Scalar:
    """A JSON scalar as the attribute tables hold it (lists compare by their JSON text)."""
    _no_nul(value, where)
    if isinstance(value, dict):
        raise FilterError(f"{where}: expected a value, got an object")
    try:
        typed = typed_value(value)
    except InvalidMessage as exc:
        raise FilterError(f"{where}: {exc}") from None
    if typed is None or typed.text is None:
        raise FilterError(f"{where}: null is not a value; use exists or missing")
    if typed.type == "boolean":
        return Scalar(text=typed.text, boolean=typed.number == 1)
    if typed.type == "number":
        return Scalar(text=typed.text, number=typed.number)
    if typed.type == "date":
        return Scalar(text=typed.text, date=typed.date)
    return Scalar(text=typed.text)


def _no_nul(value: object, where: str) -> None:
    """Text with NUL characters cannot be stored, so it can match nothing: a mistake."""
    if isinstance(value, str) and "\x00" in value:
        raise FilterError(f"{where}: text must not contain NUL characters")
    if isinstance(value, list):
        for item in value:
            _no_nul(item, where)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text" if parse_timestamp(value) is None else "a date"
    if isinstance(value, list):
        return "a list"
    return "an object"


def conjunction(*exprs: Expr | None) -> Expr | None:
    """All the given filters (``None`` ones left out)."""
    present = tuple(e for e in exprs if e is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)

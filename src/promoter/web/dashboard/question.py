"""The question a dashboard page asks, read from its URL, and the filter builder's rows.

A page's URL holds everything that shapes its numbers, so it can be shared:
``filter`` (the JSON filter expression), ``segment``, ``range`` (a preset of ranges.py,
local days ending today, or ``custom`` with ``since``/``until``, both days included),
``campaign`` and ``channel`` (repeatable), and ``pending`` (a builder row whose attribute
is chosen but whose value is not yet typed).

The builder edits flat filters: conditions joined by one AND or OR, each an attribute
condition or "did / did not do event X". Anything else is edited as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import orjson

from promoter.analytics.filters import OPS
from promoter.analytics.params import QuestionParams, compact_json
from promoter.analytics.query import FeedbackStatus
from promoter.domain.channels import CHANNELS
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.nps import SCORE_TYPES, ScoreType
from promoter.web.dashboard.forms import Form
from promoter.web.dashboard.ranges import (
    DEFAULT_RANGE,
    RANGES,
    Days,
    Period,
    preset_days,
    previous,
    today_in,
)

STATUSES = ("OPEN", "CLOSED")
#: The filter bar's parameters: kept when moving between Overview, Breakdown and Feedback.
SHARED = frozenset({"filter", "segment", "range", "since", "until", "campaign", "channel"})
MAX_ROWS = 30

OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is any of",
    "not_in": "is none of",
    "contains": "contains",
    "exists": "is set",
    "missing": "is not set",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "between": "between",
}
NO_VALUE = frozenset({"exists", "missing"})
LIST_OPS = frozenset({"in", "not_in", "between"})


@dataclass
class Row:
    """One builder row: an attribute condition or an event condition."""

    kind: Literal["attribute", "event"]
    name: str = ""
    op: str = "eq"
    value: str = ""
    did: bool = True
    min_count: int = 1
    within_days: int | None = None
    suggestions: list[str] = field(default_factory=list)
    #: Text compares ignoring case (new rows do; "Match case" turns it off).
    ignore_case: bool = True
    #: Values of this row's "is" that no response has, with the ones it has but for case.
    hint: CaseHint | None = None


@dataclass
class CaseHint:
    """ "No responses have plan = enterprise: did you mean Enterprise?"; ``filter`` is the
    page's filter with the value corrected."""

    value: str
    suggestion: str
    filter: str


@dataclass
class Builder:
    join: Literal["and", "or"]
    rows: list[Row]
    #: The filter is not flat: the builder cannot show it, the JSON box can.
    advanced: bool = False


@dataclass
class PageQuestion:
    params: QuestionParams
    filter_text: str
    filter_data: Any
    segment: str
    range: str
    since: str
    until: str
    campaigns: list[int]
    channels: list[str]
    pending: list[str]
    score_types: list[str]
    statuses: list[str]
    tags: list[str]
    comment: str
    errors: list[str]
    #: The query pairs that define the question (kept in links between pages).
    pairs: list[tuple[str, str]]
    #: The period before the range, as long (None: all time, or a range given as times).
    previous: Period | None = None

    def shared(self) -> list[tuple[str, str]]:
        """The pairs another page of the three keeps (not the default range)."""
        return [
            (name, value)
            for name, value in self.pairs
            if name in SHARED and (name, value) != ("range", DEFAULT_RANGE)
        ]


def since_first(question: PageQuestion, first: datetime | None, zone: ZoneInfo) -> None:
    """For "all time": the window starts on the local day of the first response."""
    if question.range == "all":
        day = first.astimezone(zone).date().isoformat() if first else "1900-01-01"
        question.since = day
        question.params = replace(question.params, since=day)


def _custom_days(since: str, until: str) -> Days | None:
    """A custom range given as two dates (the date pickers), else None."""
    try:
        first, last = date.fromisoformat(since), date.fromisoformat(until)
    except ValueError:
        return None
    return Days(first, last) if len(since) == len(until) == 10 and first <= last else None


def read_question(query: list[tuple[str, str]], zone: ZoneInfo, now: datetime) -> PageQuestion:
    """The question in a page's query string; problems are listed, never raised."""
    values: dict[str, list[str]] = {}
    for name, value in query:
        values.setdefault(name, []).append(value)

    def one(name: str) -> str:
        found = values.get(name)
        return found[-1].strip() if found else ""

    errors: list[str] = []
    filter_text = one("filter")
    filter_data: Any = None
    if filter_text:
        try:
            filter_data = orjson.loads(filter_text)
        except orjson.JSONDecodeError as exc:
            errors.append(f"filter: not valid JSON ({exc})")
            filter_text = ""
    range_ = one("range") or DEFAULT_RANGE
    if range_ not in RANGES and range_ != "custom":
        errors.append(f"range: unknown range {range_!r}")
        range_ = DEFAULT_RANGE
    since, until = one("since"), one("until")
    period: Period | None = None
    if range_ == "all":  # from the first response (see ``since_first``) to today
        since, until = "", today_in(zone, now).isoformat()
    elif range_ != "custom":
        days = preset_days(range_, today_in(zone, now))
        since, until = days.first.isoformat(), days.last.isoformat()
        period = previous(range_, days)
    else:
        custom = _custom_days(since, until)
        try:
            period = previous(range_, custom) if custom else None
        except OverflowError:  # centuries long: nothing before it to compare with
            period = None
    campaigns: list[int] = []
    for raw in values.get("campaign", []):
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_INT_ID:
            campaigns.append(int(raw))
        elif raw:
            errors.append(f"campaign: {raw!r} is not a campaign id")
    channels: list[str] = [c for c in CHANNELS if c in values.get("channel", [])]
    unknown = [c for c in values.get("channel", []) if c and c not in CHANNELS]
    if unknown:
        errors.append(f"channel: {unknown[0]!r} is not a channel ({', '.join(CHANNELS)})")
    segment = one("segment")
    pending = [p for p in values.get("pending", []) if p.strip()][:MAX_ROWS]
    score_types: list[str] = [t for t in values.get("type", []) if t in SCORE_TYPES]
    statuses = [s for s in values.get("status", []) if s in STATUSES]
    tags = [t.strip() for t in values.get("tag", []) if t.strip()][:MAX_ROWS]
    comment = one("comment") if one("comment") in ("yes", "no") else ""
    params = QuestionParams(
        filter=filter_text or None,
        segment=segment or None,
        since=since or None,
        until=until or None,
        campaigns=campaigns,
        channels=channels,
        score_types=cast(list[ScoreType], score_types),
        statuses=cast(list[FeedbackStatus], statuses),
        tags=tags,
        has_comment=None if not comment else comment == "yes",
    )
    pairs: list[tuple[str, str]] = []
    if filter_text:
        pairs.append(("filter", filter_text))
    if segment:
        pairs.append(("segment", segment))
    pairs.append(("range", range_))
    if range_ == "custom":
        pairs += [("since", since), ("until", until)]
    pairs += [("campaign", str(c)) for c in campaigns]
    pairs += [("channel", c) for c in channels]
    pairs += [("pending", p) for p in pending]
    pairs += [("type", t) for t in score_types] + [("status", s) for s in statuses]
    pairs += [("tag", t) for t in tags] + ([("comment", comment)] if comment else [])
    return PageQuestion(
        params=params,
        filter_text=filter_text,
        filter_data=filter_data,
        segment=segment,
        range=range_,
        since=one("since") if range_ == "custom" else since,
        until=one("until") if range_ == "custom" else until,
        campaigns=campaigns,
        channels=channels,
        pending=pending,
        score_types=score_types,
        statuses=statuses,
        tags=tags,
        comment=comment,
        errors=errors,
        pairs=pairs,
        previous=period,
    )


# --- builder rows <-> filter --------------------------------------------------------------


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_value_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _row(item: Any) -> Row | None:
    if not isinstance(item, dict):
        return None
    if set(item) <= {"attribute", "op", "value", "ignore_case"} and isinstance(
        item.get("attribute"), str
    ):
        op = item.get("op", "eq")
        if op not in OPS:
            return None
        value = _value_text(item.get("value"))
        ignore_case = item.get("ignore_case") is True
        return Row("attribute", item["attribute"], op, value, ignore_case=ignore_case)
    if set(item) <= {"event", "min_count", "within_days", "did"} and isinstance(
        item.get("event"), str
    ):
        min_count = item.get("min_count", 1)
        days = item.get("within_days")
        did = item.get("did", True)
        if not isinstance(min_count, int) or not isinstance(did, bool):
            return None
        if days is not None and not isinstance(days, int):
            return None
        return Row("event", item["event"], did=did, min_count=min_count, within_days=days)
    return None


def conditions_of(data: Any) -> list[Any]:
    """The items of a flat filter (its and/or list, or the one condition)."""
    if isinstance(data, dict) and len(data) == 1 and ("and" in data or "or" in data):
        members = data.get("and", data.get("or"))
        return members if isinstance(members, list) else []
    return [] if data is None else [data]


def with_value(data: Any, index: int, old: str, new: str) -> str:
    """The flat filter ``data`` with value ``old`` of its condition ``index`` made ``new``."""
    items = [dict(item) if isinstance(item, dict) else item for item in conditions_of(data)]
    condition = items[index]
    value = condition.get("value")
    if isinstance(value, list):
        condition["value"] = [new if v == old else v for v in value]
    else:
        condition["value"] = new
    if isinstance(data, dict) and len(data) == 1 and ("and" in data or "or" in data):
        return filter_json({next(iter(data)): items})
    return filter_json(items[0])


def builder(data: Any, pending: list[str]) -> Builder:
    """The rows that show ``data`` (a parsed filter), plus pending rows."""
    join: Literal["and", "or"] = "and"
    items: list[Any] = []
    advanced = False
    if isinstance(data, dict) and len(data) == 1 and ("and" in data or "or" in data):
        join = "and" if "and" in data else "or"
        members = data[join]
        items = members if isinstance(members, list) else []
        advanced = not isinstance(members, list)
    elif data is not None:
        items = [data]
    rows = []
    for item in items:
        row = _row(item)
        if row is None:
            advanced = True
            break
        rows.append(row)
    if advanced:
        rows = []
    rows += [Row("attribute", name) for name in pending]
    return Builder(join, rows, advanced)


def _attribute_json(name: str, op: str, value: str, ignore_case: bool) -> Any:
    """The condition a row stands for, or None while it still lacks a value."""
    if op not in NO_VALUE and not value.strip():
        return None
    if op not in OPS:
        return {"attribute": name, "op": op, "value": value}  # reported when the page parses it
    if op in LIST_OPS:  # "Pro, Premium" as people type it
        value = ",".join(part.strip() for part in value.split(","))
    typed = [(name, op, "" if op in NO_VALUE else value.strip())]
    return compact_json(typed, ignore_case=ignore_case)


def _whole(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else text


def filter_from_form(form: Form) -> tuple[str, list[str]]:
    """(filter text, pending attribute names) from the builder's fields.

    ``mode=json`` takes the JSON box as it is. Rows without a name are skipped, and so
    is a row named in ``remove``. Nothing is checked here: the page that receives the
    filter parses it and says what is wrong, where.
    """
    if form.get("mode") == "json":
        return form.get("json").strip(), []
    removed = set(form.getlist("remove"))
    conditions: list[Any] = []
    pending: list[str] = []
    names, ops, vals = form.getlist("a_name"), form.getlist("a_op"), form.getlist("a_value")
    exact = set(form.getlist("a_case"))  # the rows whose "Match case" is ticked
    for i, name in enumerate(names[:MAX_ROWS]):
        name = name.strip()
        if not name or f"a{i}" in removed:
            continue
        condition = _attribute_json(
            name,
            ops[i] if i < len(ops) else "eq",
            vals[i] if i < len(vals) else "",
            ignore_case=str(i) not in exact,
        )
        if condition is None:
            pending.append(name)
        else:
            conditions.append(condition)
    events = form.getlist("e_name")
    dids, mins, days = form.getlist("e_did"), form.getlist("e_min"), form.getlist("e_days")
    for i, name in enumerate(events[:MAX_ROWS]):
        name = name.strip()
        if not name or f"e{i}" in removed:
            continue
        item: dict[str, Any] = {"event": name}
        min_count = _whole(mins[i] if i < len(mins) else "") or 1
        if min_count != 1:
            item["min_count"] = min_count
        within = _whole(days[i] if i < len(days) else "")
        if within != "":
            item["within_days"] = within
        if (dids[i] if i < len(dids) else "yes") == "no":
            item["did"] = False
        conditions.append(item)
    join = "or" if form.get("join") == "or" else "and"
    if not conditions:
        return "", pending
    data = conditions[0] if len(conditions) == 1 else {join: conditions}
    return filter_json(data), pending


def filter_json(data: Any) -> str:
    """A filter as the compact JSON the ``filter`` parameter holds ("" for none)."""
    return "" if data is None else orjson.dumps(data).decode()

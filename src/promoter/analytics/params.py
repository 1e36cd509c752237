"""Turning what a user typed (query string, CLI options) into an ``NpsQuery``.

Shared by the REST API and the CLI so both read filters, dates and segments alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection

from promoter.analytics.compile import AttributeSource
from promoter.analytics.filters import (
    OPS,
    TEXT_OPS,
    Expr,
    FilterError,
    conjunction,
    parse_filter,
)
from promoter.analytics.query import CountMode, FeedbackStatus, NpsQuery
from promoter.analytics.questions import check_answers
from promoter.analytics.segments import SegmentNotFound, get_segment
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.nps import ScoreType

#: Separates the values of in, not_in and between in the compact form.
_LIST_SEPARATOR = ","


@dataclass(frozen=True, slots=True)
class QuestionParams:
    """The raw parameters of an analytics question."""

    filter: str | None = None
    #: (name, op, raw value) from ``attributes[name][op]=value``; op None means eq/in.
    attributes: Sequence[tuple[str, str | None, str]] = ()
    #: The compact conditions that compare text (eq, ne, in, not_in, contains) ignore case.
    ignore_case: bool = False
    segment: str | None = None
    since: str | None = None
    until: str | None = None
    campaigns: Sequence[int] = ()
    #: Channels (any of), from ``channel=web``.
    channels: Sequence[str] = ()
    scores: Sequence[int] = ()
    score_types: Sequence[ScoreType] = ()
    has_comment: bool | None = None
    statuses: Sequence[FeedbackStatus] = ()
    tags: Sequence[str] = ()
    attribute_source: AttributeSource = "snapshot"
    count: CountMode = "all"


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def build_query(
    conn: Connection, *, organization_id: int, zone: ZoneInfo, params: QuestionParams
) -> NpsQuery:
    """The query; a ``FilterError`` says which parameter is wrong and why."""
    parts: list[Expr | None] = []
    if params.segment:
        if len(params.segment) > 200 or "\x00" in params.segment:
            raise FilterError("segment: no such segment")
        try:
            segment = get_segment(conn, organization_id=organization_id, segment=params.segment)
        except SegmentNotFound as exc:
            raise FilterError(f"segment: {exc}") from None
        parts.append(segment.expression)
    if params.filter:
        parts.append(parse_filter(params.filter))
    parts.append(compact_filter(params.attributes, ignore_case=params.ignore_case))
    if params.channels:
        try:
            parts.append(parse_filter({"channel": {"in": list(params.channels)}}))
        except FilterError as exc:
            raise FilterError(f"channel: {str(exc).split(': ', 1)[-1]}") from None
    for score in params.scores:
        if not 0 <= score <= 10:
            raise FilterError("score: a score is from 0 to 10")
    for campaign in params.campaigns:
        if not 1 <= campaign <= MAX_INT_ID:
            raise FilterError(f"campaign: an id is from 1 to {MAX_INT_ID}")
    for tag in params.tags:
        if not tag or len(tag) > 100 or "\x00" in tag:
            raise FilterError("tag: a tag is 1 to 100 characters")
    where = conjunction(*parts)
    check_answers(conn, organization_id=organization_id, expr=where)
    since = parse_moment(params.since, zone, "since", end=False)
    until = parse_moment(params.until, zone, "until", end=True)
    if since is not None and until is not None and until <= since:
        raise FilterError("until: must be after since")
    return NpsQuery(
        organization_id=organization_id,
        where=where,
        attributes=params.attribute_source,
        since=since,
        until=until,
        campaign_ids=tuple(dict.fromkeys(params.campaigns)),
        scores=tuple(dict.fromkeys(params.scores)),
        score_types=tuple(dict.fromkeys(params.score_types)),
        has_comment=params.has_comment,
        statuses=tuple(dict.fromkeys(params.statuses)),
        tags=tuple(dict.fromkeys(params.tags)),
        count=params.count,
    )


#: The times a window may start or end at (far enough from datetime's limits).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_moment(text: str | None, zone: ZoneInfo, name: str, *, end: bool) -> datetime | None:
    """An ISO date (a whole local day: ``until`` includes it) or an ISO datetime (without
    an offset: local time)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            moment = datetime.combine(day, time(), zone)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise FilterError(
            f"{name}: expected a date (2026-11-01) or a date and time (2026-11-01T09:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        in_range = EARLIEST <= moment.astimezone(UTC) <= LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise FilterError(f"{name}: expected a time between 1900 and 9000")
    return moment


def compact_filter(
    items: Iterable[tuple[str, str | None, str]], *, ignore_case: bool = False
) -> Expr | None:
    """``attributes[plan]=Premium`` (repeat for "any of"), ``attributes[mrr][gte]=100``,
    ``attributes[plan][in]=Pro,Premium``, ``attributes[mrr][between]=10,100``,
    ``attributes[churned][missing]``: all of them must hold."""
    data = compact_json(items, ignore_case=ignore_case)
    if data is None:
        return None
    try:
        return parse_filter(data)
    except FilterError as exc:
        raise FilterError(f"attributes: {exc}") from None


def compact_json(
    items: Iterable[tuple[str, str | None, str]], *, ignore_case: bool = False
) -> dict[str, Any] | None:
    """The JSON filter that (name, op, text value) conditions stand for; with
    ``ignore_case``, those that compare text ignore case."""
    equal: dict[str, list[str]] = {}
    conditions: list[dict[str, Any]] = []
    for name, op, raw in items:
        if op is None or op == "eq":
            equal.setdefault(name, []).append(raw)
            continue
        if op not in OPS:
            where = f"attributes[{name}][{op}]"
            raise FilterError(f"{where}: unknown operator; expected one of {', '.join(OPS)}")
        condition: dict[str, Any] = {"attribute": name, "op": op}
        if op in ("in", "not_in", "between"):
            condition["value"] = raw.split(_LIST_SEPARATOR)
        elif op not in ("exists", "missing"):
            condition["value"] = raw
        conditions.append(condition)
    for name, values in equal.items():
        if len(values) == 1:
            conditions.append({"attribute": name, "op": "eq", "value": values[0]})
        else:
            conditions.append({"attribute": name, "op": "in", "value": values})
    if ignore_case:
        conditions = [c | {"ignore_case": True} if c["op"] in TEXT_OPS else c for c in conditions]
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"and": conditions}


def parse_where(text: str) -> tuple[str, str | None, str]:
    """A CLI ``--where``: ``plan=Premium``, ``plan!=Free``, ``mrr>=100``, ``mrr<5``,
    ``country~land`` (contains), ``plan=Pro|Premium`` (any of), ``plan!=Pro|Premium``,
    ``churned?`` (exists), ``!churned?`` (missing)."""
    text = text.strip()
    if text.endswith("?"):
        name = text[:-1]
        if name.startswith("!"):
            return name[1:], "missing", ""
        return name, "exists", ""
    for symbol, op in (
        (">=", "gte"),
        ("<=", "lte"),
        ("!=", "ne"),
        (">", "gt"),
        ("<", "lt"),
        ("~", "contains"),
        ("=", "eq"),
    ):
        name, found, value = text.partition(symbol)
        if found and name:
            if op in ("eq", "ne") and "|" in value:
                return name, "in" if op == "eq" else "not_in", value.replace("|", ",")
            return name, op, value
    raise FilterError(
        f"--where {text!r}: expected NAME=VALUE, NAME!=VALUE, NAME>=N, NAME~TEXT or NAME?"
    )

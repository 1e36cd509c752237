"""NPS over time: calendar buckets (day, week, month, quarter) or a rolling 30/90 days.

Buckets follow the organization's time zone. The database groups responses by the UTC
day, hour or quarter hour (whichever the zone's offsets allow) and Python assigns those
groups to local buckets, so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, case, cast, func, select

from promoter.analytics.query import Scope, matching
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary
from promoter.storage.tables import responses

Interval = Literal["day", "week", "month", "quarter"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month", "quarter")
ROLLING_DAYS = (30, 90)
#: More points than this is a mistake (years of daily points), not a chart.
MAX_POINTS = 2000


class TrendError(ValueError):
    """A trend that cannot be drawn (too many points, say)."""


@dataclass(frozen=True, slots=True)
class TrendPoint:
    #: Local start and end (exclusive) of the bucket; for rolling points, of the day.
    start: datetime
    end: datetime
    summary: NpsSummary

    def to_json(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, **self.summary.to_json()}


def trend(
    conn: Connection,
    scope: Scope,
    *,
    interval: Interval = "month",
    rolling: int | None = None,
    zone: ZoneInfo | None = None,
) -> list[TrendPoint]:
    """Points covering the scope's window; a rolling point for each local day covers the
    ``rolling`` days that end with it."""
    zone = zone or ZoneInfo("UTC")
    return points(
        scope,
        lambda s, edges: _counts(conn, s, edges, zone),
        interval=interval,
        rolling=rolling,
        zone=zone,
    )


#: Counts the question's responses per bucket [edges[i], edges[i + 1]).
Counter = Callable[[Scope, Sequence[datetime]], list[NpsSummary]]


def points(
    scope: Scope,
    count: Counter,
    *,
    interval: Interval,
    rolling: int | None,
    zone: ZoneInfo,
) -> list[TrendPoint]:
    """The trend's buckets (or rolling days), counted by ``count``: SQL or the columns."""
    window = scope.window
    if rolling is not None:
        if scope.query.count == "latest":
            raise TrendError(
                "a rolling trend counts every response; use count=all, or calendar buckets"
            )
        starts = boundaries(window.since, window.until, "day", zone)
        data_since = starts[0] - timedelta(days=rolling)
        days = boundaries(data_since, window.until, "day", zone)
        per_day = count(scope.widened(data_since), days)
        return rolling_points(days, per_day, rolling, first=len(days) - len(starts))
    edges = boundaries(window.since, window.until, interval, zone)
    counts = count(scope, edges)
    return [
        TrendPoint(_local(edges[i], zone), _local(edges[i + 1], zone), counts[i])
        for i in range(len(edges) - 1)
    ]


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def boundaries(
    since: datetime, until: datetime, interval: Interval, zone: ZoneInfo
) -> list[datetime]:
    """UTC instants where local buckets start, from the one holding ``since`` to the first
    at or after ``until``."""
    first = _bucket_start(since.astimezone(zone).date(), interval)
    edges: list[datetime] = []
    day = first
    while True:
        instant = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        edges.append(instant)
        if instant >= until:
            break
        if len(edges) > MAX_POINTS:
            raise TrendError(
                f"the window holds more than {MAX_POINTS} {interval}s; "
                "use a longer interval or a shorter window"
            )
        day = _next_start(day, interval)
    if len(edges) == 1:
        edges.append(
            datetime.combine(_next_start(first, interval), datetime.min.time(), zone).astimezone(
                UTC
            )
        )
    return edges


def _bucket_start(day: date, interval: Interval) -> date:
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_start(day: date, interval: Interval) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7)
    months = 1 if interval == "month" else 3
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _counts(
    conn: Connection, scope: Scope, edges: Sequence[datetime], zone: ZoneInfo
) -> list[NpsSummary]:
    if scope.query.count == "latest":
        return _latest_counts(conn, scope, edges)
    granularity = _granularity(zone, edges[0], edges[-1])
    found = matching(scope)
    keys = _group_keys(found.c.created_at, granularity, scope.dialect)
    promoters = func.count().filter(found.c.score >= PROMOTER_MIN)
    detractors = func.count().filter(found.c.score <= DETRACTOR_MAX)
    totals = [[0, 0, 0] for _ in range(len(edges) - 1)]
    rows = conn.execute(select(*keys, func.count(), promoters, detractors).group_by(*keys)).all()
    for row in rows:
        *key, n, p, d = row
        index = bisect_right(edges, _key_instant(key, granularity)) - 1
        if 0 <= index < len(totals):
            total = totals[index]
            total[0] += n
            total[1] += p
            total[2] += d
    return [NpsSummary.of(n, p, d) for n, p, d in totals]


Granularity = Literal["day", "hour", "quarter"]


def _granularity(zone: ZoneInfo, start: datetime, end: datetime) -> Granularity:
    """The coarsest UTC grouping whose groups never straddle a local midnight."""
    offsets = set()
    instant = start
    while instant <= end:
        offset = instant.astimezone(zone).utcoffset()
        offsets.add(offset.total_seconds() if offset is not None else 0.0)
        instant += timedelta(days=1)
    if offsets <= {0.0}:
        return "day"
    if all(seconds % 3600 == 0 for seconds in offsets):
        return "hour"
    return "quarter"


def _group_keys(column: Any, granularity: Granularity, dialect: str) -> list[Any]:
    if dialect == "postgresql":
        if granularity == "day":
            return [func.to_char(column, "YYYY-MM-DD")]
        hour = func.to_char(column, "YYYY-MM-DD HH24")
        if granularity == "hour":
            return [hour]
        return [hour, cast(func.floor(func.extract("minute", column) / 15), Integer)]
    # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff".
    if granularity == "day":
        return [func.substr(column, 1, 10)]
    hour = func.substr(column, 1, 13)
    if granularity == "hour":
        return [hour]
    return [hour, cast(func.substr(column, 15, 2), Integer) / 15]


def _key_instant(key: list[Any], granularity: Granularity) -> datetime:
    text = key[0]
    if granularity == "day":
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    instant = datetime.fromisoformat(f"{text}:00").replace(tzinfo=UTC)
    if granularity == "quarter":
        instant += timedelta(minutes=15 * int(key[1]))
    return instant


def _latest_counts(conn: Connection, scope: Scope, edges: Sequence[datetime]) -> list[NpsSummary]:
    """Per bucket, each contact's latest response in that bucket."""
    created = responses.c.created_at
    bucket = case(
        *((created < edge, index - 1) for index, edge in enumerate(edges) if index > 0),
        else_=len(edges),
    )
    found = matching(scope, per=bucket)
    found_bucket = case(
        *((found.c.created_at < edge, index - 1) for index, edge in enumerate(edges) if index > 0),
        else_=len(edges),
    )
    totals = [[0, 0, 0] for _ in range(len(edges) - 1)]
    rows = conn.execute(
        select(
            found_bucket,
            func.count(),
            func.count().filter(found.c.score >= PROMOTER_MIN),
            func.count().filter(found.c.score <= DETRACTOR_MAX),
        ).group_by(found_bucket)
    ).all()
    for index, n, p, d in rows:
        if 0 <= index < len(totals):
            totals[index] = [n, p, d]
    return [NpsSummary.of(n, p, d) for n, p, d in totals]


def rolling_points(
    days: Sequence[datetime], per_day: Sequence[NpsSummary], rolling: int, *, first: int
) -> list[TrendPoint]:
    points = []
    queue: deque[NpsSummary] = deque()
    n = p = d = 0
    for index, summary in enumerate(per_day):
        queue.append(summary)
        n, p, d = n + summary.responses, p + summary.promoters, d + summary.detractors
        if len(queue) > rolling:
            old = queue.popleft()
            n, p, d = n - old.responses, p - old.promoters, d - old.detractors
        if index >= first:
            start, end = days[index], days[index + 1]
            points.append(TrendPoint(start, end, NpsSummary.of(n, p, d)))
    return points

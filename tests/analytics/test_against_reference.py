"""Random filters and questions, answered by the SQL and by brute force, on both databases."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promoter.analytics.breakdown import MISSING, OTHER, Breakdown
from promoter.analytics.buckets import MAX_RAW_VALUES, auto_edges
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import OPS, parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.domain.channels import CHANNELS
from promoter.domain.paging import Page
from promoter.feedback.reading import feedback_page
from promoter.storage.engine import Database
from tests.analytics import reference
from tests.analytics.dataset import COUNTRIES, EVENTS, NAMES, NOW, PLANS, TAGS, build
from tests.conftest import Org

SCALARS: list[Any] = [
    *PLANS,
    *COUNTRIES,
    "Premium ",
    "small",
    "10",
    "5",
    0,
    1,
    5,
    9.5,
    10,
    10.5,
    49,
    99.25,
    500,
    True,
    False,
    ["a"],
    ["a", "b"],
    (NOW - timedelta(days=50)).isoformat(),
]
BOUNDS: list[Any] = [0, 1, 5, 9.5, 10, 49, 99.25, 500, 1200, "10", "2.5"]
DATES = [(NOW - timedelta(days=d)).date().isoformat() for d in (300, 150, 60, 0)] + [
    (NOW + timedelta(days=100)).isoformat()
]
ATTRIBUTES = [*NAMES, "Plan", "never_set", "company"]

scalars = st.sampled_from(SCALARS)
bounds = st.one_of(st.sampled_from(BOUNDS), st.sampled_from(DATES))


@st.composite
def attribute_filters(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(ATTRIBUTES))
    op = draw(st.sampled_from(OPS))
    if op in ("exists", "missing"):
        return {"attribute": name, "op": op}
    case = {"ignore_case": True} if draw(st.integers(0, 2)) == 0 else {}
    if op in ("eq", "ne"):
        return {"attribute": name, "op": op, "value": draw(scalars), **case}
    if op in ("in", "not_in"):
        values = draw(st.lists(scalars, min_size=1, max_size=3))
        return {"attribute": name, "op": op, "value": values, **case}
    if op == "contains":
        needle = draw(st.sampled_from(["re", "Pro", "ö", "a", "E", "ÖS"]))
        return {"attribute": name, "op": op, "value": needle, **case}
    if op == "between":
        numbers = st.sampled_from([b for b in BOUNDS])
        pair = draw(
            st.one_of(
                st.lists(numbers, min_size=2, max_size=2),
                st.lists(st.sampled_from(DATES), min_size=2, max_size=2),
            )
        )
        return {"attribute": name, "op": op, "value": pair}
    return {"attribute": name, "op": op, "value": draw(bounds)}


PROPERTIES: list[dict[str, Any]] = [
    {"property": "total", "op": "gt", "value": 99.75},
    {"property": "total", "op": "eq", "value": 100},
    {"property": "total", "op": "between", "value": [20, 150]},
    {"property": "currency", "op": "eq", "value": "USD"},
    {"property": "currency", "op": "ne", "value": "USD"},
    {"property": "coupon.code", "op": "in", "value": ["VIP", "X"]},
    {"property": "coupon.first", "op": "eq", "value": True},
    {"property": "revenue", "op": "exists"},
    {"property": "total", "op": "missing"},
    {"property": "path", "op": "contains", "value": "pri"},
    {"property": "repeat", "op": "eq", "value": False},
    {"property": "coupon", "op": "exists"},
]


@st.composite
def event_filters(draw: st.DrawFn) -> dict[str, Any]:
    flt: dict[str, Any] = {"event": draw(st.sampled_from([*EVENTS, "Never Happened"]))}
    if draw(st.booleans()):
        flt["min_count"] = draw(st.integers(1, 3))
    days = draw(st.sampled_from([None, 30, 90, 365]))
    if days:
        flt["within_days"] = days
    props = draw(st.lists(st.sampled_from(PROPERTIES), max_size=2))
    if props:
        flt["where"] = props
    if draw(st.integers(0, 5)) == 0:
        flt["did"] = False
    return flt


@st.composite
def order_filters(draw: st.DrawFn) -> dict[str, Any]:
    measure = draw(st.sampled_from(["count", "total"]))
    op = draw(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "between", "in"]))
    numbers = st.sampled_from([0, 1, 2, 20.5, 100, 250.25])
    value: Any
    if op == "between":
        value = draw(st.lists(numbers, min_size=2, max_size=2))
    elif op == "in":
        value = draw(st.lists(numbers, min_size=1, max_size=3))
    else:
        value = draw(numbers)
    flt: dict[str, Any] = {"orders": measure, "op": op, "value": value}
    if draw(st.booleans()):
        flt["within_days"] = draw(st.sampled_from([30, 180]))
    return flt


ANSWER_VALUES: list[Any] = [
    "Price",
    "Support",
    "Docs",
    "API",
    "Billing",
    "Too expensive",
    "3",
    1,
    3,
    5,
    "price",
]


@st.composite
def answer_filters(draw: st.DrawFn, campaign_ids: list[int]) -> dict[str, Any]:
    """Answer conditions on the dataset's questions (q1 to q4), in either campaign: each
    question's type decides nothing here, the engines must agree whatever is asked."""
    flt: dict[str, Any] = {
        "answer": draw(st.sampled_from(["q1", "q2", "q3", "q4", "q9"])),
        "campaign": draw(st.sampled_from(campaign_ids)),
    }
    op = draw(st.sampled_from(OPS))
    flt["op"] = op
    if op in ("eq", "ne"):
        flt["value"] = draw(st.sampled_from(ANSWER_VALUES))
    elif op in ("in", "not_in"):
        flt["value"] = draw(st.lists(st.sampled_from(ANSWER_VALUES), min_size=1, max_size=3))
    elif op == "contains":
        flt["value"] = draw(st.sampled_from(["Pri", "slow", "ö", "e"]))
    elif op == "between":
        flt["value"] = draw(st.lists(st.sampled_from([0, 1, 2.5, 3, 5, 6]), min_size=2, max_size=2))
    elif op not in ("exists", "missing"):
        flt["value"] = draw(st.sampled_from([0, 1, 2.5, 3, 5, 6]))
    return flt


@st.composite
def channel_filters(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["", "eq", "ne", "in", "not_in"]))
    if op in ("", "eq", "ne"):
        channel = draw(st.sampled_from(CHANNELS))
        return {"channel": channel if not op else {op: channel}}
    return {"channel": {op: draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3))}}


def expressions(campaign_ids: list[int]) -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(
        attribute_filters(),
        attribute_filters(),
        event_filters(),
        order_filters(),
        answer_filters(campaign_ids),
        channel_filters(),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(lambda items: {"and": items}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda items: {"or": items}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda item: {"not": item}, children),
        ),
        max_leaves=5,
    )


@st.composite
def questions(draw: st.DrawFn, campaign_ids: list[int], organization_id: int) -> NpsQuery:
    where = draw(st.one_of(st.none(), expressions(campaign_ids)))
    since = until = None
    if draw(st.booleans()):
        since = NOW - timedelta(days=draw(st.integers(0, 130)), hours=draw(st.integers(0, 23)))
        until = since + timedelta(days=draw(st.integers(0, 120)))
    return NpsQuery(
        organization_id=organization_id,
        where=None if where is None else parse_filter(where),
        attributes=draw(st.sampled_from(["snapshot", "current"])),
        since=since,
        until=until,
        campaign_ids=tuple(draw(st.lists(st.sampled_from(campaign_ids), max_size=2, unique=True))),
        score_types=tuple(
            draw(
                st.lists(
                    st.sampled_from(["promoter", "passive", "detractor"]), max_size=2, unique=True
                )
            )
        ),
        has_comment=draw(st.sampled_from([None, True, False])),
        statuses=tuple(draw(st.lists(st.sampled_from(["OPEN", "CLOSED"]), max_size=1))),
        tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))),
        count=draw(st.sampled_from(["all", "all", "latest"])),
    )


@pytest.fixture(params=["sql", "columns"])
def analytics(request: pytest.FixtureRequest, database: Database) -> Analytics:
    """Each question is answered by SQL, and by the in-memory columns."""
    if request.param == "sql":
        return Analytics(None)
    return Analytics(AnalyticsCache(database, background=False))


@pytest.fixture
def world(database: Database, org: Org) -> tuple[reference.World, list[int]]:
    dataset = build(database, org.id, random.Random(20261129))
    with database.read() as conn:
        return reference.load(conn, org.id), dataset.campaign_ids


def test_random_questions_agree_with_brute_force(
    database: Database, org: Org, world: tuple[reference.World, list[int]], analytics: Analytics
) -> None:
    loaded, campaign_ids = world
    assert len(loaded.rows) > 50 and loaded.events and loaded.orders

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(questions(campaign_ids, org.id))
    def check(query: NpsQuery) -> None:
        expected = reference.matching(loaded, query, NOW)
        with database.read() as conn:
            report = analytics.nps(conn, scope(conn, query, now=NOW))
        n, p, d, distribution = reference.counts(expected)
        assert report.window == reference.window(loaded, query)
        assert report.distribution == distribution
        assert (report.summary.responses, report.summary.promoters, report.summary.detractors) == (
            n,
            p,
            d,
        )

    check()


def test_trend_and_breakdown_agree_with_brute_force(
    database: Database, org: Org, world: tuple[reference.World, list[int]], analytics: Analytics
) -> None:
    loaded, _ = world
    zone = ZoneInfo("Asia/Kolkata")  # a half-hour offset: groups by quarter hour
    query = NpsQuery(
        organization_id=org.id,
        since=NOW - timedelta(days=115),
        until=NOW,
        where=parse_filter({"attribute": "plan", "op": "ne", "value": "Free"}),
    )
    with database.read() as conn:
        s = scope(conn, query, now=NOW)
        for interval in ("day", "week", "month", "quarter"):
            points = analytics.trend(conn, s, interval=interval, zone=zone)  # type: ignore[arg-type]
            edges = [p.start for p in points] + [points[-1].end]
            expected = reference.buckets(reference.matching(loaded, query, NOW), edges)
            got = [(p.summary.responses, p.summary.promoters, p.summary.detractors) for p in points]
            assert got == expected, interval
            assert points[0].start <= s.window.since < points[0].end
            assert points[0].start.tzinfo is not None
            assert all(p.start.astimezone(zone).hour == 0 for p in points)
        # Counting each contact's latest answer: its latest in each bucket.
        latest = dataclasses.replace(query, count="latest", score_types=("detractor",))
        s_latest = scope(conn, latest, now=NOW)
        for interval in ("week", "month"):
            points = analytics.trend(conn, s_latest, interval=interval, zone=zone)  # type: ignore[arg-type]
            for point in points:
                bucket = dataclasses.replace(
                    latest,
                    since=max(point.start, s_latest.window.since),
                    until=min(point.end, s_latest.window.until),
                )
                n, p, d, _ = reference.counts(reference.matching(loaded, bucket, NOW))
                got = (point.summary.responses, point.summary.promoters, point.summary.detractors)
                assert got == (n, p, d), (interval, point.start)
        rolling = analytics.trend(conn, s, rolling=30, zone=zone)
        for point in rolling[::7]:
            window_query = NpsQuery(
                organization_id=org.id,
                since=point.end - timedelta(days=30),
                until=point.end,
                where=query.where,
            )
            n, p, d, _ = reference.counts(reference.matching(loaded, window_query, NOW))
            assert (point.summary.responses, point.summary.promoters, point.summary.detractors) == (
                n,
                p,
                d,
            )
        for source in ("snapshot", "current"):
            by_plan = analytics.breakdown(
                conn,
                scope(
                    conn,
                    NpsQuery(
                        organization_id=org.id, since=query.since, until=NOW, attributes=source
                    ),
                    now=NOW,
                ),  # type: ignore[arg-type]
                by="plan",
                top=3,
            )
            rows = reference.matching(
                loaded,
                NpsQuery(organization_id=org.id, since=query.since, until=NOW, attributes=source),
                NOW,  # type: ignore[arg-type]
            )
            values: dict[Any, list[reference.Row]] = {}
            for r in rows:
                attrs = r.snapshot if source == "snapshot" else loaded.current[r.contact_id]
                value = attrs.get("plan")
                values.setdefault(None if value is None else value.text, []).append(r)
            ranked = sorted(
                ((v, rs) for v, rs in values.items() if v is not None),
                key=lambda x: (-len(x[1]), x[0]),
            )
            expected_rows = [(v, reference.counts(rs)[:3]) for v, rs in ranked[:3]]
            rest = [r for _, rs in ranked[3:] for r in rs]
            if rest:
                expected_rows.append((OTHER, reference.counts(rest)[:3]))
            if None in values:
                expected_rows.append((MISSING, reference.counts(values[None])[:3]))
            got_rows = [
                (row.value, (row.summary.responses, row.summary.promoters, row.summary.detractors))
                for row in by_plan.rows
            ]
            assert got_rows == expected_rows
            assert by_plan.total.responses == len(rows)


CATALOGUE: list[dict[str, Any]] = [
    {"attribute": "plan", "op": "eq", "value": "Premium"},
    {"attribute": "plan", "op": "eq", "value": "premium"},
    {"attribute": "plan", "op": "eq", "value": "PREMIUM", "ignore_case": True},
    {"attribute": "plan", "op": "not_in", "value": ["pro", "FREE"], "ignore_case": True},
    {"attribute": "country", "op": "contains", "value": "ÖS", "ignore_case": True},
    {"attribute": "trial", "op": "eq", "value": "TRUE", "ignore_case": True},
    {"attribute": "Plan", "op": "exists"},
    {"attribute": "plan", "op": "in", "value": ["Pro", "Enterprise"]},
    {"attribute": "plan", "op": "not_in", "value": ["Pro", "Enterprise"]},
    {"attribute": "country", "op": "contains", "value": "ö"},
    {"attribute": "seats", "op": "eq", "value": 10},
    {"attribute": "seats", "op": "eq", "value": "10"},
    {"attribute": "seats", "op": "gte", "value": 10},
    {"attribute": "seats", "op": "lt", "value": "5"},
    {"attribute": "mrr", "op": "between", "value": [9.5, 99.25]},
    {"attribute": "trial", "op": "eq", "value": True},
    {"attribute": "trial", "op": "ne", "value": False},
    {"attribute": "renewal", "op": "gt", "value": NOW.date().isoformat()},
    {"attribute": "renewal", "op": "between", "value": DATES[1:3][::-1]},
    {"attribute": "company.size", "op": "eq", "value": "large"},
    {"attribute": "labels", "op": "eq", "value": ["a"]},
    {"attribute": "labels", "op": "missing"},
    {"event": "Order Completed"},
    {"event": "Order Completed", "min_count": 2},
    {"event": "Order Completed", "within_days": 90, "where": [PROPERTIES[0]]},
    *({"event": "Order Completed", "where": [p]} for p in PROPERTIES[:9]),
    {"event": "Viewed Page", "where": [PROPERTIES[9]]},
    {"event": "Viewed Page", "where": [PROPERTIES[10]]},
    {"event": "Signed Up", "did": False},
    # Properties an event does not have: negations must stay two-valued (no SQL NULLs).
    {"not": {"event": "Viewed Page", "where": [PROPERTIES[4]]}},
    {
        "event": "Viewed Page",
        "where": [PROPERTIES[8], {"property": "currency", "op": "not_in", "value": ["USD"]}],
    },
    {"orders": "count", "op": "gte", "value": 2},
    {"orders": "total", "op": "gt", "value": 100, "within_days": 90},
    {"orders": "total", "op": "eq", "value": 0},
    {"channel": "web"},
    {"channel": {"ne": "email"}},
    {"channel": {"in": ["link", "email"]}},
    {"channel": {"not_in": ["web"]}},
    {"not": {"channel": "link"}},
    {"and": [{"channel": "web"}, {"attribute": "plan", "op": "eq", "value": "Premium"}]},
    {
        "or": [
            {"attribute": "plan", "op": "in", "value": ["Pro", "Premium"]},
            {"not": {"attribute": "country", "op": "eq", "value": "DE"}},
        ]
    },
]


#: Answer conditions; ``campaign`` is the index of the dataset's campaign (first, second).
ANSWER_CATALOGUE: list[dict[str, Any]] = [
    {"answer": "q1", "campaign": 0, "op": "eq", "value": "Price"},
    {"answer": "q1", "campaign": 0, "op": "in", "value": ["Price", "Support"]},
    {"answer": "q1", "campaign": 0, "op": "not_in", "value": ["Price", "Support"]},
    {"answer": "q1", "campaign": 0, "op": "ne", "value": "Speed"},
    {"answer": "q2", "campaign": 0, "op": "eq", "value": "API"},
    {"answer": "q2", "campaign": 0, "op": "in", "value": ["Docs", "Billing"]},
    {"answer": "q2", "campaign": 0, "op": "missing"},
    {"answer": "q3", "campaign": 0, "op": "gte", "value": 4},
    {"answer": "q3", "campaign": 0, "op": "lt", "value": 2.5},
    {"answer": "q3", "campaign": 0, "op": "between", "value": [2, 3]},
    {"answer": "q3", "campaign": 0, "op": "eq", "value": 3},
    {"answer": "q4", "campaign": 0, "op": "contains", "value": "slow"},
    {"answer": "q4", "campaign": 0, "op": "exists"},
    {"answer": "q1", "campaign": 1, "op": "contains", "value": "Price"},
    {"answer": "q1", "campaign": 1, "op": "eq", "value": "3"},
    {"answer": "q2", "campaign": 1, "op": "gt", "value": 3},
    {
        "or": [
            {"answer": "q1", "campaign": 0, "op": "eq", "value": "Support"},
            {"answer": "q2", "campaign": 1, "op": "exists"},
        ]
    },
]


def _resolved(flt: dict[str, Any], campaign_ids: list[int]) -> dict[str, Any]:
    """The filter with each answer condition's campaign index turned into its id."""
    if "or" in flt:
        return {"or": [_resolved(item, campaign_ids) for item in flt["or"]]}
    if "answer" in flt:
        return {**flt, "campaign": campaign_ids[flt["campaign"]]}
    return flt


@pytest.mark.parametrize("count", ["all", "latest"])
@pytest.mark.parametrize("source", ["snapshot", "current"])
def test_each_kind_of_condition_agrees_with_brute_force(
    database: Database,
    org: Org,
    world: tuple[reference.World, list[int]],
    analytics: Analytics,
    source: str,
    count: str,
) -> None:
    loaded, campaign_ids = world
    assert 0 < sum(1 for row in loaded.rows if row.answers) < len(loaded.rows)
    total = len(
        reference.matching(
            loaded,
            NpsQuery(
                organization_id=org.id,
                since=NOW - timedelta(days=200),
                until=NOW + timedelta(days=1),
                count=count,
            ),
            NOW,
        )
    )  # type: ignore[arg-type]
    partial = 0
    for flt in CATALOGUE + ANSWER_CATALOGUE:
        query = NpsQuery(
            organization_id=org.id,
            where=parse_filter(_resolved(flt, campaign_ids)),
            attributes=source,  # type: ignore[arg-type]
            since=NOW - timedelta(days=200),
            until=NOW + timedelta(days=1),
            count=count,  # type: ignore[arg-type]
        )
        expected = reference.matching(loaded, query, NOW)
        with database.read() as conn:
            report = analytics.nps(conn, scope(conn, query, now=NOW))
        assert report.distribution == reference.counts(expected)[3], flt
        partial += 0 < len(expected) < total
    # The catalogue discriminates: most conditions keep some responses and drop others.
    assert partial >= (len(CATALOGUE) + len(ANSWER_CATALOGUE)) * 2 // 3


@pytest.mark.parametrize("count", ["all", "latest"])
@pytest.mark.parametrize("source", ["snapshot", "current"])
def test_breakdown_by_channel_agrees_with_brute_force(
    database: Database,
    org: Org,
    world: tuple[reference.World, list[int]],
    analytics: Analytics,
    source: str,
    count: str,
) -> None:
    loaded, _ = world
    assert {row.channel for row in loaded.rows} == set(CHANNELS)
    for where in (None, {"attribute": "plan", "op": "ne", "value": "Free"}, {"channel": "web"}):
        query = NpsQuery(
            organization_id=org.id,
            where=None if where is None else parse_filter(where),
            attributes=source,  # type: ignore[arg-type]
            since=NOW - timedelta(days=200),
            until=NOW + timedelta(days=1),
            count=count,  # type: ignore[arg-type]
        )
        rows = reference.matching(loaded, query, NOW)
        per_channel = {
            channel: reference.counts([r for r in rows if r.channel == channel])[:3]
            for channel in CHANNELS
        }
        expected = sorted(
            ((c, n) for c, n in per_channel.items() if n[0]), key=lambda x: (-x[1][0], x[0])
        )
        with database.read() as conn:
            result = analytics.breakdown(conn, scope(conn, query, now=NOW), by="channel")
        got = [
            (row.value, (row.summary.responses, row.summary.promoters, row.summary.detractors))
            for row in result.rows
        ]
        assert got == expected, where
        assert result.attribute == "channel"
        assert result.total.responses == len(rows)


@pytest.mark.parametrize("source", ["snapshot", "current"])
def test_numeric_breakdown_agrees_with_brute_force(
    database: Database,
    org: Org,
    world: tuple[reference.World, list[int]],
    analytics: Analytics,
    source: str,
) -> None:
    """A numeric attribute is bucketed by the edges brute force chooses from the same
    values; given edges and ``none`` (one row per value) too."""
    loaded, _ = world
    query = NpsQuery(
        organization_id=org.id,
        since=NOW - timedelta(days=200),
        until=NOW + timedelta(days=1),
        attributes=source,  # type: ignore[arg-type]
    )
    rows = reference.matching(loaded, query, NOW)
    numbers = Counter(
        value.number
        for r in rows
        if (value := reference.attribute_of(loaded, query, r, "arr")) is not None
        and value.number is not None
    )
    assert len(numbers) > MAX_RAW_VALUES
    edges = auto_edges(sorted(numbers.items()))
    assert len(edges) >= 3

    def got(result: Breakdown) -> list[tuple[Any, Any, tuple[int, int, int]]]:
        named = {OTHER: "other", MISSING: "missing"}
        return [
            (
                named.get(row.value, row.low),
                row.high,
                (row.summary.responses, row.summary.promoters, row.summary.detractors),
            )
            for row in result.rows
        ]

    with database.read() as conn:
        s = scope(conn, query, now=NOW)
        automatic = analytics.breakdown(conn, s, by="arr")
        given = analytics.breakdown(conn, s, by="seats", buckets=(2, 10.25), sort="value")
        by_value = analytics.breakdown(conn, s, by="arr", buckets="none", top=100)
        few = analytics.breakdown(conn, s, by="mrr")  # six values: one row each
    assert automatic.edges == edges
    assert got(automatic) == reference.numeric_buckets(loaded, query, rows, "arr", edges)
    assert "\u2013" in automatic.rows[1].value  # whole numbers: 1,000 to 4,999 by en dash
    assert got(given) == reference.numeric_buckets(loaded, query, rows, "seats", (2, 10.25))
    assert [row.value for row in given.rows[:3]] == ["< 2", "2 to < 10.25", "≥ 10.25"]
    assert by_value.edges is None
    assert {row.value for row in by_value.rows} - {MISSING} == {
        reference.attribute_of(loaded, query, r, "arr").text  # type: ignore[union-attr]
        for r in rows
        if reference.attribute_of(loaded, query, r, "arr") is not None
    }
    assert few.edges is None and all(row.low is None for row in few.rows)
    for result in (automatic, given, by_value, few):
        assert result.total.responses == len(rows)


def test_feedback_pages_agree_by_sql_and_by_columns(
    database: Database, org: Org, world: tuple[reference.World, list[int]]
) -> None:
    """The feedback list's count and pages, newest first, as the columns give them."""
    loaded, campaign_ids = world
    by_columns = Analytics(AnalyticsCache(database, background=False))
    for flt in [None, *CATALOGUE[::6]]:
        query = NpsQuery(
            organization_id=org.id,
            where=None if flt is None else parse_filter(_resolved(flt, campaign_ids)),
            since=NOW - timedelta(days=60),
            until=NOW,
            has_comment=True if flt is None else None,
        )
        expected = sorted(
            reference.matching(loaded, query, NOW), key=lambda r: (r.created_at, r.id)
        )
        with database.read() as conn:
            s = scope(conn, query, now=NOW)
            for number in range(1, len(expected) // 7 + 3):
                page = Page(number, 7)
                want = (len(expected), [r.id for r in expected[::-1][page.offset :][:7]])
                for listed in (None, by_columns.listed):
                    total, items = feedback_page(conn, s, page, listed=listed)
                    assert (total, [item.id for item in items]) == want, flt

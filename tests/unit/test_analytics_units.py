"""The filter language's parser and the NPS arithmetic, without a database."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from promoter.analytics.filters import (
    And,
    AttributeFilter,
    EventFilter,
    FilterError,
    Not,
    OrderFilter,
    parse_filter,
)
from promoter.analytics.params import parse_moment
from promoter.domain.nps import NpsSummary, margin_of_error, score_type


@pytest.mark.parametrize(
    ("promoters", "detractors", "responses", "expected"),
    [
        # n' = 4, p' = d' = 0.75/4 = 0.1875; var = 0.375; 1.96 * sqrt(0.375/4) * 100
        (0, 0, 1, 60.01),
        # n' = 103, p' = 50.75/103 = 0.4927, d' = 20.75/103 = 0.2015;
        # var = 0.6942 - 0.2913^2 = 0.6093; 1.96 * sqrt(0.6093/103) * 100
        (50, 20, 100, 15.08),
        # The rule of thumb: about 5 points for 1,000 responses.
        (600, 200, 1000, 4.95),
        # n' = 13, p' = 0.75/13, d' = 10.75/13; var = 0.8846 - 0.7663^2 = 0.2973
        (0, 10, 10, 29.42),
        # Unanimous: the plain Wald margin would be 0; the adjusted one is not.
        (1000, 0, 1000, 0.41),
    ],
)
def test_adjusted_wald_margin_matches_hand_computed_values(
    promoters: int, detractors: int, responses: int, expected: float
) -> None:
    assert margin_of_error(promoters, detractors, responses) == pytest.approx(expected, abs=0.01)


def test_no_responses_have_no_score_and_no_margin() -> None:
    empty = NpsSummary.of(0, 0, 0)
    assert empty.nps is None and empty.margin is None and empty.percent(0) is None
    assert empty.to_json()["confidence_interval"] is None


def test_summary_from_distribution() -> None:
    summary = NpsSummary.from_distribution([1, 0, 0, 0, 0, 0, 1, 1, 1, 2, 4])
    assert (summary.responses, summary.promoters, summary.passives, summary.detractors) == (
        10,
        6,
        2,
        2,
    )
    assert summary.nps == 40.0
    assert summary.to_json()["promoters"] == {"count": 6, "percent": 60.0}
    low, high = summary.to_json()["confidence_interval"]  # type: ignore[misc]
    assert low < 40.0 < high <= 100.0
    assert [score_type(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]


def test_a_full_filter_parses() -> None:
    parsed = parse_filter(
        {
            "and": [
                {"attribute": "company.plan", "op": "in", "value": ["Premium", "Pro"]},
                {"not": {"attribute": "churned", "op": "eq", "value": True}},
                {
                    "event": "Order Completed",
                    "min_count": 2,
                    "within_days": 90,
                    "where": [{"property": "total", "op": "gt", "value": 100}],
                },
                {"orders": "total", "op": "gte", "value": 500},
                {"event": "Cancelled", "did": False},
            ]
        }
    )
    assert isinstance(parsed, And) and len(parsed.items) == 5
    plan, churned, orders_done, spent, cancelled = parsed.items
    assert isinstance(plan, AttributeFilter) and plan.name == "company.plan"
    assert [v.text for v in plan.condition.values] == ["Premium", "Pro"]
    assert isinstance(churned, Not)
    assert isinstance(orders_done, EventFilter) and orders_done.where[0].path == ("total",)
    assert isinstance(spent, OrderFilter) and spent.condition.low is not None
    assert isinstance(cancelled, Not) and isinstance(cancelled.item, EventFilter)


def test_numbers_compare_in_canonical_form() -> None:
    twelve = parse_filter({"attribute": "seats", "value": 12.0})
    assert isinstance(twelve, AttributeFilter) and twelve.condition.values[0].text == "12"
    text_bound = parse_filter({"attribute": "mrr", "op": "gt", "value": "99.5"})
    assert isinstance(text_bound, AttributeFilter)
    assert text_bound.condition.low is not None and text_bound.condition.low.number == 99.5
    dated = parse_filter({"attribute": "renewal", "op": "lt", "value": "2026-01-01"})
    assert isinstance(dated, AttributeFilter) and dated.condition.kind == "date"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{", "not valid JSON"),
        ([], "expected an object"),
        ({}, "expected one of"),
        ({"attribute": "plan", "op": "like", "value": "x"}, "unknown operator 'like'"),
        ({"attribute": "plan", "op": "eq"}, "eq needs a value"),
        ({"attribute": "plan", "op": "exists", "value": 1}, "exists takes no value"),
        ({"attribute": "plan", "value": None}, "null is not a value"),
        ({"attribute": "plan", "value": {"a": 1}}, "got an object"),
        ({"attribute": "", "value": 1}, "non-empty name"),
        ({"attribute": "plan", "op": "in", "value": []}, "non-empty list"),
        ({"attribute": "plan", "op": "gt", "value": "Premium"}, "number or an ISO-8601 date"),
        ({"attribute": "plan", "op": "between", "value": [1]}, "two values"),
        ({"attribute": "plan", "op": "between", "value": [1, "2026-01-01"]}, "both bounds"),
        ({"attribute": "plan", "op": "contains", "value": 3}, "non-empty text"),
        ({"attribute": "plan", "value": "a\x00b"}, "NUL"),
        ({"attribute": "plan", "value": 1, "extra": 2}, "unknown field(s) extra"),
        ({"and": []}, "filter.and: expected a non-empty list"),
        ({"or": [{"attribute": "a", "value": 1}, {"nope": 1}]}, "filter.or[1]"),
        ({"event": "X", "min_count": 0}, "min_count"),
        ({"event": "X", "within_days": -1}, "within_days"),
        ({"event": "X", "where": [{"property": "a..b", "value": 1}]}, "dotted path"),
        ({"event": "X", "where": [{"property": "t", "op": "gt", "value": "2026-01-01"}]}, "number"),
        ({"event": "X", "where": [{"property": "t", "value": [1]}]}, "text, numbers or booleans"),
        ({"orders": "sum", "op": "gt", "value": 1}, '"count" or "total"'),
        ({"orders": "count", "op": "contains", "value": "x"}, "does not apply"),
        ({"orders": "count", "op": "eq", "value": "many"}, "compares with numbers"),
        ({"attribute": "x", "value": float("inf")}, "finite"),
    ],
)
def test_bad_filters_say_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(FilterError, match=None) as raised:
        parse_filter(data)
    assert message in str(raised.value)


def test_filters_are_bounded() -> None:
    deep: dict[str, object] = {"attribute": "a", "value": 1}
    for _ in range(20):
        deep = {"not": deep}
    with pytest.raises(FilterError, match="nest at most"):
        parse_filter(deep)
    wide = {"or": [{"attribute": "a", "value": i} for i in range(101)]}
    with pytest.raises(FilterError, match="at most 100 conditions"):
        parse_filter(wide)


@pytest.mark.parametrize("text", ["0001-01-01", "1899-06-30", "9999-12-31", "0001-01-01T00:00:00Z"])
def test_dates_far_out_of_range_are_refused(text: str) -> None:
    """A bare date was once let through: until=0001-01-01 then failed computing its window."""
    for end in (False, True):
        with pytest.raises(FilterError, match=r"^until: expected a"):
            parse_moment(text, ZoneInfo("UTC"), "until", end=end)


def test_dates_in_range_are_local_days() -> None:
    tz = ZoneInfo("Europe/Paris")
    assert parse_moment("2026-11-01", tz, "since", end=False) == datetime(2026, 11, 1, tzinfo=tz)
    assert parse_moment("2026-11-01", tz, "until", end=True) == datetime(2026, 11, 2, tzinfo=tz)

"""The dashboard's URL question, the filter builder's rows, and chart geometry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from promoter.analytics.query import Window
from promoter.analytics.trend import TrendPoint
from promoter.domain.nps import NpsSummary
from promoter.web.dashboard import charts
from promoter.web.dashboard.forms import Form
from promoter.web.dashboard.question import (
    builder,
    conditions_of,
    filter_from_form,
    read_question,
    with_value,
)
from promoter.web.dashboard.ranges import (
    Days,
    Period,
    first_day,
    last_day,
    months_before,
    preset_days,
    previous,
    window_of,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # already the 30th in Berlin


def test_ranges_are_whole_local_days_ending_today() -> None:
    q = read_question([], BERLIN, NOW)  # the 12 months ending today, the 30th in Berlin
    assert q.range == "365" and (q.params.since, q.params.until) == ("2025-12-01", "2026-11-30")
    assert q.previous == Period(Days(date(2024, 12, 1), date(2025, 11, 30)), "previous 12 months")
    thirty = read_question([("range", "30")], BERLIN, NOW)
    assert (thirty.params.since, thirty.params.until) == ("2026-11-01", "2026-11-30")
    before = Days(date(2026, 10, 2), date(2026, 10, 31))
    assert thirty.previous == Period(before, "previous 30 days")
    week = read_question([("range", "7")], BERLIN, NOW)
    assert (week.params.since, week.params.until) == ("2026-11-24", "2026-11-30")
    ninety = read_question([("range", "90")], BERLIN, NOW)
    assert ninety.params.since == "2026-09-02" and ninety.previous is not None
    assert ninety.previous.days.count == 90 and ninety.previous.days.last == date(2026, 9, 1)
    everything = read_question([("range", "all")], BERLIN, NOW)
    assert everything.params.until == "2026-11-30" and everything.previous is None
    custom = read_question(
        [("range", "custom"), ("since", "2026-01-01"), ("until", "2026-02-01")], BERLIN, NOW
    )
    assert (custom.params.since, custom.params.until) == ("2026-01-01", "2026-02-01")
    assert ("since", "2026-01-01") in custom.pairs
    assert custom.previous == Period(
        Days(date(2025, 11, 30), date(2025, 12, 31)), "previous 32 days"
    )
    timed = read_question(
        [("range", "custom"), ("since", "2026-01-01T09:00"), ("until", "2026-02-01")], BERLIN, NOW
    )
    assert timed.previous is None  # a period before times is not days


def test_twelve_months_and_their_odd_days() -> None:
    assert preset_days("365", date(2026, 12, 6)) == Days(date(2025, 12, 7), date(2026, 12, 6))
    # A year ago has no 29 February: the month's last day, and the period starts after it.
    assert preset_days("365", date(2028, 2, 29)) == Days(date(2027, 3, 1), date(2028, 2, 29))
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 12) == date(2025, 1, 15)
    assert previous("1", Days(date(2026, 5, 5), date(2026, 5, 5))).label == "previous day"


def test_captions_show_the_last_day_a_window_covers() -> None:
    # A custom range to 31 August ends at midnight on 1 September, local time.
    window = Window(datetime(2026, 8, 1, tzinfo=BERLIN), datetime(2026, 9, 1, tzinfo=BERLIN))
    assert first_day(window, BERLIN) == date(2026, 8, 1)
    assert last_day(window, BERLIN) == date(2026, 8, 31)
    assert window_of(Days(date(2026, 8, 1), date(2026, 8, 31)), BERLIN) == window
    # An API window ending just after the latest response ends on that response's day.
    latest = datetime(2026, 8, 31, 21, 59, tzinfo=UTC) + timedelta(microseconds=1)
    assert last_day(Window(window.since, latest), BERLIN) == date(2026, 8, 31)


def test_problems_are_listed_not_raised() -> None:
    q = read_question(
        [("range", "forever"), ("campaign", "x"), ("filter", "{oops"), ("type", "fan")],
        BERLIN,
        NOW,
    )
    assert len(q.errors) == 3 and q.params.filter is None and q.score_types == []


def test_builder_rows_round_trip_through_the_url() -> None:
    form = Form(
        [
            ("join", "or"),
            ("a_name", "plan"),
            ("a_op", "in"),
            ("a_value", "Pro, Premium"),
            ("a_name", "mrr"),
            ("a_op", "gte"),
            ("a_value", "100"),
            ("a_name", "country"),
            ("a_op", "eq"),
            ("a_value", ""),
            ("a_case", "1"),  # mrr: "Match case" means nothing for numbers
            ("e_did", "no"),
            ("e_name", "Order Completed"),
            ("e_min", "2"),
            ("e_days", "30"),
        ]
    )
    text, pending = filter_from_form(form)
    data = orjson.loads(text)
    assert pending == ["country"]
    assert data == {
        "or": [
            {"attribute": "plan", "op": "in", "value": ["Pro", "Premium"], "ignore_case": True},
            {"attribute": "mrr", "op": "gte", "value": "100"},
            {"event": "Order Completed", "min_count": 2, "within_days": 30, "did": False},
        ]
    }
    shown = builder(data, pending)
    assert shown.join == "or" and not shown.advanced
    assert [(r.kind, r.name, r.op, r.value) for r in shown.rows] == [
        ("attribute", "plan", "in", "Pro,Premium"),
        ("attribute", "mrr", "gte", "100"),
        ("event", "Order Completed", "eq", ""),
        ("attribute", "country", "eq", ""),
    ]
    assert shown.rows[2].did is False and shown.rows[2].min_count == 2
    assert [r.ignore_case for r in shown.rows] == [True, False, True, True]


def test_removed_rows_and_nested_filters() -> None:
    form = Form([("a_name", "plan"), ("a_op", "eq"), ("a_value", "Pro"), ("remove", "a0")])
    assert filter_from_form(form) == ("", [])
    nested = {"not": {"attribute": "plan", "op": "eq", "value": "Pro"}}
    assert builder(nested, []).advanced
    json_mode = Form([("mode", "json"), ("json", ' {"attribute": "x", "op": "exists"} ')])
    assert filter_from_form(json_mode) == ('{"attribute": "x", "op": "exists"}', [])


def _point(day: int, responses: int, promoters: int, detractors: int) -> TrendPoint:
    start = datetime(2026, 1, day, tzinfo=UTC)
    return TrendPoint(
        start, start + timedelta(days=1), NpsSummary.of(responses, promoters, detractors)
    )


def test_trend_geometry_uses_the_full_nps_scale_and_leaves_gaps() -> None:
    points = [_point(1, 10, 10, 0), _point(2, 0, 0, 0), _point(3, 10, 0, 10), _point(4, 4, 2, 2)]
    t = charts.trend(points, "day", ZoneInfo("UTC"))
    assert len(t.lines) == 2 and len(t.bands) == 2  # the empty day splits the line
    top, bottom = t.dots[0].y, t.dots[1].y
    assert top == t.top and bottom == t.bottom  # +100 at the top, -100 at the bottom
    assert abs(t.dots[2].y - t.zero) < 1e-9
    assert [tick.label for tick in t.y_ticks] == ["-100", "-50", "0", "+50", "+100"]


def test_breakdown_bars_start_at_zero() -> None:
    from promoter.analytics.breakdown import BreakdownRow

    rows = [
        BreakdownRow("Pro", NpsSummary.of(10, 8, 1)),
        BreakdownRow("Free", NpsSummary.of(10, 1, 8)),
        BreakdownRow("(missing)", NpsSummary.of(0, 0, 0)),
    ]
    bars = charts.breakdown_bars(rows)
    pro, free, missing = bars.bars
    assert pro.x == bars.zero and not pro.negative
    assert free.x + free.width == bars.zero and free.negative
    assert missing.value == "\u2013" and missing.width == 0


def test_narrow_charts_label_fewer_periods_and_put_labels_above_the_bars() -> None:
    from promoter.analytics.breakdown import BreakdownRow

    points = [_point(day, 10, 5, 2) for day in range(1, 17)]
    trend = charts.fitted_trend(points, "day", ZoneInfo("UTC"))
    assert len(trend.wide.x_ticks) == 8 and len(trend.narrow.x_ticks) == 3
    assert trend.narrow.width == charts.NARROW < trend.wide.width
    rows = [
        BreakdownRow("A plan with a name far too long to show", NpsSummary.of(10, 8, 1)),
        BreakdownRow("Free", NpsSummary.of(10, 1, 8)),
    ]
    bars = charts.fitted_breakdown(rows)
    wide, narrow = bars.wide, bars.narrow
    assert wide.label_anchor == "end" and wide.label_x < wide.left  # to the left
    assert narrow.label_anchor == "start" and narrow.label_x == narrow.left
    assert narrow.label_dy < narrow.bar_dy  # above
    assert narrow.height == narrow.row_height * 2 + 30
    for bar in wide.bars + narrow.bars:
        assert len(bar.label) <= charts.LABEL_CHARS
    assert all(narrow.left <= b.x and b.x + b.width <= narrow.right for b in narrow.bars)


def test_a_value_is_corrected_where_it_stands() -> None:
    flt = {
        "or": [
            {"attribute": "country", "value": "DE"},
            {"attribute": "plan", "op": "in", "value": ["Pro", "enterprise"]},
        ]
    }
    assert conditions_of(flt) == flt["or"]
    assert orjson.loads(with_value(flt, 1, "enterprise", "Enterprise")) == {
        "or": [
            {"attribute": "country", "value": "DE"},
            {"attribute": "plan", "op": "in", "value": ["Pro", "Enterprise"]},
        ]
    }
    assert flt["or"][1]["value"] == ["Pro", "enterprise"]  # the page's own filter is kept
    one = {"attribute": "plan", "value": "pro"}
    assert conditions_of(one) == [one] and conditions_of(None) == []
    assert orjson.loads(with_value(one, 0, "pro", "Pro")) == {"attribute": "plan", "value": "Pro"}

"""A breakdown's numeric buckets: when an attribute counts as numeric, the edges chosen for
it, edges as typed, and labels, on hand-checked examples."""

from __future__ import annotations

import pytest

from promoter.analytics.buckets import (
    AUTO,
    NONE,
    BreakdownError,
    auto_edges,
    is_numeric,
    label,
    parse_buckets,
    round_to,
)


def ones(values: range | list[float]) -> list[tuple[float, int]]:
    return [(float(v), 1) for v in values]


def test_one_to_a_hundred_splits_into_six_round_buckets() -> None:
    # Sixths of 100 responses fall at 18, 35, 51, 68 and 85; one significant digit keeps
    # them apart (85 rounds half to even: 80).
    assert auto_edges(ones(range(1, 101))) == (20, 40, 50, 70, 80)


def test_revenue_with_a_long_tail_gets_round_edges() -> None:
    # 60 free accounts (0) then 40 paying ones: 100, 1,100, ... 39,100. The first three
    # sixths all fall on the first paying value (60 responses below it); four sixths need
    # 67 below: the 8th paying value, 7,100; five sixths 84: the 25th, 24,100.
    counts = [(0.0, 60), *ones([100 + 1000 * i for i in range(40)])]
    assert auto_edges(counts) == (100, 7000, 20_000)


def test_narrow_ranges_round_to_more_digits() -> None:
    # Years: one or two significant digits make them all 2,000; three leave 2,000 to 2,020
    # (only three edges); four digits keep the quantile values themselves.
    assert auto_edges(ones(range(1990, 2026))) == (1996, 2002, 2008, 2014, 2020)


def test_edges_leave_no_bucket_empty() -> None:
    # 1,000 responses at 0 and one at each of 1..11: every quantile is 1.
    assert auto_edges([(0.0, 1000), *ones(range(1, 12))]) == (1,)
    # 7.5 to 8.6: sixths at 7.7, 7.9, 8.1, 8.3, 8.5. One digit makes them 8 and 9, and 9
    # is above every value (an empty last bucket): dropped, too few left; two digits.
    assert auto_edges(ones([7.5 + i / 10 for i in range(12)])) == (7.7, 7.9, 8.1, 8.3, 8.5)


def test_rounding_to_significant_digits() -> None:
    assert [round_to(x, 1) for x in (8064, 15392, 1234, 49, 0.0042, -350)] == [
        8000,
        20000,
        1000,
        50,
        0.004,
        -400,
    ]
    assert round_to(8064, 2) == 8100


def test_numeric_means_nearly_all_numbers_and_more_than_ten_values() -> None:
    assert is_numeric(numbers=95, present=100, distinct=11)
    assert not is_numeric(numbers=95, present=100, distinct=10)  # few values: shown each
    assert not is_numeric(numbers=80, present=100, distinct=50)  # many are text


def test_labels_are_readable_and_unambiguous() -> None:
    assert label(None, 1000, integers=True) == "< 1,000"
    assert label(1000, 5000, integers=True) == "1,000\u20134,999"
    assert label(20000, None, integers=True) == "\u2265 20,000"
    assert label(5, 6, integers=True) == "5"
    assert label(-5, 0, integers=True) == "-5 to -1"
    assert label(0.5, 2.5, integers=True) == "1\u20132"
    # Fractions in the data: the upper edge is left out, in words.
    assert label(9.5, 100, integers=False) == "9.5 to < 100"
    assert label(1000, 5000, integers=False) == "1,000 to < 5,000"
    # No whole number inside: said as a range.
    assert label(0.2, 0.7, integers=True) == "0.2 to < 0.7"


def test_edges_as_typed() -> None:
    assert parse_buckets(None) == AUTO
    assert parse_buckets("  ") == AUTO
    assert parse_buckets("Auto") == AUTO
    assert parse_buckets("none") == NONE
    assert parse_buckets("1000, 5000 20000") == (1000, 5000, 20000)
    assert parse_buckets("-1.5;0;1e3") == (-1.5, 0, 1000)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1k, 5k", "'1k' is not a number"),
        ("5000, 1000", "edges must increase, but 1,000 comes after 5,000"),
        ("10, 10", "edges must increase, but 10 comes after 10"),
        ("1, nan", "'nan' is not a finite number"),
        ("1, inf", "'inf' is not a finite number"),
        (",".join(str(n) for n in range(51)), "give 1 to 50 edges"),
    ],
)
def test_bad_edges_say_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(BreakdownError, match=message):
        parse_buckets(typed)

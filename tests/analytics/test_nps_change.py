"""The change of the NPS between two periods and its margin of error, checked by hand."""

from __future__ import annotations

import pytest

from promoter.analytics.change import (
    MIN_RESPONSES,
    NpsChange,
    TooFewToCompare,
    nps_change,
    nps_variance,
)
from promoter.domain.nps import NpsSummary


def test_variance_of_one_nps() -> None:
    # p = 0.5, d = 0.2: (0.5 + 0.2 - 0.3^2) / 100 = 0.61 / 100
    assert nps_variance(NpsSummary.of(100, 50, 20)) == pytest.approx(0.0061)
    # Unanimous promoters: p = 1, d = 0: (1 - 1) / n = 0
    assert nps_variance(NpsSummary.of(10, 10, 0)) == 0


def test_a_change_within_the_margin_of_error() -> None:
    # now: NPS 30, var 0.0061; before: p = 0.4, d = 0.3, NPS 10, var (0.7 - 0.01) / 100 =
    # 0.0069; SE = sqrt(0.013) = 0.11402; margin = 1.96 * 0.11402 * 100 = 22.35 > 20
    change = nps_change(NpsSummary.of(100, 50, 20), NpsSummary.of(100, 40, 30))
    assert isinstance(change, NpsChange)
    assert change.points == pytest.approx(20.0)
    assert change.margin == pytest.approx(22.35, abs=0.01)
    assert not change.significant


def test_the_same_change_on_four_times_the_responses_is_beyond_it() -> None:
    # Each variance a quarter: SE = sqrt(0.013 / 4) = 0.05701; margin = 11.17 < 20
    change = nps_change(NpsSummary.of(400, 200, 80), NpsSummary.of(400, 160, 120))
    assert isinstance(change, NpsChange)
    assert change.margin == pytest.approx(11.17, abs=0.01)
    assert change.significant
    # A fall is beyond the margin as much as a rise.
    fall = nps_change(NpsSummary.of(400, 160, 120), NpsSummary.of(400, 200, 80))
    assert isinstance(fall, NpsChange) and fall.points == pytest.approx(-20.0) and fall.significant


def test_no_change_without_responses_on_either_side() -> None:
    empty = NpsSummary.of(0, 0, 0)
    some = NpsSummary.of(100, 50, 20)
    assert nps_change(empty, some) is None
    assert nps_change(some, empty) is None
    assert nps_change(empty, empty) is None


def test_unanimous_periods_have_no_margin() -> None:
    # Both all promoters: variance 0 and no change; not "beyond" a margin of 0.
    same = nps_change(NpsSummary.of(50, 50, 0), NpsSummary.of(80, 80, 0))
    assert isinstance(same, NpsChange) and same.points == 0 and same.margin == 0
    assert not same.significant


def test_fewer_than_the_minimum_answers_on_either_side_are_not_compared() -> None:
    assert MIN_RESPONSES == 30
    enough = NpsSummary.of(30, 15, 6)
    # 29 answers against 30: a 50-point gap, but no number to read.
    few = NpsSummary.of(29, 29, 0)
    assert nps_change(few, enough) == TooFewToCompare(now=29, before=30, minimum=30)
    assert nps_change(enough, few) == TooFewToCompare(now=30, before=29, minimum=30)
    # 30 on both sides: compared. p = 0.5, d = 0.2 (var 0.61 / 30) against p = 1, d = 0
    # (var 0): margin = 1.96 * sqrt(0.61 / 30) * 100 = 27.95.
    compared = nps_change(NpsSummary.of(30, 30, 0), enough)
    assert isinstance(compared, NpsChange)
    assert compared.points == pytest.approx(70.0)
    assert compared.margin == pytest.approx(27.95, abs=0.01)

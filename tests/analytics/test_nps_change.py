"""The change of the NPS between two periods and its margin of error, checked by hand."""

from __future__ import annotations

import pytest

from promoter.analytics.change import nps_change, nps_variance
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
    assert change is not None
    assert change.points == pytest.approx(20.0)
    assert change.margin == pytest.approx(22.35, abs=0.01)
    assert not change.significant


def test_the_same_change_on_four_times_the_responses_is_beyond_it() -> None:
    # Each variance a quarter: SE = sqrt(0.013 / 4) = 0.05701; margin = 11.17 < 20
    change = nps_change(NpsSummary.of(400, 200, 80), NpsSummary.of(400, 160, 120))
    assert change is not None
    assert change.margin == pytest.approx(11.17, abs=0.01)
    assert change.significant
    # A fall is beyond the margin as much as a rise.
    fall = nps_change(NpsSummary.of(400, 160, 120), NpsSummary.of(400, 200, 80))
    assert fall is not None and fall.points == pytest.approx(-20.0) and fall.significant


def test_no_change_without_responses_on_either_side() -> None:
    empty = NpsSummary.of(0, 0, 0)
    some = NpsSummary.of(10, 5, 2)
    assert nps_change(empty, some) is None
    assert nps_change(some, empty) is None
    assert nps_change(empty, empty) is None


def test_unanimous_periods_have_no_margin() -> None:
    # Both all promoters: variance 0 and no change; not "beyond" a margin of 0.
    same = nps_change(NpsSummary.of(5, 5, 0), NpsSummary.of(8, 8, 0))
    assert same is not None and same.points == 0 and same.margin == 0
    assert not same.significant

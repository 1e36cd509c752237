"""Breakdown groups that differ from the rest beyond chance: z tests and the
Benjamini-Hochberg false discovery rate, checked by hand."""

from __future__ import annotations

import pytest

from promoter.analytics.significance import Difference, differences, p_value, q_values, rest_of
from promoter.domain.nps import NpsSummary

#: NPS 30 (p = 0.5, d = 0.2, var 0.61 / n) and NPS 10 (p = 0.4, d = 0.3, var 0.69 / n).
HIGH_100, LOW_100 = NpsSummary.of(100, 50, 20), NpsSummary.of(100, 40, 30)
HIGH_400, LOW_400 = NpsSummary.of(400, 200, 80), NpsSummary.of(400, 160, 120)


def test_the_p_value_of_a_difference() -> None:
    # SE = sqrt((0.61 + 0.69) / 100) = 0.11402; z = 0.2 / 0.11402 = 1.754;
    # two-sided, from the normal table: 2 * (1 - 0.96028) = 0.0794.
    assert p_value(HIGH_100, LOW_100) == pytest.approx(0.0794, abs=1e-4)
    # Four times the answers: SE halves, z = 3.508, p = 2 * 0.000226 = 0.000451.
    assert p_value(HIGH_400, LOW_400) == pytest.approx(0.000451, abs=1e-6)
    # Two-sided: the same either way round.
    assert p_value(LOW_400, HIGH_400) == p_value(HIGH_400, LOW_400)
    # No difference at all: p = 1, also when both are unanimous (no variance).
    assert p_value(HIGH_100, HIGH_100) == pytest.approx(1.0)
    assert p_value(NpsSummary.of(40, 40, 0), NpsSummary.of(50, 50, 0)) == 1.0
    assert p_value(NpsSummary.of(40, 40, 0), NpsSummary.of(50, 0, 50)) == 0.0


def test_benjamini_hochberg_worked_by_hand() -> None:
    # m = 5, p sorted: 0.001, 0.012, 0.039, 0.041, 0.6; p * m / rank:
    # 0.005, 0.03, 0.065, 0.05125, 0.6. From the largest down, each q is the smallest of
    # these from its rank on: the third becomes 0.05125 (the fourth's).
    given = [0.039, 0.6, 0.001, 0.041, 0.012]
    assert q_values(given) == pytest.approx([0.05125, 0.6, 0.005, 0.05125, 0.03])
    # At q = 0.05 two are discoveries (p 0.001 and 0.012), though four p are below 0.05;
    # Bonferroni (p * 5 <= 0.05) would keep only the first.
    assert [q <= 0.05 for q in q_values(given)] == [False, False, True, False, True]
    assert q_values([]) == []
    assert q_values([0.9, 0.95]) == pytest.approx([0.95, 0.95])


def test_each_group_against_the_rest() -> None:
    total = NpsSummary.of(800, 360, 200)
    assert rest_of(total, HIGH_400) == LOW_400
    # Two groups: each is the other's rest, p = 0.000451 twice; q = p * 2 / 2.
    found = differences([HIGH_400, LOW_400], total)
    assert found == [
        Difference(pytest.approx(0.000451, abs=1e-6), pytest.approx(0.000451, abs=1e-6), "higher"),
        Difference(pytest.approx(0.000451, abs=1e-6), pytest.approx(0.000451, abs=1e-6), "lower"),
    ]


def test_chance_differences_are_not_flagged_and_small_groups_not_tested() -> None:
    empty = NpsSummary.of(0, 0, 0)
    found = differences([HIGH_100, LOW_100, empty], NpsSummary.of(200, 90, 50))
    # Only the two groups are tested (m = 2): q = 0.0794 * 2 / 2 > 0.05, nothing flagged.
    assert found[2] is None
    for difference in found[:2]:
        assert difference is not None and difference.differs is None
        assert difference.q_value == pytest.approx(0.0794, abs=1e-4)
    # 29 answers: not tested, however different; nor is the group whose rest is 29.
    few = NpsSummary.of(29, 0, 29)
    assert differences([HIGH_400, few], NpsSummary.of(429, 200, 109)) == [None, None]
    # At 30 both are tested and flagged.
    thirty = NpsSummary.of(30, 0, 30)
    flags = differences([HIGH_400, thirty], NpsSummary.of(430, 200, 110))
    assert [f.differs if f else None for f in flags] == ["higher", "lower"]

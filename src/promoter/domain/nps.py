"""The NPS rules: categories and their cut-offs, the score, its 95% margin (adjusted Wald)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

#: The lowest score of a promoter, and the highest of a detractor (passives are between).
PROMOTER_MIN = 9
DETRACTOR_MAX = 6

ScoreType = Literal["promoter", "passive", "detractor"]
SCORE_TYPES: tuple[ScoreType, ...] = ("promoter", "passive", "detractor")
SCORE_RANGES: dict[ScoreType, tuple[int, int]] = {
    "promoter": (PROMOTER_MIN, 10),
    "passive": (DETRACTOR_MAX + 1, PROMOTER_MIN - 1),
    "detractor": (0, DETRACTOR_MAX),
}

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


def score_type(score: int) -> ScoreType:
    if score >= PROMOTER_MIN:
        return "promoter"
    return "passive" if score > DETRACTOR_MAX else "detractor"


def margin_of_error(promoters: int, detractors: int, responses: int) -> float | None:
    """The 95% margin of error of the NPS, in points, by the adjusted-Wald method.

    n' = n + 3, p' = (P + 3/4) / n', d' = (D + 3/4) / n',
    margin = z * sqrt((p' + d' - (p' - d')^2) / n') * 100.
    """
    if responses <= 0:
        return None
    n = responses + 3
    p = (promoters + 0.75) / n
    d = (detractors + 0.75) / n
    variance = p + d - (p - d) ** 2
    return Z95 * math.sqrt(variance / n) * 100


@dataclass(frozen=True, slots=True)
class NpsSummary:
    """Counts, percents, the score and its margin for one set of responses."""

    responses: int
    promoters: int
    passives: int
    detractors: int

    @classmethod
    def of(cls, responses: int, promoters: int, detractors: int) -> NpsSummary:
        return cls(responses, promoters, responses - promoters - detractors, detractors)

    @classmethod
    def from_distribution(cls, distribution: list[int]) -> NpsSummary:
        return cls(
            sum(distribution),
            sum(distribution[PROMOTER_MIN:]),
            sum(distribution[DETRACTOR_MAX + 1 : PROMOTER_MIN]),
            sum(distribution[: DETRACTOR_MAX + 1]),
        )

    def percent(self, count: int) -> float | None:
        return None if self.responses == 0 else 100.0 * count / self.responses

    @property
    def nps(self) -> float | None:
        if self.responses == 0:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.responses

    @property
    def margin(self) -> float | None:
        return margin_of_error(self.promoters, self.detractors, self.responses)

    def to_json(self) -> dict[str, object]:
        margin = self.margin
        nps = self.nps
        return {
            "nps": nps,
            "margin_of_error": margin,
            "confidence_interval": (
                None
                if nps is None or margin is None
                else [max(-100.0, nps - margin), min(100.0, nps + margin)]
            ),
            "responses": self.responses,
            "promoters": {"count": self.promoters, "percent": self.percent(self.promoters)},
            "passives": {"count": self.passives, "percent": self.percent(self.passives)},
            "detractors": {"count": self.detractors, "percent": self.percent(self.detractors)},
        }

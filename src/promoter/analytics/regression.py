"""Regressions of promoter and of detractor on yes/no features (logistic: statsmodels'
binomial GLM over the cells of answers sharing their features): each feature's odds
ratio holding the others fixed, so two attributes that go together are not both credited
with what one of them does.

Features too small to estimate, determined by the others, or that predict the outcome
perfectly (separation) are left out with the reason; too few answers gives a message
instead of a model. statsmodels is imported on the first fit, not before.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from promoter.analytics.change import MIN_RESPONSES

#: Fewer answers than this: no model.
MIN_ANSWERS = 100
#: Features a model takes at most (the largest groups are kept).
MAX_FEATURES = 30
#: Answers of the rarer outcome needed per feature.
PER_FEATURE = 10
#: A coefficient is "significant" when its p-value is below this.
ALPHA = 0.05
#: Beyond this log odds ratio (odds 1 : 160,000) some groups together predict the outcome
#: (almost) perfectly: their estimates are not to be trusted.
MAX_LOG_ODDS = 12.0
SEPARATION = (
    "the model cannot be estimated: some groups together predict the outcome (almost) "
    "perfectly; ask about fewer attributes"
)


@dataclass(frozen=True, slots=True)
class Feature:
    """A yes/no column; ``reference``: what it is compared with (an attribute's most
    frequent value, or not doing the behaviour)."""

    name: str
    column: npt.NDArray[np.bool_]
    reference: str
    attribute: str | None = None


@dataclass(frozen=True, slots=True)
class Coefficient:
    feature: str
    reference: str
    responses: int
    coefficient: float
    interval: tuple[float, float]
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def odds_ratio(self) -> float:
        return math.exp(self.coefficient)

    @property
    def odds_interval(self) -> tuple[float, float]:
        return (math.exp(self.interval[0]), math.exp(self.interval[1]))

    def to_json(self) -> dict[str, object]:
        return {
            "feature": self.feature,
            "reference": self.reference,
            "responses": self.responses,
            "coefficient": self.coefficient,
            "odds_ratio": self.odds_ratio,
            "interval": list(self.odds_interval),
            "p_value": self.p_value,
            "significant": self.significant,
        }


@dataclass(frozen=True, slots=True)
class Model:
    """The fit for one outcome, or ``error`` saying why there is none."""

    outcome: str
    coefficients: list[Coefficient] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "error": self.error,
            "coefficients": [c.to_json() for c in self.coefficients],
            "left_out": [{"feature": f, "reason": r} for f, r in self.left_out],
        }


@dataclass(frozen=True, slots=True)
class Models:
    responses: int
    promoter: Model
    detractor: Model

    def to_json(self) -> dict[str, object]:
        return {
            "responses": self.responses,
            "promoter": self.promoter.to_json(),
            "detractor": self.detractor.to_json(),
        }


def fit_models(
    promoter: npt.NDArray[np.bool_], detractor: npt.NDArray[np.bool_], features: Sequence[Feature]
) -> Models:
    n = len(promoter)
    if n < MIN_ANSWERS:
        error = f"a regression needs at least {MIN_ANSWERS} answers; there are {n}"
        return Models(n, Model("promoter", error=error), Model("detractor", error=error))
    kept, left_out = usable(features, n)
    return Models(
        n,
        fit("promoter", promoter, kept, left_out),
        fit("detractor", detractor, kept, left_out),
    )


def usable(features: Sequence[Feature], n: int) -> tuple[list[Feature], list[tuple[str, str]]]:
    """The features a model can take: enough answers on both sides, at most MAX_FEATURES
    (the largest), none a combination of those before it."""
    left_out: list[tuple[str, str]] = []
    sized = []
    for f in features:
        count = int(f.column.sum())
        if count < MIN_RESPONSES:
            left_out.append((f.name, f"fewer than {MIN_RESPONSES} answers"))
        elif n - count < MIN_RESPONSES:
            left_out.append((f.name, f"fewer than {MIN_RESPONSES} answers without it"))
        else:
            sized.append((count, f))
    sized.sort(key=lambda pair: -pair[0])
    for _, f in sized[MAX_FEATURES:]:
        left_out.append((f.name, f"beyond the {MAX_FEATURES} largest features"))
    candidates = [f for _, f in sized[:MAX_FEATURES]]
    x = np.column_stack([np.ones(n), *(f.column.astype(np.float64) for f in candidates)])
    gram = x.T @ x  # the rank of x is that of x'x, a small matrix
    chosen = [0]
    kept: list[Feature] = []
    for i, f in enumerate(candidates, start=1):
        trial = [*chosen, i]
        if np.linalg.matrix_rank(gram[np.ix_(trial, trial)], tol=1e-8 * n) < len(trial):
            left_out.append((f.name, "determined by the features before it"))
            continue
        chosen = trial
        kept.append(f)
    return kept, left_out


def fit(
    outcome: str,
    y: npt.NDArray[np.bool_],
    features: Sequence[Feature],
    left_out: Sequence[tuple[str, str]],
) -> Model:
    dropped = list(left_out)
    rare = min(int(y.sum()), len(y) - int(y.sum()))
    if rare == 0:
        return Model(outcome, left_out=dropped, error=f"every answer is {_side(y)} {outcome}")
    kept = []
    for f in features:
        inside = y[f.column]
        if inside.all() or not inside.any():
            some = "all" if inside.all() else "none"
            reason = f"{some} of its answers are {outcome}s: its odds cannot be estimated"
            dropped.append((f.name, reason))
        else:
            kept.append(f)
    room = rare // PER_FEATURE
    for f in kept[room:]:
        dropped.append((f.name, f"too few {outcome}s for more features ({PER_FEATURE} each)"))
    kept = kept[:room]
    if not kept:
        return Model(outcome, left_out=dropped, error="no feature can be estimated")
    return _estimate(outcome, y, kept, dropped)


def _separation_warning(caught: warnings.WarningMessage) -> bool:
    return type(caught.message).__name__ == "PerfectSeparationWarning"


def _side(y: npt.NDArray[np.bool_]) -> str:
    return "a" if y.all() else "not a"


def _estimate(
    outcome: str, y: npt.NDArray[np.bool_], kept: list[Feature], dropped: list[tuple[str, str]]
) -> Model:
    # Answers with the same features are one binomial cell: the same estimates and
    # errors as one row per answer, from far fewer rows.
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    x = np.column_stack([f.column for f in kept])
    cells, which = np.unique(x, axis=0, return_inverse=True)
    which = which.reshape(-1)
    yes = np.bincount(which, weights=y.astype(np.float64), minlength=len(cells))
    counts = np.bincount(which, minlength=len(cells)).astype(np.float64)
    endog = np.column_stack([yes, counts - yes])
    exog = np.column_stack([np.ones(len(cells)), cells.astype(np.float64)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = GLM(endog, exog, family=families.Binomial())
            result: Any = model.fit(method="newton", maxiter=100)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return Model(outcome, left_out=dropped, error=f"the model cannot be estimated: {exc}")
    params, errors = np.asarray(result.params), np.asarray(result.bse)
    # statsmodels takes fitted cell shares equal to the observed ones for separation; over
    # cells that is a model that fits, so separation is read from the estimates instead.
    messages = sorted(
        {str(w.message).splitlines()[0] for w in caught if not _separation_warning(w)}
    )
    converged = bool(result.mle_retvals.get("converged", False))
    if not converged or messages or not np.isfinite(errors).all():
        why = "; ".join(messages) or "no convergence"
        return Model(outcome, left_out=dropped, error=f"the model cannot be estimated: {why}")
    if np.abs(params).max() > MAX_LOG_ODDS:
        return Model(outcome, left_out=dropped, error=SEPARATION)
    intervals = np.asarray(result.conf_int(ALPHA))
    pvalues = np.asarray(result.pvalues)
    coefficients = [
        Coefficient(
            f.name,
            f.reference,
            int(f.column.sum()),
            float(params[i + 1]),
            (float(intervals[i + 1][0]), float(intervals[i + 1][1])),
            float(pvalues[i + 1]),
        )
        for i, f in enumerate(kept)
    ]
    coefficients.sort(key=lambda c: (c.p_value, c.feature))
    return Model(outcome, coefficients, dropped)

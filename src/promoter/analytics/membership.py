"""Which of a question's responses each of several filters holds for: one score per
response and one yes/no column per filter, from the in-memory columns when they are
loaded, else from SQL (both apply the same filters, so they give the same columns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from promoter.analytics import column_engine
from promoter.analytics.engine import Analytics
from promoter.analytics.filters import And, Expr
from promoter.analytics.query import Scope, matching
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Members:
    """The scope's responses: their scores, and per filter who it holds for."""

    scores: npt.NDArray[np.int64]
    columns: list[Bools]

    @property
    def promoter(self) -> Bools:
        return self.scores >= PROMOTER_MIN

    @property
    def detractor(self) -> Bools:
        return self.scores <= DETRACTOR_MAX

    def summary(self, mask: Bools | None = None) -> NpsSummary:
        scores = self.scores if mask is None else self.scores[mask]
        return NpsSummary.of(
            len(scores), int((scores >= PROMOTER_MIN).sum()), int((scores <= DETRACTOR_MAX).sum())
        )


def narrowed(scope: Scope, expr: Expr) -> Scope:
    """The same question with ``expr`` ANDed to its filter."""
    where = scope.query.where
    combined = expr if where is None else And((where, expr))
    return replace(scope, query=replace(scope.query, where=combined))


def members(
    analytics: Analytics, conn: Connection, scope: Scope, filters: Sequence[Expr]
) -> Members:
    """The scope's responses and, for each filter, those of them it holds for."""
    if analytics.cache is not None:
        with analytics.cache.columns(conn, scope.query.organization_id) as loaded:
            if loaded is not None:
                return _from_columns(conn, scope, loaded, filters)
    return _from_sql(conn, scope, filters)


def _positions(found: Any) -> npt.NDArray[np.int64]:
    if isinstance(found, slice):
        return np.arange(found.start, found.stop, dtype=np.int64)
    return np.asarray(found, dtype=np.int64)


def _from_columns(conn: Connection, scope: Scope, loaded: Any, filters: Sequence[Expr]) -> Members:
    base = _positions(column_engine.matching(conn, scope, loaded))
    scores = np.asarray(loaded.score[base], dtype=np.int64)
    columns = [
        np.isin(base, _positions(column_engine.matching(conn, narrowed(scope, expr), loaded)))
        for expr in filters
    ]
    return Members(scores, columns)


def _ids(conn: Connection, scope: Scope) -> npt.NDArray[np.int64]:
    found = matching(scope)
    rows = conn.execute(select(found.c.id).order_by(found.c.id)).scalars().all()
    return np.asarray(rows, dtype=np.int64)


def _from_sql(conn: Connection, scope: Scope, filters: Sequence[Expr]) -> Members:
    found = matching(scope)
    rows = conn.execute(select(found.c.id, found.c.score).order_by(found.c.id)).all()
    ids = np.asarray([row[0] for row in rows], dtype=np.int64)
    scores = np.asarray([row[1] for row in rows], dtype=np.int64)
    columns = [np.isin(ids, _ids(conn, narrowed(scope, expr))) for expr in filters]
    return Members(scores, columns)

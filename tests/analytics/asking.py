"""A few NPS questions asked of one organization, for comparing engines and caches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from promoter.analytics.engine import Analytics
from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.storage.engine import Database
from tests.analytics.dataset import NOW

#: Questions the response columns answer without reading an attribute column.
PLAIN: list[dict[str, Any]] = [
    {},
    {"has_comment": True},
    {"score_types": ("promoter",)},
    {"count": "latest"},
]
#: A question that reads the ``plan`` attribute column.
BY_PLAN: dict[str, Any] = {"where": {"attribute": "plan", "value": "Premium"}}


def distributions(
    database: Database, analytics: Analytics, organization_id: int, questions: list[dict[str, Any]]
) -> list[list[int]]:
    """The score distribution answering each question, each in its own transaction."""
    result = []
    for question in questions:
        options = dict(question)
        if "where" in options:
            options["where"] = parse_filter(options["where"])
        query = NpsQuery(
            organization_id=organization_id,
            since=NOW - timedelta(days=400),
            until=NOW + timedelta(days=400),
            **options,
        )
        with database.read() as conn:
            result.append(analytics.nps(conn, scope(conn, query, now=NOW)).distribution)
    return result

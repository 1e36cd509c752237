"""Whatever arrives in an analytics query string, the answer is a 200 or a 400, never a 500."""

from __future__ import annotations

import random
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promoter.storage.engine import Database
from tests.analytics.dataset import build
from tests.conftest import Org
from tests.credentials import token

KEYS = [
    "filter",
    "segment",
    "since",
    "until",
    "campaign",
    "score",
    "score_type",
    "has_comment",
    "status",
    "tag",
    "attributes_at",
    "count",
    "attributes[plan]",
    "attributes[mrr][gte]",
    "attributes[x][between]",
    "attributes[plan][in]",
    "attributes[a.b][contains]",
    "interval",
    "rolling",
    "by",
    "top",
    "buckets",
    "sort",
    "page",
    "page_size",
    "event",
    "within_days",
    "orders",
]
PATHS = [
    "/api/v2/nps/",
    "/api/v2/nps/trend/",
    "/api/v2/nps/breakdown/",
    "/api/v2/analytics/drivers/",
    "/api/v2/analytics/keywords/",
    "/api/v2/feedback/",
    "/api/v2/feedback/export.csv",
]
NASTY = [
    "",
    "0",
    "-1",
    str(2**64),
    "1e308",
    "NaN",
    "2026-02-30",
    "2026-01-01T25:00:00",
    "0001-01-01",
    "9999-12-31T23:59:59+14:00",
    "\x00",
    "{}",
    "[]",
    '{"attribute": "plan"}',
    '{"attribute": "plan", "op": "between", "value": ["a", 1]}',
    '{"not": {"not": {"event": "x", "where": [{"property": "a.b", "op": "gt", "value": 1e308}]}}}',
    '{"orders": "total", "op": "in", "value": [1, 2, 1e400]}',
    '{"attribute": "d", "op": "lt", "value": "0001-01-01T00:00:00+05:00"}',
    "1,2,x",
    "5,1",
    "month",
    "latest",
    "now",
]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


def test_no_query_string_makes_a_500(client: TestClient, database: Database, org: Org) -> None:
    build(database, org.id, random.Random(3), contacts_count=6, responses_count=12)

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        st.sampled_from(PATHS),
        st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=5),
    )
    def check(path: str, params: list[tuple[str, Any]]) -> None:
        response = client.get(path, params=params, headers=token(org.key))
        assert response.status_code in (200, 400), (path, params, response.text)

    check()

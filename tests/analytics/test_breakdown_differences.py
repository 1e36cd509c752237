"""A breakdown marks the rows whose NPS differs from the other rows' beyond chance, the
same whichever engine answers, on the API as on the page's data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.query import NpsQuery, scope
from promoter.storage.engine import Database
from tests.analytics.dataset import NOW
from tests.analytics.writes import PLANTED, answer_by_plan
from tests.conftest import Org
from tests.credentials import token


@pytest.fixture
def planted(database: Database, org: Org) -> None:
    answer_by_plan(database, org, PLANTED)


@pytest.mark.parametrize("engine", ["sql", "columns"])
def test_rows_beyond_chance_are_marked(
    database: Database, org: Org, planted: None, engine: str
) -> None:
    analytics = Analytics(None if engine == "sql" else AnalyticsCache(database, background=False))
    query = NpsQuery(org.id, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1))
    with database.read() as conn:
        result = analytics.breakdown(conn, scope(conn, query, now=NOW), by="plan")
    rows = {row["value"]: row for row in result.to_json()["rows"]}  # type: ignore[attr-defined]
    assert rows.keys() == set(PLANTED)
    assert rows["Pro"]["differs"] == "higher" and rows["Free"]["differs"] == "lower"
    for plan in ("Pro", "Free"):
        assert rows[plan]["p_value"] < rows[plan]["q_value"] <= 0.05
    assert rows["Team"]["differs"] is None and rows["Team"]["q_value"] > 0.05
    assert rows["Trial"] == rows["Trial"] | {"differs": None, "p_value": None, "q_value": None}
    assert rows["Trial"]["responses"] == 10


def test_the_api_gives_the_marks(client: TestClient, org: Org, planted: None) -> None:
    response = client.get(
        "/api/v2/nps/breakdown/",
        params={"by": "plan", "since": "2026-01-01", "until": "2099-01-01"},
        headers=token(org.key),
    )
    assert response.status_code == 200, response.text
    marks = {r["value"]: (r["differs"], r["p_value"] is None) for r in response.json()["rows"]}
    assert marks == {
        "Pro": ("higher", False),
        "Free": ("lower", False),
        "Team": (None, False),
        "Trial": (None, True),
    }

"""The feedback list's comment ``search`` through the REST API: with the other filters,
in the CSV export, and never a 500 whatever is typed."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from promoter.storage.engine import Database
from tests.comments import HOSTILE, say_comments
from tests.conftest import Org
from tests.credentials import token


@pytest.fixture
def said(database: Database, org: Org) -> dict[str, int]:
    return say_comments(database, org)


def _ids(client: TestClient, org: Org, **params: str) -> set[int]:
    response = client.get("/api/v2/feedback/", params=params, headers=token(org.key))
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["results"]}


def test_search_with_the_other_filters(
    client: TestClient, org: Org, said: dict[str, int], other_org: Org
) -> None:
    assert _ids(client, org, search="great service") == {said["fast"], said["slow"]}
    assert _ids(client, org, search='"great service"') == {said["fast"]}
    assert _ids(client, org, search="pric") == {said["prices"]}
    assert _ids(client, org, search="great", score_type="detractor") == {said["slow"]}
    assert _ids(client, org, search="great", status="CLOSED") == set()
    assert _ids(client, org, search="ÜBER") == {said["cafe"]}
    assert _ids(client, org, search="价格") == {said["cjk"]}
    assert _ids(client, other_org, search="great") == set()


def test_search_with_tags_attributes_and_the_window(
    client: TestClient, org: Org, said: dict[str, int]
) -> None:
    tagged = client.post(
        f"/api/v2/feedback/{said['slow']}/tags/", json={"tags": ["bug"]}, headers=token(org.key)
    )
    assert tagged.status_code == 200, tagged.text
    assert _ids(client, org, search="great", tag="bug") == {said["slow"]}
    assert _ids(client, org, search="great", **{"attributes[plan]": "pro"}) == {
        said["fast"],
        said["slow"],
    }
    assert _ids(client, org, search="great", **{"attributes[plan]": "free"}) == set()
    assert _ids(client, org, search="great", since="2999-01-01") == set()
    assert _ids(client, org, search="great", posted_date_1="2000-01-01") == set()


def test_anything_typed_is_answered(client: TestClient, org: Org, said: dict[str, int]) -> None:
    for typed in HOSTILE:
        assert _ids(client, org, search=typed) <= set(said.values()), typed


def test_too_long_a_search_is_a_field_error(client: TestClient, org: Org) -> None:
    response = client.get("/api/v2/feedback/", params={"search": "x" * 201}, headers=token(org.key))
    assert response.status_code == 400
    assert response.json() == {"search": ["search: at most 200 characters"]}


def test_the_csv_export_searches_too(client: TestClient, org: Org, said: dict[str, int]) -> None:
    response = client.get(
        "/api/v2/feedback/export.csv",
        params={"search": "great", "since": "2000-01-01"},
        headers=token(org.key),
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {int(row["response_id"]) for row in rows} == {said["fast"], said["slow"]}


def test_search_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v2/feedback/", "/api/v2/feedback/export.csv"):
        assert "search" in {p["name"] for p in paths[path]["get"]["parameters"]}

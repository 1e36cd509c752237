"""Channels through the REST API: the channel filter and breakdown, the feedback's channel
and page, bad channels refused, and one organization never seeing another's."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from promoter.storage.engine import Database
from tests.conftest import Org
from tests.credentials import token
from tests.surveys import answer_on

PAGE = "https://app.example.com/settings?tab=billing"


@pytest.fixture
def answered(database: Database, org: Org, other_org: Org) -> dict[str, int]:
    ids = {
        "email": answer_on(database, org, "ed", 10, "email"),
        "web": answer_on(database, org, "wu", 0, "web", page_url=PAGE),
        "link": answer_on(database, org, "li", 9, "link"),
    }
    answer_on(database, other_org, "ow", 3, "web")
    answer_on(database, other_org, "ow2", 4, "web")
    return ids


def get(client: TestClient, org: Org, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=token(org.key))
    assert response.status_code == 200, response.text
    return response.json()


def _filter(flt: dict[str, Any]) -> str:
    return orjson.dumps(flt).decode()


def test_channel_filters_the_numbers(
    client: TestClient, org: Org, answered: dict[str, int]
) -> None:
    assert get(client, org, "/api/v2/nps/")["responses"] == 3
    web = get(client, org, "/api/v2/nps/", filter=_filter({"channel": "web"}))
    assert (web["responses"], web["nps"]) == (1, -100)
    not_email = get(client, org, "/api/v2/nps/", filter=_filter({"channel": {"ne": "email"}}))
    assert not_email["responses"] == 2
    listed = get(
        client, org, "/api/v2/nps/", filter=_filter({"channel": {"in": ["email", "link"]}})
    )
    assert (listed["responses"], listed["nps"]) == (2, 100)
    by_param = get(client, org, "/api/v2/nps/", channel=["web", "link"])
    assert by_param["responses"] == 2
    # Delivery counts follow the survey's channel.
    assert by_param["delivery"]["sent"] == 2 and by_param["delivery"]["responded"] == 2
    feedback = get(client, org, "/api/v2/feedback/", filter=_filter({"channel": "link"}))
    assert [item["id"] for item in feedback["results"]] == [answered["link"]]


def test_breakdown_by_channel(
    client: TestClient, org: Org, other_org: Org, answered: dict[str, int]
) -> None:
    body = get(client, org, "/api/v2/nps/breakdown/", by="channel", sort="value")
    assert body["attribute"] == "channel"
    assert [(r["value"], r["responses"], r["nps"]) for r in body["rows"]] == [
        ("email", 1, 100),
        ("link", 1, 100),
        ("web", 1, -100),
    ]
    assert body["total"]["responses"] == 3
    theirs = get(client, other_org, "/api/v2/nps/breakdown/", by="channel")
    assert [(r["value"], r["responses"]) for r in theirs["rows"]] == [("web", 2)]
    now = get(client, org, "/api/v2/nps/breakdown/", by="channel", attributes_at="now")
    assert sum(r["responses"] for r in now["rows"]) == 3


def test_feedback_shows_channel_and_page(
    client: TestClient, org: Org, other_org: Org, answered: dict[str, int]
) -> None:
    items = {item["id"]: item for item in get(client, org, "/api/v2/feedback/")["results"]}
    assert set(items) == set(answered.values())
    for channel, response_id in answered.items():
        assert items[response_id]["channel"] == channel
    assert items[answered["web"]]["page_url"] == PAGE
    assert items[answered["email"]]["page_url"] is None
    one = get(client, org, f"/api/v2/feedback/{answered['web']}/")
    assert (one["channel"], one["page_url"]) == ("web", PAGE)
    export = client.get("/api/v2/feedback/export.csv", headers=token(org.key))
    assert export.status_code == 200
    rows = {int(r["response_id"]): r for r in csv.DictReader(io.StringIO(export.text))}
    assert {rows[i]["channel"] for i in answered.values()} == {"email", "web", "link"}
    assert rows[answered["web"]]["page_url"] == PAGE
    assert rows[answered["email"]]["page_url"] == ""
    theirs = get(client, other_org, "/api/v2/feedback/")["results"]
    assert {item["channel"] for item in theirs} == {"web"}
    assert not set(answered.values()) & {item["id"] for item in theirs}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter": '{"channel": "sms"}'}, "filter.channel: unknown channel 'sms'"),
        ({"filter": '{"channel": {"in": ["web", 3]}}'}, "filter.channel.in[1]: unknown channel"),
        ({"filter": '{"channel": {"in": []}}'}, "non-empty list"),
        ({"filter": '{"channel": {"like": "web"}}'}, "unknown operator"),
        ({"filter": '{"channel": "web", "op": "eq"}'}, "unknown field"),
        ({"filter": '{"and": [{"channel": null}]}'}, "filter.and[0].channel"),
        ({"channel": "sms"}, "channel: unknown channel 'sms'"),
    ],
)
def test_bad_channels_get_a_clear_400(
    client: TestClient, org: Org, params: dict[str, str], message: str
) -> None:
    for path in ("/api/v2/nps/", "/api/v2/feedback/", "/api/v2/feedback/export.csv"):
        response = client.get(path, params=params, headers=token(org.key))
        assert response.status_code == 400, response.text
        assert message in response.text


def test_breakdown_by_channel_has_no_buckets(client: TestClient, org: Org) -> None:
    response = client.get(
        "/api/v2/nps/breakdown/", params={"by": "channel", "buckets": "1,2"}, headers=token(org.key)
    )
    assert response.status_code == 400 and "buckets" in response.text

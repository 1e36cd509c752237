"""The analytics REST API: numbers against brute force, compact and JSON filters, CSV
export round trip, saved segments, bad input, and one organization never seeing another's."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery
from promoter.storage.engine import Database
from promoter.storage.tables import contact_attributes, contacts, surveys
from tests.analytics import reference
from tests.analytics.dataset import NOW, build
from tests.conftest import Org
from tests.credentials import token

SINCE = (NOW - timedelta(days=200)).isoformat()
UNTIL = (NOW + timedelta(days=1)).isoformat()
WINDOW = {"since": SINCE, "until": UNTIL}


@pytest.fixture
def world(database: Database, org: Org) -> reference.World:
    build(database, org.id, random.Random(7), contacts_count=16, responses_count=60)
    with database.read() as conn:
        return reference.load(conn, org.id)


def get(client: TestClient, org: Org, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params}, headers=token(org.key))
    assert response.status_code == 200, response.text
    return response.json()


def expected(
    world: reference.World, org: Org, flt: dict[str, Any] | None = None, **kw: Any
) -> list[reference.Row]:
    query = NpsQuery(
        organization_id=org.id,
        where=None if flt is None else parse_filter(flt),
        since=NOW - timedelta(days=200),
        until=NOW + timedelta(days=1),
        **kw,
    )
    return reference.matching(world, query, NOW)


def test_metrics_agree_with_brute_force(
    client: TestClient, org: Org, world: reference.World
) -> None:
    body = get(client, org, "/api/v2/nps/")
    n, p, d, distribution = reference.counts(expected(world, org))
    assert body["responses"] == n and n > 0
    assert body["promoters"]["count"] == p and body["detractors"]["count"] == d
    assert body["passives"]["count"] == n - p - d
    assert body["nps"] == pytest.approx(100 * (p - d) / n)
    assert body["promoters"]["percent"] == pytest.approx(100 * p / n)
    assert [body["distribution"][str(s)] for s in range(11)] == distribution
    low, high = body["confidence_interval"]
    assert low == pytest.approx(max(-100, body["nps"] - body["margin_of_error"]))
    assert high == pytest.approx(min(100, body["nps"] + body["margin_of_error"]))
    assert body["delivery"]["sent"] == len(world.rows)  # one survey per response here
    assert body["delivery"]["responded"] == len(world.rows)
    assert body["delivery"]["response_rate"] == 100.0


def test_compact_and_json_filters_agree(
    client: TestClient, org: Org, world: reference.World
) -> None:
    cases = [
        ({"attributes[plan]": "Premium"}, {"attribute": "plan", "value": "Premium"}),
        (
            [("attributes[plan]", "Pro"), ("attributes[plan]", "Premium")],
            {"attribute": "plan", "op": "in", "value": ["Pro", "Premium"]},
        ),
        ({"attributes[seats][gte]": "10"}, {"attribute": "seats", "op": "gte", "value": 10}),
        (
            {"attributes[mrr][between]": "9.5,99.25", "attributes[plan][ne]": "Free"},
            {
                "and": [
                    {"attribute": "mrr", "op": "between", "value": [9.5, 99.25]},
                    {"attribute": "plan", "op": "ne", "value": "Free"},
                ]
            },
        ),
        ({"attributes[company.size][exists]": ""}, {"attribute": "company.size", "op": "exists"}),
        ({"attributes[trial]": "true"}, {"attribute": "trial", "value": True}),
    ]
    for compact, flt in cases:
        params = list(compact.items()) if isinstance(compact, dict) else compact
        response = client.get(
            "/api/v2/nps/", params=[*WINDOW.items(), *params], headers=token(org.key)
        )
        assert response.status_code == 200, response.text
        via_json = get(client, org, "/api/v2/nps/", filter=orjson.dumps(flt).decode())
        want = len(expected(world, org, flt))
        assert response.json()["responses"] == via_json["responses"] == want, flt


def test_response_filters_and_modes(client: TestClient, org: Org, world: reference.World) -> None:
    params: list[tuple[str, Any]] = [
        *WINDOW.items(),
        ("score_type", "detractor"),
        ("score_type", "passive"),
        ("has_comment", "true"),
        ("attributes_at", "now"),
        ("count", "latest"),
        ("filter", orjson.dumps({"event": "Order Completed"}).decode()),
    ]
    response = client.get("/api/v2/nps/", params=params, headers=token(org.key))
    assert response.status_code == 200
    want = expected(
        world,
        org,
        {"event": "Order Completed"},
        score_types=("detractor", "passive"),
        has_comment=True,
        attributes="current",
        count="latest",
    )
    assert response.json()["responses"] == len(want)


def test_text_conditions_may_ignore_case(
    client: TestClient, org: Org, world: reference.World
) -> None:
    both = {"attribute": "plan", "op": "in", "value": ["Premium", "premium"]}
    want = len(expected(world, org, both))
    assert want > len(expected(world, org, {"attribute": "plan", "value": "Premium"})) > 0
    compact = get(client, org, "/api/v2/nps/", **{"attributes[plan]": "PREMIUM"})
    assert compact["responses"] == 0
    ignoring = {"attributes[plan]": "PREMIUM", "ignore_case": "true"}
    assert get(client, org, "/api/v2/nps/", **ignoring)["responses"] == want
    flt = {"attribute": "plan", "op": "not_in", "value": ["PREMIUM"], "ignore_case": True}
    body = get(client, org, "/api/v2/nps/", filter=orjson.dumps(flt).decode())
    assert body["responses"] == len(expected(world, org)) - want


def test_trend_and_breakdown(client: TestClient, org: Org, world: reference.World) -> None:
    total = len(expected(world, org))
    body = get(client, org, "/api/v2/nps/trend/", interval="week")
    assert body["interval"] == "week" and body["timezone"] == "UTC"
    assert sum(p["responses"] for p in body["points"]) == total
    assert all(p["responses"] == 0 or p["margin_of_error"] > 0 for p in body["points"])
    rolling = get(
        client, org, "/api/v2/nps/trend/", rolling=30, since="2026-06-01", until="2026-06-30"
    )
    assert len(rolling["points"]) == 30
    by_plan = get(client, org, "/api/v2/nps/breakdown/", by="plan", top=2, sort="nps")
    assert sum(r["responses"] for r in by_plan["rows"]) == total
    assert len([r for r in by_plan["rows"] if not r["value"].startswith("(")]) == 2
    buckets = get(client, org, "/api/v2/nps/breakdown/", by="seats", buckets="5,10")
    assert [r["value"] for r in buckets["rows"]][:3] == ["< 5", "5 to < 10", "≥ 10"]
    assert buckets["buckets"] == [5, 10]
    assert sum(r["responses"] for r in buckets["rows"]) == total


def test_feedback_pages_and_csv_export_round_trip(
    client: TestClient, org: Org, world: reference.World
) -> None:
    flt = orjson.dumps({"attribute": "plan", "op": "ne", "value": "Free"}).decode()
    listed: list[dict[str, Any]] = []
    page = get(client, org, "/api/v2/feedback/", filter=flt, page_size=7)
    want = len(expected(world, org, {"attribute": "plan", "op": "ne", "value": "Free"}))
    assert page["count"] == want
    while True:
        listed.extend(page["results"])
        if page["next"] is None:
            break
        assert page["next"].startswith("http://testserver/api/v2/feedback/?")
        response = client.get(page["next"], headers=token(org.key))
        page = response.json()
    assert len(listed) == want == len({item["id"] for item in listed})
    times = [item["created_at"] for item in listed]
    assert times == sorted(times, reverse=True)

    export = client.get(
        "/api/v2/feedback/export.csv", params={**WINDOW, "filter": flt}, headers=token(org.key)
    )
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [int(r["response_id"]) for r in rows] == [item["id"] for item in listed]
    for row, item in zip(rows, listed, strict=True):
        assert int(row["score"]) == item["score"]
        assert row["score_type"] == item["score_type"]
        assert row["email"] == item["contact"]["email"]
        assert row["status"] == item["status"]
        assert row["tags"] == ";".join(item["tags"])
        comment = item["comment"] or ""
        assert row["comment"] == ("'" + comment if comment.startswith("=") else comment)
        for name, value in item["attributes"].items():
            cell = row[f"attributes.{name}"]
            if isinstance(value, bool):
                assert cell == str(value).lower()
            elif isinstance(value, list):
                assert orjson.loads(cell) == value
            else:
                assert cell == str(value)
    assert any(r["comment"].startswith("'=") for r in rows)  # formula injection defused


def test_saved_segments(
    client: TestClient, org: Org, other_org: Org, world: reference.World
) -> None:
    flt = {
        "or": [
            {"attribute": "plan", "value": "Premium"},
            {"attribute": "seats", "op": "gt", "value": 5},
        ]
    }
    created = client.post(
        "/api/v2/segments/", json={"name": "Big or premium", "filter": flt}, headers=token(org.key)
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["filter"] == flt
    by_name = get(client, org, "/api/v2/nps/", segment="Big or premium")
    by_id = get(client, org, "/api/v2/nps/", segment=str(segment["id"]))
    assert by_name["responses"] == by_id["responses"] == len(expected(world, org, flt))
    narrowed = get(
        client, org, "/api/v2/nps/", segment=segment["id"], **{"attributes[country]": "DE"}
    )
    both = {"and": [flt, {"attribute": "country", "value": "DE"}]}
    assert narrowed["responses"] == len(expected(world, org, both))

    duplicate = client.post(
        "/api/v2/segments/", json={"name": "Big or premium", "filter": flt}, headers=token(org.key)
    )
    assert duplicate.status_code == 409
    bad = client.post(
        "/api/v2/segments/",
        json={"name": "x", "filter": {"attribute": "a", "op": "gt", "value": "z"}},
        headers=token(org.key),
    )
    assert bad.status_code == 400 and "number or an ISO-8601 date" in bad.json()["detail"]
    renamed = client.patch(
        f"/api/v2/segments/{segment['id']}/", json={"name": "Renamed"}, headers=token(org.key)
    )
    assert renamed.json()["name"] == "Renamed" and renamed.json()["filter"] == flt
    assert [
        s["name"] for s in client.get("/api/v2/segments/", headers=token(org.key)).json()["results"]
    ] == ["Renamed"]

    # Another organization sees none of it.
    assert (
        client.get(f"/api/v2/segments/{segment['id']}/", headers=token(other_org.key)).status_code
        == 404
    )
    assert (
        client.delete(
            f"/api/v2/segments/{segment['id']}/", headers=token(other_org.key)
        ).status_code
        == 404
    )
    foreign = client.get(
        "/api/v2/nps/", params={**WINDOW, "segment": "Renamed"}, headers=token(other_org.key)
    )
    assert foreign.status_code == 400 and "segment" in foreign.json()["detail"]
    assert get(client, other_org, "/api/v2/nps/")["responses"] == 0
    assert get(client, other_org, "/api/v2/feedback/")["count"] == 0
    empty_export = client.get(
        "/api/v2/feedback/export.csv", params=WINDOW, headers=token(other_org.key)
    )
    assert empty_export.text.count("\r\n") == 1  # the header only

    assert (
        client.delete(f"/api/v2/segments/{segment['id']}/", headers=token(org.key)).status_code
        == 204
    )
    assert (
        client.get(f"/api/v2/segments/{segment['id']}/", headers=token(org.key)).status_code == 404
    )


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v2/nps/", {"filter": "{"}, "not valid JSON"),
        (
            "/api/v2/nps/",
            {"filter": '{"attribute": "plan", "op": "like", "value": 1}'},
            "unknown operator",
        ),
        ("/api/v2/nps/", {"attributes[plan][like]": "x"}, "unknown operator"),
        ("/api/v2/nps/", {"attributes[mrr][gt]": "lots"}, "number or an ISO-8601 date"),
        ("/api/v2/nps/", {"attributes[": "x"}, "cannot read"),
        ("/api/v2/nps/", {"since": "yesterday"}, "since"),
        ("/api/v2/nps/", {"since": "2026-06-01", "until": "2026-05-01"}, "after since"),
        ("/api/v2/nps/", {"since": "0001-01-01T00:00:00+05:00"}, "between 1900 and 9000"),
        ("/api/v2/nps/", {"until": "9999-12-31"}, "until"),
        ("/api/v2/nps/", {"campaign": str(2**70)}, "campaign"),
        ("/api/v2/nps/", {"tag": "a\x00b"}, "tag"),
        ("/api/v2/nps/", {"segment": "a\x00b"}, "segment"),
        ("/api/v2/nps/", {"attributes[pl\x00an]": "x"}, "NUL"),
        ("/api/v2/feedback/", {"filter": '{"attribute": "a", "value": "\\u0000"}'}, "NUL"),
        ("/api/v2/nps/breakdown/", {"by": "pl\x00an"}, "by"),
        ("/api/v2/nps/", {"score": "11"}, "score"),
        ("/api/v2/nps/", {"segment": "nope"}, "segment"),
        ("/api/v2/nps/", {"count": "some"}, "count"),
        ("/api/v2/nps/trend/", {"rolling": "30", "count": "latest"}, "rolling"),
        ("/api/v2/nps/trend/", {"interval": "day", "since": "1990-01-01"}, "more than 2000"),
        ("/api/v2/nps/breakdown/", {"by": "plan", "buckets": "1,x"}, "buckets"),
        ("/api/v2/nps/breakdown/", {"by": "plan", "buckets": "5,1"}, "must increase"),
        (
            "/api/v2/nps/",
            {"filter": '{"attribute": "mrr", "op": "gt", "value": 1, "ignore_case": true}'},
            "filter.ignore_case: applies to eq, ne, in, not_in, contains, not gt",
        ),
        (
            "/api/v2/nps/",
            {"filter": '{"attribute": "plan", "value": "x", "ignore_case": "yes"}'},
            "filter.ignore_case: expected true or false",
        ),
        ("/api/v2/nps/breakdown/", {"by": "plan", "buckets": "1,1e999"}, "finite"),
        ("/api/v2/nps/breakdown/", {"by": "channel", "buckets": "1,2"}, "channel"),
        ("/api/v2/nps/breakdown/", {}, "by"),
    ],
)
def test_bad_questions_get_a_clear_400(
    client: TestClient, org: Org, path: str, params: dict[str, str], message: str
) -> None:
    response = client.get(path, params=params, headers=token(org.key))
    assert response.status_code == 400, response.text
    assert message in response.text


def test_analytics_needs_a_token_and_is_documented(client: TestClient) -> None:
    assert client.get("/api/v2/nps/").status_code == 401
    assert client.get("/api/v2/feedback/export.csv").status_code == 401
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v2/nps/",
        "/api/v2/nps/trend/",
        "/api/v2/nps/breakdown/",
        "/api/v2/feedback/",
        "/api/v2/feedback/export.csv",
        "/api/v2/segments/",
    ):
        assert path in paths
    assert any(p["name"] == "filter" for p in paths["/api/v2/nps/"]["get"]["parameters"])


def test_delivery_counts_follow_the_window_and_the_contacts_filter(
    client: TestClient, org: Org, world: reference.World, database: Database
) -> None:
    with database.read() as conn:
        rows = conn.execute(
            select(surveys.c.sent_at, surveys.c.status, contacts.c.status, contacts.c.id)
            .join(contacts, contacts.c.id == surveys.c.contact_id)
            .where(surveys.c.organization_id == org.id)
        ).all()
        plans = dict(
            conn.execute(
                select(contact_attributes.c.contact_id, contact_attributes.c.value_text).where(
                    contact_attributes.c.name == "plan"
                )
            ).all()
        )
    since = NOW - timedelta(days=60)
    until = NOW - timedelta(days=10)

    def expected(keep: Any) -> dict[str, int]:
        picked = [r for r in rows if r[0] is not None and since <= r[0] < until and keep(r[3])]
        return {
            "sent": len(picked),
            "unsubscribed": sum(r[2] == "unsubscribed" for r in picked),
            "responded": sum(r[1] == "answered" for r in picked),
        }

    window = {"since": since.isoformat(), "until": until.isoformat()}
    for flt, keep in (
        (None, lambda _c: True),
        ({"attribute": "plan", "op": "eq", "value": "Pro"}, lambda c: plans.get(c) == "Pro"),
        ({"attribute": "plan", "op": "missing"}, lambda c: c not in plans),
    ):
        params = {**window, "attributes_at": "now"}
        if flt is not None:
            params["filter"] = orjson.dumps(flt).decode()
        response = client.get("/api/v2/nps/", params=params, headers=token(org.key))
        assert response.status_code == 200, response.text
        delivery = response.json()["delivery"]
        want = expected(keep)
        assert {k: delivery[k] for k in want} == want, flt
        assert want["sent"] > 0 or flt is not None

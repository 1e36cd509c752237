"""The feedback REST API as Promoter.io's clients use it: Promoter's filters against brute
force (alone and with the analytics question), the result's shape, status, tags and notes
round trips, DRF-shaped errors, 401 without a key and 404 for another organization."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery
from promoter.orgs.service import set_timezone
from promoter.storage.engine import Database
from promoter.storage.tables import campaigns, contacts, responses
from tests.analytics import reference
from tests.analytics.dataset import NOW, build
from tests.conftest import Org
from tests.credentials import token

ZONE = "America/New_York"
FAR_PAST = datetime(1950, 1, 1, tzinfo=ZoneInfo("UTC"))
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=ZoneInfo("UTC"))


@dataclass
class World:
    ref: reference.World
    #: contact id -> email; campaign id -> status
    emails: dict[int, str]
    statuses: dict[int, str]
    campaign_ids: list[int]

    def local_day(self, row: reference.Row) -> date:
        return row.created_at.astimezone(ZoneInfo(ZONE)).date()


@pytest.fixture
def world(database: Database, org: Org) -> World:
    data = build(database, org.id, random.Random(11), contacts_count=16, responses_count=60)
    with database.write() as conn:
        set_timezone(conn, organization_id=org.id, timezone=ZONE)
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == data.campaign_ids[-1])
            .values(status="complete")
        )
    with database.read() as conn:
        emails = dict(
            conn.execute(
                select(contacts.c.id, contacts.c.email).where(contacts.c.organization_id == org.id)
            ).all()
        )
        statuses = dict(
            conn.execute(
                select(campaigns.c.id, campaigns.c.status).where(
                    campaigns.c.organization_id == org.id
                )
            ).all()
        )
        ref = reference.load(conn, org.id)
    return World(ref, emails, statuses, data.campaign_ids)


def listed(client: TestClient, org: Org, params: Any = ()) -> list[dict[str, Any]]:
    """Every result, page after page."""
    items: list[dict[str, Any]] = []
    pairs = list(params.items() if isinstance(params, dict) else params)
    response = client.get(
        "/api/v2/feedback/", params=[*pairs, ("page_size", 7)], headers=token(org.key)
    )
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["results"])
        if body["next"] is None:
            assert body["count"] == len(items)
            return items
        response = client.get(body["next"], headers=token(org.key))


def brute(
    world: World,
    org: Org,
    keep: Callable[[reference.Row], bool] = lambda row: True,
    flt: dict[str, Any] | None = None,
    **query: Any,
) -> list[int]:
    """Ids, newest first: the analytics question over all time, then Promoter's filter."""
    nps_query = NpsQuery(
        organization_id=org.id,
        where=None if flt is None else parse_filter(flt),
        since=query.pop("since", FAR_PAST),
        until=query.pop("until", FAR_FUTURE),
        **query,
    )
    rows = [r for r in reference.matching(world.ref, nps_query, NOW) if keep(r)]
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


def ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


def test_without_filters_every_response_counts_newest_first(
    client: TestClient, org: Org, world: World
) -> None:
    everything = listed(client, org)
    assert ids(everything) == brute(world, org) and len(everything) == 60
    # Not only the last 30 days, as the NPS endpoints default to.
    oldest = min(r.created_at for r in world.ref.rows)
    assert oldest < NOW - timedelta(days=60)


def test_promoter_filters_match_brute_force(client: TestClient, org: Org, world: World) -> None:
    first, second = world.campaign_ids[0], world.campaign_ids[-1]
    user = next(iter(world.emails.items()))
    email_of = world.emails
    status_of = world.statuses
    days = sorted({world.local_day(r) for r in world.ref.rows})
    low, high = days[len(days) // 4], days[3 * len(days) // 4]
    cases: list[tuple[dict[str, Any], Callable[[reference.Row], bool]]] = [
        ({"survey__campaign": first}, lambda r: r.campaign_id == first),
        ({"survey__campaign": second}, lambda r: r.campaign_id == second),
        ({"survey__campaign__status": "ACTIVE"}, lambda r: status_of[r.campaign_id] == "active"),
        (
            {"survey__campaign__status": "complete"},
            lambda r: status_of[r.campaign_id] == "complete",
        ),
        ({"survey__campaign__status": "Paused"}, lambda r: False),
        (
            {"survey__contact__email": user[1].upper()},
            lambda r: email_of[r.contact_id] == user[1],
        ),
        ({"survey__contact__email": "nobody@example.com"}, lambda r: False),
        ({"posted_date_0": low.isoformat()}, lambda r: world.local_day(r) >= low),
        ({"posted_date_1": low.isoformat()}, lambda r: world.local_day(r) <= low),
        (
            {"posted_date_0": low.isoformat(), "posted_date_1": high.isoformat()},
            lambda r: low <= world.local_day(r) <= high,
        ),
        ({"posted_date_0": high.isoformat(), "posted_date_1": low.isoformat()}, lambda r: False),
        (
            {"score": 9, "score_type": "detractor", "survey__campaign": first},
            lambda r: r.campaign_id == first and (r.score == 9 or r.score <= 6),
        ),
        (
            {"survey__campaign__status": "ACTIVE", "posted_date_1": high.isoformat()},
            lambda r: status_of[r.campaign_id] == "active" and world.local_day(r) <= high,
        ),
        (
            {"survey__campaign": "", "posted_date_0": "", "survey__contact__email": ""},
            lambda r: True,
        ),
    ]
    for params, keep in cases:
        assert ids(listed(client, org, params)) == brute(world, org, keep), params


def test_posted_dates_are_days_in_the_organizations_zone(
    client: TestClient, org: Org, world: World
) -> None:
    # A response after midnight UTC but before midnight in New York belongs to the day before.
    late = next(r for r in world.ref.rows if r.created_at.hour < 4)
    day = world.local_day(late)
    assert day < late.created_at.date()
    found = ids(listed(client, org, {"posted_date_0": day, "posted_date_1": day}))
    assert late.id in found
    assert found == brute(world, org, lambda r: world.local_day(r) == day)


def test_promoter_filters_and_the_analytics_question_combine(
    client: TestClient, org: Org, world: World
) -> None:
    first, second = world.campaign_ids[0], world.campaign_ids[-1]
    premium = {"attribute": "plan", "op": "in", "value": ["Premium", "Pro"]}
    status_of = world.statuses
    got = listed(
        client,
        org,
        {"attributes[plan]": "Premium", "survey__campaign__status": "active", "status": "OPEN"},
    )
    want = brute(
        world,
        org,
        lambda r: status_of[r.campaign_id] == "active",
        {"attribute": "plan", "value": "Premium"},
        statuses=("OPEN",),
    )
    assert ids(got) == want
    # campaign and survey__campaign: both must hold.
    assert listed(client, org, {"campaign": first, "survey__campaign": second}) == []
    both = listed(
        client, org, [("campaign", first), ("campaign", second), ("survey__campaign", first)]
    )
    assert ids(both) == brute(world, org, lambda r: r.campaign_id == first)
    # since/until and posted dates: the later start, the earlier end.
    days = sorted({world.local_day(r) for r in world.ref.rows})
    since = datetime.combine(days[5], datetime.min.time(), ZoneInfo(ZONE))
    got = listed(
        client,
        org,
        {
            "since": days[5].isoformat(),
            "posted_date_0": days[2].isoformat(),
            "filter": orjson.dumps(premium).decode(),
        },
    )
    assert ids(got) == brute(world, org, flt=premium, since=since)
    # Each contact's latest response in the window, of the chosen campaign.
    latest = listed(client, org, {"count": "latest", "survey__campaign": first})
    assert ids(latest) == brute(world, org, count="latest", campaign_ids=(first,))


def _one(database: Database, org: Org) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(responses.c.id)
                .where(responses.c.organization_id == org.id, responses.c.comment.is_not(None))
                .order_by(responses.c.id)
                .limit(1)
            ).scalar_one()
        )


def test_each_result_has_promoters_fields(client: TestClient, org: Org, world: World) -> None:
    items = listed(client, org)
    for item in items:
        fid = item["id"]
        assert item["href"] == f"http://testserver/api/v2/feedback/{fid}/"
        assert item["followup_href"] == f"http://testserver/feedback/{fid}"
        assert item["campaign"] == item["campaign_id"] in world.campaign_ids
        assert item["posted_date"] == item["created_at"]
        assert item["score_type"] in ("promoter", "passive", "detractor")
        assert item["status"] in ("OPEN", "CLOSED")
        assert set(item["contact"]) >= {"id", "email", "first_name", "last_name", "attributes"}
        assert item["survey"]["id"] > 0 and item["survey"]["sent_date"] == item["created_at"]
        assert item["notes_count"] == 0 and "notes" not in item
        assert isinstance(item["tags"], list) and isinstance(item["attributes"], dict)
    commented = [i for i in items if i["comment"] is not None]
    assert commented and all(i["comment_updated_date"] is not None for i in commented)
    # contact.attributes are the contact's attributes now, as the contacts API shows them.
    item = items[0]
    contact = client.get(
        f"/api/v2/contacts/{item['contact']['id']}/", headers=token(org.key)
    ).json()
    assert item["contact"]["attributes"] == contact["attributes"]
    assert item["contact"]["email"] == contact["email"]


def test_retrieve(client: TestClient, org: Org, world: World) -> None:
    item = listed(client, org, {"survey__campaign__status": "active"})[0]
    one = client.get(item["href"], headers=token(org.key))
    assert one.status_code == 200
    assert one.json() == {**item, "notes": []}
    for bad in ("0", "-1", str(2**63), str(10**30), "abc", "1.5", "\u0661"):
        missing = client.get(f"/api/v2/feedback/{bad}/", headers=token(org.key))
        assert missing.status_code == 404, bad
        assert missing.json() == {"detail": "Not found."}


def test_status_update(client: TestClient, org: Org, world: World, database: Database) -> None:
    fid = _one(database, org)
    url = f"/api/v2/feedback/{fid}/"
    before = client.get(url, headers=token(org.key)).json()
    closed = client.put(url, json={"status": "CLOSED"}, headers=token(org.key))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "CLOSED"
    assert closed.json()["updated_at"] > before["updated_at"]
    reopened = client.patch(url, json={"status": "open"}, headers=token(org.key))
    assert reopened.json()["status"] == "OPEN"
    # A client that sends back what it read, status changed: read-only fields are ignored.
    echoed = client.put(
        url, json={**reopened.json(), "status": "Closed", "score": 0}, headers=token(org.key)
    )
    assert echoed.status_code == 200
    assert echoed.json()["status"] == "CLOSED" and echoed.json()["score"] == before["score"]
    assert echoed.json()["tags"] == before["tags"]
    closed_list = listed(client, org, {"status": "CLOSED"})
    assert fid in ids(closed_list)
    for body, field in (
        ({"status": "DONE"}, "status"),
        ({"status": 1}, "status"),
        ({"tags": "bug"}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["x" * 101]}, "tags"),
    ):
        bad = client.patch(url, json=body, headers=token(org.key))
        assert bad.status_code == 400, body
        assert list(bad.json()) == [field] and isinstance(bad.json()[field][0], str)
    not_json = client.put(
        url, content=b"{", headers={**token(org.key), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert client.get(url, headers=token(org.key)).json()["status"] == "CLOSED"


def test_tags_round_trip(client: TestClient, org: Org, world: World, database: Database) -> None:
    fid = _one(database, org)
    url = f"/api/v2/feedback/{fid}/"
    replaced = client.put(
        url, json={"tags": [" pricing ", "call back", "pricing"]}, headers=token(org.key)
    )
    assert replaced.status_code == 200
    assert replaced.json()["tags"] == ["call back", "pricing"]
    added = client.post(f"{url}tags/", json={"tags": ["a/b", "pricing"]}, headers=token(org.key))
    assert added.status_code == 200, added.text
    assert added.json()["tags"] == ["a/b", "call back", "pricing"]
    tagged = listed(client, org, [("tag", "a/b"), ("tag", "pricing")])
    assert ids(tagged) == [fid]
    assert client.delete(f"{url}tags/a/b/", headers=token(org.key)).status_code == 204
    assert client.delete(f"{url}tags/call%20back/", headers=token(org.key)).status_code == 204
    gone = client.delete(f"{url}tags/call%20back/", headers=token(org.key))
    assert gone.status_code == 404 and gone.json() == {"detail": "Not found."}
    assert client.get(url, headers=token(org.key)).json()["tags"] == ["pricing"]
    cleared = client.patch(url, json={"tags": []}, headers=token(org.key))
    assert cleared.json()["tags"] == []
    for body in ({"tags": []}, {"tags": ["\x00"]}, {"tags": "x"}, {}):
        bad = client.post(f"{url}tags/", json=body, headers=token(org.key))
        assert bad.status_code == 400 and list(bad.json()) == ["tags"], (body, bad.text)


def test_notes_round_trip(client: TestClient, org: Org, world: World, database: Database) -> None:
    fid = _one(database, org)
    url = f"/api/v2/feedback/{fid}/"
    before = client.get(url, headers=token(org.key)).json()
    first = client.post(
        f"{url}notes/", json={"body": "  Called them.\nAll good. "}, headers=token(org.key)
    )
    assert first.status_code == 201, first.text
    note = first.json()
    assert note["body"] == "Called them.\nAll good."
    assert note["author"] == f"api:{org.key[:10]}" and note["feedback"] == fid
    second = client.post(
        f"{url}notes/", json={"body": "Follow-up sent", "author": "x"}, headers=token(org.key)
    )
    assert second.json()["author"] == note["author"]
    notes = client.get(f"{url}notes/", headers=token(org.key)).json()
    assert notes["count"] == 2 and notes["next"] is None
    assert [n["body"] for n in notes["results"]] == ["Called them.\nAll good.", "Follow-up sent"]
    paged = client.get(f"{url}notes/", params={"page_size": 1, "page": 2}, headers=token(org.key))
    assert [n["id"] for n in paged.json()["results"]] == [second.json()["id"]]
    one = client.get(url, headers=token(org.key)).json()
    assert one["notes"] == notes["results"] and one["notes_count"] == 2
    assert one["updated_at"] > before["updated_at"]
    assert next(i for i in listed(client, org) if i["id"] == fid)["notes_count"] == 2
    # Notes cannot be set through the feedback itself.
    client.put(url, json={"notes": [], "notes_count": 0}, headers=token(org.key))
    assert client.get(url, headers=token(org.key)).json()["notes_count"] == 2
    for body in ({"body": "   "}, {"body": "a\x00b"}, {"body": "x" * 10_001}, {"body": 5}, {}):
        bad = client.post(f"{url}notes/", json=body, headers=token(org.key))
        assert bad.status_code == 400 and list(bad.json()) == ["body"], (body, bad.text)
    assert client.get(f"{url}notes/", headers=token(org.key)).json()["count"] == 2


ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v2/feedback/{id}/", None),
    ("PUT", "/api/v2/feedback/{id}/", {"status": "CLOSED", "tags": ["mine"]}),
    ("PATCH", "/api/v2/feedback/{id}/", {"status": "CLOSED"}),
    ("POST", "/api/v2/feedback/{id}/tags/", {"tags": ["mine"]}),
    ("DELETE", "/api/v2/feedback/{id}/tags/bug/", None),
    ("GET", "/api/v2/feedback/{id}/notes/", None),
    ("POST", "/api/v2/feedback/{id}/notes/", {"body": "mine"}),
]


def test_another_organizations_feedback_is_not_found_on_every_route(
    client: TestClient, org: Org, other_org: Org, world: World, database: Database
) -> None:
    fid = _one(database, org)
    client.post(f"/api/v2/feedback/{fid}/tags/", json={"tags": ["bug"]}, headers=token(org.key))
    before = client.get(f"/api/v2/feedback/{fid}/", headers=token(org.key)).json()
    for method, path, body in ROUTES:
        response = client.request(
            method, path.format(id=fid), json=body, headers=token(other_org.key)
        )
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Not found."}
    assert client.get(f"/api/v2/feedback/{fid}/", headers=token(org.key)).json() == before
    assert listed(client, other_org) == []
    assert listed(client, other_org, {"survey__contact__email": before["contact"]["email"]}) == []


def test_every_route_needs_a_key(client: TestClient, org: Org) -> None:
    for method, path, body in [*ROUTES, ("GET", "/api/v2/feedback/", None)]:
        response = client.request(method, path.format(id=1), json=body)
        assert response.status_code == 401, (method, path)
        assert response.json() == {"detail": "Invalid token."}
    wrong = client.get("/api/v2/feedback/", headers={"Authorization": "Token pk_nope1234567"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"posted_date_0": "2026-13-01"}, "posted_date_0"),
        ({"posted_date_1": "20260101"}, "posted_date_1"),
        ({"posted_date_0": "2026-06-01T00:00:00"}, "posted_date_0"),
        ({"posted_date_1": "0001-01-01"}, "posted_date_1"),
        ({"posted_date_1": "9999-12-31"}, "posted_date_1"),
        ({"survey__campaign__status": "DONE"}, "survey__campaign__status"),
        ({"survey__campaign": str(2**40)}, "survey__campaign"),
        ({"survey__campaign": "0"}, "survey__campaign"),
        ({"survey__contact__email": "a\x00@b.c"}, "survey__contact__email"),
        ({"page": "0"}, "page"),
    ],
)
def test_bad_promoter_filters_are_field_errors(
    client: TestClient, org: Org, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v2/feedback/", params=params, headers=token(org.key))
    assert response.status_code == 400, response.text
    assert list(response.json()) == [field]
    assert isinstance(response.json()[field][0], str)


def test_feedback_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    listing = {p["name"] for p in paths["/api/v2/feedback/"]["get"]["parameters"]}
    assert {"survey__campaign", "survey__campaign__status", "survey__contact__email"} <= listing
    assert {"posted_date_0", "posted_date_1", "filter", "since", "score_type"} <= listing
    assert set(paths["/api/v2/feedback/{feedback_id}/"]) == {"get", "put", "patch"}
    assert "post" in paths["/api/v2/feedback/{feedback_id}/tags/"]
    assert "delete" in paths["/api/v2/feedback/{feedback_id}/tags/{tag}/"]
    assert set(paths["/api/v2/feedback/{feedback_id}/notes/"]) == {"get", "post"}

"""Promoter's metrics (equal to /api/v2/nps/ over the same window), unsubscribes and
bounces: shapes, DRF error shapes, auth and scoping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from promoter.campaigns.service import list_campaigns
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, surveys
from tests.analytics.dataset import build
from tests.conftest import Org
from tests.credentials import token
from tests.web.rest_api import call, ok

METRIC_FIELDS = {
    "campaign",
    "campaign_name",
    "nps",
    "organization_nps",
    "responses",
    "organization_responses",
    "window",
}
NOT_FOUND = {"detail": "Not found."}


def nps(client: TestClient, org: Org, **params: Any) -> Any:
    return ok(call(client, org, "GET", "/api/v2/nps/", params=params))


# Metrics -------------------------------------------------------------------------------


@pytest.fixture
def campaign_ids(database: Database, org: Org) -> list[int]:
    return build(
        database, org.id, random.Random(11), contacts_count=12, responses_count=70
    ).campaign_ids


def test_metrics_equal_the_nps_of_the_same_window(
    client: TestClient, org: Org, campaign_ids: list[int]
) -> None:
    listing = ok(call(client, org, "GET", "/api/v2/metrics/"))
    assert listing["count"] == len(campaign_ids) == 2
    assert listing["next"] is None and listing["previous"] is None
    whole = nps(client, org)
    for item in listing["results"]:
        assert set(item) == METRIC_FIELDS
        assert item["window"] == whole["window"]
        assert item["organization_nps"] == whole["nps"] is not None
        assert item["organization_responses"] == whole["responses"] > 0
        alone = nps(client, org, campaign=item["campaign"], **item["window"])
        assert (item["nps"], item["responses"]) == (alone["nps"], alone["responses"])
        assert item["responses"] > 0
    assert [i["campaign"] for i in listing["results"]] == campaign_ids
    assert [i["campaign_name"] for i in listing["results"]] == ["Segment campaign", "Second"]
    assert sum(i["responses"] for i in listing["results"]) == whole["responses"]


def test_metrics_of_chosen_days_and_one_campaign(
    client: TestClient, org: Org, campaign_ids: list[int]
) -> None:
    days = {"posted_date_0": "2026-03-01", "posted_date_1": "2026-05-31"}
    whole = nps(client, org, since="2026-03-01", until="2026-05-31")
    for name in ("campaign", "survey__campaign"):
        one = ok(
            call(client, org, "GET", "/api/v2/metrics/", params={name: campaign_ids[1]} | days)
        )
        assert set(one) == METRIC_FIELDS and one["campaign"] == campaign_ids[1]
        alone = nps(client, org, campaign=campaign_ids[1], since="2026-03-01", until="2026-05-31")
        assert (one["nps"], one["responses"]) == (alone["nps"], alone["responses"])
        assert one["organization_nps"] == whole["nps"]
        assert one["window"] == whole["window"]
    assert whole["responses"] > 0
    both = {"campaign": campaign_ids[0], "survey__campaign": campaign_ids[0]}
    assert (
        ok(call(client, org, "GET", "/api/v2/metrics/", params=both))["campaign"]
        == (campaign_ids[0])
    )


def test_a_campaign_without_responses_has_no_score(client: TestClient, org: Org) -> None:
    (item,) = ok(call(client, org, "GET", "/api/v2/metrics/"))["results"]
    assert (item["nps"], item["organization_nps"], item["responses"]) == (None, None, 0)
    assert item["campaign_name"] == "Segment campaign"


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"campaign": "abc"}, {"campaign": ["A valid integer is required."]}),
        ({"survey__campaign": "1.5"}, {"survey__campaign": ["A valid integer is required."]}),
        (
            {"campaign": "1", "survey__campaign": "2"},
            {"campaign": ["Give campaign or survey__campaign, not both."]},
        ),
        (
            {"posted_date_0": "2026-13-01"},
            {
                "posted_date_0": [
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                ]
            },
        ),
        (
            {"posted_date_1": "01/02/2026"},
            {
                "posted_date_1": [
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                ]
            },
        ),
        ({"posted_date_1": "9999-12-31"}, {"posted_date_1": ["Enter a date from 1900 to 8999."]}),
        (
            {"posted_date_0": "2026-02-02", "posted_date_1": "2026-02-01"},
            {"posted_date_1": ["Must not be before posted_date_0."]},
        ),
    ],
)
def test_metrics_refuse_bad_parameters(
    client: TestClient, org: Org, params: dict[str, str], errors: dict[str, list[str]]
) -> None:
    response = call(client, org, "GET", "/api/v2/metrics/", params=params)
    assert response.status_code == 400 and response.json() == errors


def test_metrics_of_another_organizations_campaign_are_not_found(
    client: TestClient, org: Org, other_org: Org
) -> None:
    (theirs,) = ok(call(client, other_org, "GET", "/api/v2/metrics/"))["results"]
    for value in (str(theirs["campaign"]), "0", "2147483648", str(2**63), "9" * 30):
        for name in ("campaign", "survey__campaign"):
            response = call(client, org, "GET", "/api/v2/metrics/", params={name: value})
            assert response.status_code == 404 and response.json() == NOT_FOUND
    assert call(client, None, "GET", "/api/v2/metrics/").status_code == 401


# Unsubscribes --------------------------------------------------------------------------


def identify(client: TestClient, org: Org, *people: str) -> dict[str, int]:
    batch = [
        {"type": "identify", "userId": p, "traits": {"email": f"{p}@example.com"}} for p in people
    ]
    assert client.post("/v1/batch", json={"batch": batch, "writeKey": org.key}).is_success
    found = ok(call(client, org, "GET", "/api/v2/contacts/"))["results"]
    return {c["user_id"]: c["id"] for c in found}


def add_survey(
    database: Database,
    org: Org,
    contact_id: int,
    *,
    status: str,
    delivery: str,
    at: datetime,
    error: str | None = None,
    kind: str = "survey",
) -> tuple[int, int]:
    """A survey of the default campaign with one delivery: the campaign's and survey's ids."""
    with database.write() as conn:
        (default,) = list_campaigns(conn, organization_id=org.id)
        survey_id = conn.execute(
            insert(surveys)
            .values(
                organization_id=org.id,
                campaign_id=default.id,
                contact_id=contact_id,
                status=status,
                token=f"t-{contact_id}-{status}-{at.timestamp()}",
                attributes={},
                scheduled_at=at,
                created_at=at,
            )
            .returning(surveys.c.id)
        ).scalar_one()
        conn.execute(
            insert(deliveries).values(
                organization_id=org.id,
                survey_id=survey_id,
                kind=kind,
                status=delivery,
                due_at=at,
                last_error=error,
                created_at=at,
            )
        )
    return default.id, int(survey_id)


def test_unsubscribe_by_email_and_list(
    client: TestClient, org: Org, other_org: Org, database: Database
) -> None:
    ids = identify(client, org, "ann", "bob")
    identify(client, other_org, "ann")
    add_survey(
        database, org, ids["ann"], status="scheduled", delivery="pending", at=datetime.now(UTC)
    )
    before = datetime.now(UTC)
    first = ok(
        call(client, org, "POST", "/api/v2/unsubscribes/", {"email": " ANN@example.com"}), 201
    )
    assert set(first) == {"email", "contacts", "date"}
    assert first["email"] == "ANN@example.com" and first["contacts"] == [ids["ann"]]
    assert datetime.fromisoformat(first["date"]) >= before
    again = ok(call(client, org, "POST", "/api/v2/unsubscribes/", {"email": "ann@example.com"}))
    assert again["contacts"] == [ids["ann"]]
    with database.read() as conn:
        statuses = set(conn.execute(select(surveys.c.status)).scalars())
        pending = set(conn.execute(select(deliveries.c.status)).scalars())
    assert statuses == {"cancelled"} and pending == {"cancelled"}
    listing = ok(call(client, org, "GET", "/api/v2/unsubscribes/"))
    assert listing["count"] == 1 and listing["next"] is None
    (item,) = listing["results"]
    assert item == {
        "contact": ids["ann"],
        "contact_href": f"http://testserver/api/v2/contacts/{ids['ann']}/",
        "email": "ann@example.com",
        "user_id": "ann",
        "date": first["date"],
    }
    by_email = call(
        client, org, "GET", "/api/v2/unsubscribes/", params={"email": "BOB@example.com"}
    )
    assert ok(by_email)["count"] == 0
    assert ok(call(client, other_org, "GET", "/api/v2/unsubscribes/"))["count"] == 0
    contact = ok(call(client, org, "GET", f"/api/v2/contacts/{ids['ann']}/"))
    assert contact["status"] == "unsubscribed"
    theirs = ok(call(client, other_org, "GET", "/api/v2/contacts/"))["results"][0]
    assert theirs["status"] == "active"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"email": ["This field is required."]}),
        ({"email": ""}, {"email": ["This field may not be blank."]}),
        ({"email": None}, {"email": ["This field may not be null."]}),
        ({"email": 5}, {"email": ["Not a valid string."]}),
        ({"email": "x" * 321}, {"email": ["Ensure this field has no more than 320 characters."]}),
        ({"email": "a\x00@example.com"}, {"email": ["Null characters are not allowed."]}),
        ({"email": "a@example.com", "reason": "x"}, {"reason": ["Unknown field."]}),
        ({"email": "nobody@example.com"}, {"email": ["No contact has this email address."]}),
        ({"email": "ann@example.com"}, {"email": ["No contact has this email address."]}),
    ],
)
def test_unsubscribe_refuses_bad_bodies(
    client: TestClient, org: Org, other_org: Org, body: dict[str, Any], errors: dict[str, Any]
) -> None:
    identify(client, other_org, "ann")
    response = call(client, org, "POST", "/api/v2/unsubscribes/", body)
    assert response.status_code == 400 and response.json() == errors


def test_unsubscribe_bad_json_and_auth(client: TestClient, org: Org) -> None:
    headers = {**token(org.key), "Content-Type": "application/json"}
    bad = client.post("/api/v2/unsubscribes/", content=b"{email", headers=headers)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("JSON parse error")
    for method, path in (
        ("GET", "/api/v2/unsubscribes/"),
        ("POST", "/api/v2/unsubscribes/"),
        ("GET", "/api/v2/bounces/"),
    ):
        response = call(client, None, method, path, {"email": "a@example.com"})
        assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}
    for path in ("/api/v2/unsubscribes/", "/api/v2/bounces/"):
        response = call(client, org, "GET", path, params={"email": "a\x00b"})
        assert response.status_code == 400
        assert response.json() == {"email": ["Null characters are not allowed."]}


# Bounces -------------------------------------------------------------------------------


def test_bounces(client: TestClient, org: Org, other_org: Org, database: Database) -> None:
    ids = identify(client, org, "ann", "bob", "cy", "dee")
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    add_survey(
        database,
        org,
        ids["ann"],
        status="failed",
        delivery="failed",
        at=at,
        error="could not render",
    )
    campaign_id, refused = add_survey(
        database,
        org,
        ids["ann"],
        status="sent",
        delivery="failed",
        kind="reminder",
        at=at + timedelta(days=3),
        error="550 5.1.1 User unknown",
    )
    add_survey(
        database, org, ids["cy"], status="failed", delivery="failed", at=at, error="421 try later"
    )
    with database.write() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.id.in_([ids["ann"], ids["bob"]]))
            .values(status="bounced", updated_at=at + timedelta(days=10))
        )
    listing = ok(call(client, org, "GET", "/api/v2/bounces/"))
    assert listing["count"] == 2
    bob, ann = listing["results"]
    assert ann == {
        "contact": ids["ann"],
        "contact_href": f"http://testserver/api/v2/contacts/{ids['ann']}/",
        "email": "ann@example.com",
        "user_id": "ann",
        "campaign": campaign_id,
        "campaign_name": "Segment campaign",
        "survey": refused,
        "kind": "reminder",
        "date": (at + timedelta(days=3)).isoformat(),
        "error": "550 5.1.1 User unknown",
    }
    assert bob["contact"] == ids["bob"] and bob["date"] == (at + timedelta(days=10)).isoformat()
    assert (bob["campaign"], bob["survey"], bob["kind"], bob["error"]) == (None,) * 4
    paged = ok(call(client, org, "GET", "/api/v2/bounces/", params={"page_size": 1, "page": 2}))
    assert paged["results"] == [ann] and paged["next"] is None and "page=1" in paged["previous"]
    one = ok(call(client, org, "GET", "/api/v2/bounces/", params={"email": "Ann@Example.com"}))
    assert one["results"] == [ann]
    assert ok(call(client, other_org, "GET", "/api/v2/bounces/"))["count"] == 0

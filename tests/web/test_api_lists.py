"""Lists, their members, surveys on request and sending to a campaign's list, through the
API: shapes, errors, throttling, and another organization's objects out of reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from promoter.campaigns import service as campaigns
from promoter.campaigns.models import CampaignSettings
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, surveys
from tests.conftest import Org
from tests.credentials import token


def call(client: TestClient, org: Org, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, path, json=body, headers=token(org.key))


def make_list(client: TestClient, org: Org, name: str) -> dict[str, Any]:
    response = call(client, org, "POST", "/api/v2/lists/", {"name": name})
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_contact(client: TestClient, org: Org, email: str, **fields: Any) -> dict[str, Any]:
    response = call(client, org, "POST", "/api/v2/contacts/", {"email": email, **fields})
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def the_campaign(database: Database, org: Org) -> campaigns.Campaign:
    with database.read() as conn:
        return campaigns.list_campaigns(conn, organization_id=org.id)[0]


def second_campaign(
    database: Database, org: Org, list_id: int | None = None, **settings: Any
) -> campaigns.Campaign:
    first = the_campaign(database, org)
    with database.write() as conn:
        return campaigns.create_campaign(
            conn,
            organization_id=org.id,
            settings=CampaignSettings(name="Second", **settings),
            template_id=first.email_template_id,
            list_id=list_id,
        )


def survey(client: TestClient, org: Org, campaign_id: int, email: str, **extra: Any) -> Any:
    body = {"campaign_id": campaign_id, "contact": {"email": email}, **extra}
    return call(client, org, "POST", "/api/v2/survey/", body)


def age_surveys(database: Database, days: float) -> None:
    """Pretend every survey was sent ``days`` ago."""
    then = datetime.now(UTC) - timedelta(days=days)
    with database.write() as conn:
        conn.execute(update(surveys).values(status="sent", created_at=then, sent_at=then))


# Lists ----------------------------------------------------------------------------------


def test_list_crud(client: TestClient, org: Org) -> None:
    answer = call(client, org, "GET", "/api/v2/lists/").json()
    assert answer["count"] == 1
    (segment,) = answer["results"]
    assert (segment["name"], segment["is_segment"], segment["contact_count"]) == (
        "Segment List",
        True,
        0,
    )
    vip = make_list(client, org, "  VIP ")
    assert vip["name"] == "VIP" and vip["is_segment"] is False
    assert vip["href"] == f"http://testserver/api/v2/lists/{vip['id']}/"
    assert call(client, org, "GET", vip["href"]).json() == vip
    renamed = call(client, org, "PATCH", vip["href"], {"name": "Gold"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Gold"
    put = call(client, org, "PUT", vip["href"], renamed.json() | {"name": "Platinum"})
    assert put.status_code == 200 and put.json()["name"] == "Platinum"
    assert call(client, org, "PATCH", vip["href"], {}).json()["name"] == "Platinum"
    assert call(client, org, "DELETE", vip["href"]).status_code == 204
    assert call(client, org, "GET", vip["href"]).status_code == 404
    assert call(client, org, "DELETE", vip["href"]).status_code == 404


def test_list_errors(client: TestClient, database: Database, org: Org) -> None:
    segment = call(client, org, "GET", "/api/v2/lists/").json()["results"][0]
    vip = make_list(client, org, "VIP")
    for body, expected in (
        ({}, {"name": ["This field is required."]}),
        ({"name": "  "}, {"name": ["This field may not be blank."]}),
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"name": "x" * 201}, {"name": ["Ensure this field has no more than 200 characters."]}),
        ({"name": "VIP"}, {"name": ["contact list with this name already exists."]}),
        ({"name": "Segment List"}, {"name": ["contact list with this name already exists."]}),
        ({"name": "a\x00b"}, {"name": ["Null characters are not allowed."]}),
        ({"name": "B", "extra": 1}, {"extra": ["Unknown field."]}),
    ):
        response = call(client, org, "POST", "/api/v2/lists/", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json() == expected, body
    clash = call(client, org, "PATCH", segment["href"], {"name": "VIP"})
    assert clash.status_code == 400 and list(clash.json()) == ["name"]
    assert call(client, org, "PUT", vip["href"], {}).json() == {"name": ["This field is required."]}
    protected = call(client, org, "DELETE", segment["href"])
    assert protected.status_code == 400
    assert list(protected.json()) == ["non_field_errors"]
    assert "Segment list cannot be deleted" in protected.json()["non_field_errors"][0]
    second_campaign(database, org, list_id=vip["id"])
    used = call(client, org, "DELETE", vip["href"])
    assert used.status_code == 400 and "'Second'" in used.json()["non_field_errors"][0]


def test_members(client: TestClient, org: Org) -> None:
    vip = make_list(client, org, "VIP")
    members = f"/api/v2/lists/{vip['id']}/contacts/"
    ann = add_contact(client, org, "ann@x.co")
    by_id = call(client, org, "POST", members, {"contact": ann["id"]})
    assert by_id.status_code == 201, by_id.text
    assert [entry["id"] for entry in by_id.json()["contact_lists"]] == [vip["id"]]
    assert call(client, org, "POST", members, {"contact": ann["id"]}).status_code == 201
    by_email = call(client, org, "POST", members, {"email": "bob@x.co"})
    assert by_email.status_code == 201 and by_email.json()["email"] == "bob@x.co"
    assert call(client, org, "POST", members, {"email": "ANN@x.co"}).json()["id"] == ann["id"]
    for i in range(3):
        call(client, org, "POST", members, {"email": f"m{i}@x.co"})
    page = call(client, org, "GET", f"{members}?page_size=2&page=2").json()
    assert page["count"] == 5 and [c["email"] for c in page["results"]] == ["m0@x.co", "m1@x.co"]
    assert page["previous"] and page["next"]
    assert call(client, org, "GET", vip["href"]).json()["contact_count"] == 5
    gone = call(client, org, "DELETE", f"{members}{ann['id']}/")
    assert gone.status_code == 204
    assert call(client, org, "DELETE", f"{members}{ann['id']}/").status_code == 404
    assert call(client, org, "GET", f"/api/v2/contacts/{ann['id']}/").json()["contact_lists"] == []
    for body, field in (
        ({}, "non_field_errors"),
        ({"contact": ann["id"], "email": "ann@x.co"}, "non_field_errors"),
        ({"contact": 999999}, "contact"),
        ({"contact": "x"}, "contact"),
        ({"email": "nope"}, "email"),
    ):
        response = call(client, org, "POST", members, body)
        assert response.status_code == 400 and list(response.json()) == [field], response.text
    assert call(client, org, "POST", members, {"contact": 999999}).json() == {
        "contact": ['Invalid pk "999999" - object does not exist.']
    }


def test_other_organizations_lists_are_not_found(
    client: TestClient, org: Org, other_org: Org
) -> None:
    theirs = make_list(client, other_org, "Theirs")
    their_contact = add_contact(client, other_org, "t@x.co", contact_list=[theirs["id"]])
    mine = make_list(client, org, "Mine")
    my_contact = add_contact(client, org, "m@x.co")
    base = f"/api/v2/lists/{theirs['id']}/"
    for method, path, body in (
        ("GET", base, None),
        ("PATCH", base, {"name": "Stolen"}),
        ("PUT", base, {"name": "Stolen"}),
        ("DELETE", base, None),
        ("GET", f"{base}contacts/", None),
        ("POST", f"{base}contacts/", {"contact": my_contact["id"]}),
        ("POST", f"{base}contacts/", {"email": "new@x.co"}),
        ("DELETE", f"{base}contacts/{their_contact['id']}/", None),
    ):
        response = call(client, org, method, path, body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"detail": "Not found."}
    # Their contact cannot be put on my list either.
    response = call(
        client,
        org,
        "POST",
        f"/api/v2/lists/{mine['id']}/contacts/",
        {"contact": their_contact["id"]},
    )
    assert response.status_code == 400 and list(response.json()) == ["contact"]
    assert call(client, org, "GET", "/api/v2/lists/").json()["count"] == 2
    assert call(client, other_org, "GET", base).json()["name"] == "Theirs"


@pytest.mark.parametrize("list_id", ["abc", "0", str(2**31), str(2**63), "9" * 30])
def test_malformed_list_ids_are_not_found(client: TestClient, org: Org, list_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = call(client, org, method, f"/api/v2/lists/{list_id}/", {"name": "x"})
        assert response.status_code == 404, response.text
    assert call(client, org, "GET", f"/api/v2/lists/{list_id}/contacts/").status_code == 404


def test_list_routes_need_a_key(client: TestClient) -> None:
    for method, path in (
        ("GET", "/api/v2/lists/"),
        ("POST", "/api/v2/lists/"),
        ("GET", "/api/v2/lists/1/"),
        ("PATCH", "/api/v2/lists/1/"),
        ("DELETE", "/api/v2/lists/1/"),
        ("GET", "/api/v2/lists/1/contacts/"),
        ("POST", "/api/v2/lists/1/contacts/"),
        ("DELETE", "/api/v2/lists/1/contacts/1/"),
        ("POST", "/api/v2/survey/"),
        ("POST", "/api/v2/campaigns/1/send-surveys/"),
    ):
        response = client.request(method, path, json={}, headers={"Authorization": "Token nope"})
        assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}


# Surveys on request ----------------------------------------------------------------------


def test_survey_creates_the_contact_and_schedules(
    client: TestClient, database: Database, org: Org
) -> None:
    campaign = the_campaign(database, org)
    response = survey(
        client,
        org,
        campaign.id,
        "ted@x.co",
        attributes={"order": {"id": "A-1"}, "total": 30.5, "skip": None},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["campaign"] == campaign.id and body["status"] == "scheduled"
    assert set(body) == {"id", "campaign", "contact", "status", "scheduled_at"}
    contact = call(client, org, "GET", f"/api/v2/contacts/{body['contact']}/").json()
    assert contact["email"] == "ted@x.co"
    assert [entry["id"] for entry in contact["contact_lists"]] == [campaign.contact_list_id]
    with database.read() as conn:
        row = conn.execute(select(surveys)).one()
        delivery = conn.execute(select(deliveries)).one()
    assert row.attributes == {"order.id": "A-1", "total": 30.5}
    assert (delivery.survey_id, delivery.status) == (row.id, "pending")

    full = survey(
        client,
        org,
        campaign.id,
        "ted@x.co",
        contact={"email": "ted@x.co", "first_name": "Ted", "attributes": {"plan": "Pro"}},
    )
    assert full.status_code == 400
    assert full.json() == {
        "non_field_errors": ["Contact is not eligible for survey."],
        "reason": ["a survey of this campaign is already scheduled"],
    }
    # The contact was updated all the same.
    contact = call(client, org, "GET", f"/api/v2/contacts/{body['contact']}/").json()
    assert (contact["first_name"], contact["attributes"]) == ("Ted", {"plan": "Pro"})


def test_survey_throttling(client: TestClient, database: Database, org: Org) -> None:
    campaign = the_campaign(database, org)
    other = second_campaign(database, org, throttle_days=30)
    assert survey(client, org, campaign.id, "a@x.co").status_code == 201
    age_surveys(database, 0.5)
    floor = survey(client, org, other.id, "a@x.co")
    assert floor.status_code == 400
    assert floor.json()["reason"] == ["throttled: surveyed less than 24 hours ago"]
    age_surveys(database, 2)
    cooled = survey(client, org, other.id, "a@x.co")
    assert cooled.status_code == 400
    assert cooled.json()["reason"][0].startswith("cooldown: surveyed")
    age_surveys(database, 31)
    assert survey(client, org, other.id, "a@x.co").status_code == 201
    age_surveys(database, 40)
    throttled = survey(client, org, campaign.id, "a@x.co")
    assert throttled.status_code == 400
    assert throttled.json()["reason"][0].startswith("throttled: surveyed")
    assert "90 days" in throttled.json()["reason"][0]
    assert survey(client, org, other.id, "a@x.co").status_code == 201


def test_survey_errors(client: TestClient, database: Database, org: Org, other_org: Org) -> None:
    campaign = the_campaign(database, org)
    theirs = the_campaign(database, other_org)
    cases: list[tuple[Any, dict[str, Any]]] = [
        ({}, {"campaign_id": ["This field is required."], "contact": ["This field is required."]}),
        (
            {"campaign_id": campaign.id, "contact": {"email": ""}},
            {"contact": {"email": ["This field may not be blank."]}},
        ),
        (
            {"campaign_id": campaign.id, "contact": {"email": "nope"}},
            {"contact": {"email": ["Enter a valid email address."]}},
        ),
        (
            {"campaign_id": campaign.id, "contact": {"first_name": "T"}},
            {"contact": {"email": ["This field is required."]}},
        ),
        (
            {"campaign_id": campaign.id, "contact": "a@x.co"},
            {"contact": ["Invalid data. Expected a dictionary, but got str."]},
        ),
        (
            {"campaign_id": campaign.id, "contact": {"email": "a@x.co", "x": 1}},
            {"contact": {"x": ["Unknown field."]}},
        ),
        (
            {"campaign_id": "abc", "contact": {"email": "a@x.co"}},
            {"campaign_id": ["A valid integer is required."]},
        ),
        (
            {"campaign_id": theirs.id, "contact": {"email": "a@x.co"}},
            {"campaign_id": [f'Invalid pk "{theirs.id}" - object does not exist.']},
        ),
        (
            {"campaign_id": 2**31 + 5, "contact": {"email": "a@x.co"}},
            {"campaign_id": [f'Invalid pk "{2**31 + 5}" - object does not exist.']},
        ),
        (
            {"campaign_id": 2**63, "contact": {"email": "a@x.co"}},
            {"campaign_id": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
        (
            {"campaign_id": 2**64, "contact": {"email": "a@x.co"}},
            {"campaign_id": ["A valid integer is required."]},
        ),
        (
            {"campaign_id": campaign.id, "contact": {"email": "a@x.co"}, "attributes": {"": 1}},
            {"attributes": ["Trait names must not be empty."]},
        ),
        (
            {"campaign_id": campaign.id, "contact": {"email": "a@\x00x.co"}},
            {"contact": ["Null characters are not allowed."]},
        ),
    ]
    for body, expected in cases:
        response = call(client, org, "POST", "/api/v2/survey/", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json() == expected, body
    bad_json = client.post(
        "/api/v2/survey/",
        content=b"{",
        headers={**token(org.key), "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400 and list(bad_json.json()) == ["detail"]
    with database.read() as conn:
        assert conn.execute(select(contacts)).all() == []


def test_paused_campaign_sends_nothing(client: TestClient, database: Database, org: Org) -> None:
    campaign = the_campaign(database, org)
    with database.write() as conn:
        campaigns.update_campaign(
            conn, organization_id=org.id, campaign_id=campaign.id, changes={"status": "paused"}
        )
    response = survey(client, org, campaign.id, "a@x.co")
    assert response.status_code == 400 and response.json()["reason"] == ["campaign is paused"]
    bulk = call(client, org, "POST", f"/api/v2/campaigns/{campaign.id}/send-surveys/", {})
    assert bulk.status_code == 400 and list(bulk.json()) == ["non_field_errors"]


# Sending to a campaign's list -----------------------------------------------------------


def test_send_surveys_counts_and_throttles(
    client: TestClient, database: Database, org: Org, other_org: Org
) -> None:
    campaign = the_campaign(database, org)
    for i in range(4):
        add_contact(client, org, f"c{i}@x.co", contact_list=[campaign.contact_list_id])
    add_contact(client, org, "nolist@x.co")
    call(client, org, "POST", "/api/v2/contacts/remove/", {"email": "c3@x.co"})
    url = f"/api/v2/campaigns/{campaign.id}/send-surveys/"

    first = call(client, org, "POST", url, {"all_contacts": False})
    assert first.status_code == 200, first.text
    assert first.json() == {
        "scheduled": 3,
        "skipped": 1,
        "reasons": {"contact is unsubscribed": 1},
    }
    again = call(client, org, "POST", url, {"all_contacts": True})
    assert again.json() == {
        "scheduled": 0,
        "skipped": 4,
        "reasons": {
            "a survey of this campaign is already scheduled": 3,
            "contact is unsubscribed": 1,
        },
    }
    age_surveys(database, 2)
    add_contact(client, org, "new@x.co", contact_list=[campaign.contact_list_id])
    fresh = call(client, org, "POST", url, {"all_contacts": False})
    assert fresh.json() == {
        "scheduled": 1,
        "skipped": 4,
        "reasons": {"already surveyed by this campaign": 3, "contact is unsubscribed": 1},
    }
    age_surveys(database, 2)
    everyone = call(client, org, "POST", url, {"all_contacts": True})
    assert everyone.json() == {
        "scheduled": 0,
        "skipped": 5,
        "reasons": {"throttled": 4, "contact is unsubscribed": 1},
    }
    # An empty body means all_contacts: false.
    assert client.post(url, headers=token(org.key)).status_code == 200

    theirs = the_campaign(database, other_org)
    foreign = call(client, org, "POST", f"/api/v2/campaigns/{theirs.id}/send-surveys/", {})
    assert foreign.status_code == 404 and foreign.json() == {"detail": "Not found."}
    for bad in ("abc", "0", str(2**63)):
        missing = call(client, org, "POST", f"/api/v2/campaigns/{bad}/send-surveys/", {})
        assert missing.status_code == 404
    wrong = call(client, org, "POST", url, {"all_contacts": "maybe"})
    assert wrong.status_code == 400 and wrong.json() == {
        "all_contacts": ["Must be a valid boolean."]
    }
    extra = call(client, org, "POST", url, {"everyone": True})
    assert extra.status_code == 400 and extra.json() == {"everyone": ["Unknown field."]}


def test_routes_are_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path, methods in (
        ("/api/v2/contacts/", {"get", "post"}),
        ("/api/v2/contacts/{contact_id}/", {"get", "put", "patch", "delete"}),
        ("/api/v2/contacts/remove/", {"post"}),
        ("/api/v2/lists/", {"get", "post"}),
        ("/api/v2/lists/{list_id}/", {"get", "put", "patch", "delete"}),
        ("/api/v2/lists/{list_id}/contacts/", {"get", "post"}),
        ("/api/v2/lists/{list_id}/contacts/{contact_id}/", {"delete"}),
        ("/api/v2/survey/", {"post"}),
        ("/api/v2/campaigns/{campaign_id}/send-surveys/", {"post"}),
    ):
        assert methods <= set(paths[path]), path
        assert "#/$defs/" not in str(paths[path]), path
    survey_body = paths["/api/v2/survey/"]["post"]["requestBody"]["content"]["application/json"]
    assert "email" in survey_body["schema"]["properties"]["contact"]["properties"]

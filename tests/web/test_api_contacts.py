"""Writing contacts through the API: upsert by email, changes, remove (unsubscribe),
erasure; filters, error shapes and another organization's contacts out of reach."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from promoter.campaigns import service as campaigns
from promoter.contacts.writes import upsert_contact
from promoter.domain.attributes import AttributeLimits
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    deliveries,
    events,
    list_memberships,
    orders,
    organizations,
    surveys,
)
from tests.conftest import Org
from tests.credentials import token


def post(client: TestClient, org: Org, path: str, body: Any) -> Any:
    return client.post(path, json=body, headers=token(org.key))


def create(client: TestClient, org: Org, **fields: Any) -> Any:
    response = post(client, org, "/api/v2/contacts/", fields)
    assert response.status_code in (200, 201), response.text
    return response.json()


def make_list(client: TestClient, org: Org, name: str) -> int:
    response = post(client, org, "/api/v2/lists/", {"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def the_campaign(database: Database, org: Org) -> campaigns.Campaign:
    with database.read() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
    return campaign


def count(database: Database, table: Any, **where: Any) -> int:
    with database.read() as conn:
        query = select(func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return int(conn.execute(query).scalar_one())


def test_create_then_update_by_email(client: TestClient, org: Org) -> None:
    first = post(
        client,
        org,
        "/api/v2/contacts/",
        {
            "email": "Ted@Mosby.example.com",
            "first_name": "Ted",
            "attributes": {"plan": "Pro", "seats": 12, "company": {"size": 50}, "tags": []},
        },
    )
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["email"] == "Ted@mosby.example.com"
    assert created["user_id"] is None and created["status"] == "active"
    assert created["first_name"] == "Ted" and created["last_name"] is None
    assert created["attributes"] == {"company.size": 50, "plan": "Pro", "seats": 12}
    assert created["contact_lists"] == []
    assert created["href"] == f"http://testserver/api/v2/contacts/{created['id']}/"

    again = post(
        client,
        org,
        "/api/v2/contacts/",
        {"email": "TED@mosby.example.com", "last_name": "Mosby", "attributes": {"seats": None}},
    )
    assert again.status_code == 200, again.text
    updated = again.json()
    assert updated["id"] == created["id"]
    assert (updated["first_name"], updated["last_name"]) == ("Ted", "Mosby")
    assert updated["attributes"] == {"company.size": 50, "plan": "Pro"}
    shown = client.get(created["href"], headers=token(org.key)).json()
    assert shown == updated


def test_create_joins_lists_under_either_name(client: TestClient, org: Org) -> None:
    vip = make_list(client, org, "VIP")
    beta = make_list(client, org, "Beta")
    one = create(client, org, email="a@x.co", contact_list=[vip])
    assert [entry["id"] for entry in one["contact_lists"]] == [vip]
    # The shape contacts are shown in is accepted back.
    two = create(client, org, email="a@x.co", contact_lists=[{"id": beta, "name": "Beta"}])
    assert [entry["id"] for entry in two["contact_lists"]] == [vip, beta]
    both = post(
        client,
        org,
        "/api/v2/contacts/",
        {"email": "a@x.co", "contact_list": [vip], "contact_lists": [beta]},
    )
    assert both.status_code == 400 and "contact_list" in both.json()


def test_contact_errors_are_drf_shaped(
    client: TestClient, database: Database, org: Org, other_org: Org
) -> None:
    foreign = make_list(client, other_org, "Theirs")
    cases: list[tuple[Any, dict[str, list[str]]]] = [
        ({}, {"email": ["This field is required."]}),
        ({"email": "nope"}, {"email": ["Enter a valid email address."]}),
        ({"email": " "}, {"email": ["This field may not be blank."]}),
        ({"email": "a@x.co", "color": "red"}, {"color": ["Unknown field."]}),
        (
            {"email": "a@x.co", "first_name": "x" * 256},
            {"first_name": ["Ensure this field has no more than 255 characters."]},
        ),
        (
            {"email": "a@x.co", "contact_list": [foreign]},
            {"contact_list": [f'Invalid pk "{foreign}" - object does not exist.']},
        ),
        (
            {"email": "a@x.co", "contact_list": [2**63]},
            {"contact_list": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
        (
            {"email": "a@x.co", "send": True},
            {"campaign": ["This field is required when send is true."]},
        ),
        (
            {"email": "a@x.co", "send": True, "campaign": 99999},
            {"campaign": ['Invalid pk "99999" - object does not exist.']},
        ),
        (
            {"email": "a@x.co", "first_name": "T\x00d"},
            {"first_name": ["Null characters are not allowed."]},
        ),
    ]
    for body, expected in cases:
        response = post(client, org, "/api/v2/contacts/", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json() == expected, body
    for body in (
        {"email": "a@x.co", "attributes": {"": 1}},
        {"email": "a@x.co", "attributes": [1]},
    ):
        response = post(client, org, "/api/v2/contacts/", body)
        assert response.status_code == 400 and list(response.json()) == ["attributes"], (
            response.text
        )
    for raw, shape in (
        (b"{nope", "detail"),
        (b"[1, 2]", "non_field_errors"),
        (b'"x"', "non_field_errors"),
    ):
        response = client.post(
            "/api/v2/contacts/",
            content=raw,
            headers={**token(org.key), "Content-Type": "application/json"},
        )
        assert response.status_code == 400 and list(response.json()) == [shape], response.text
    assert count(database, contacts) == 0


def test_send_through_a_campaign_on_create(
    client: TestClient, database: Database, org: Org, other_org: Org
) -> None:
    campaign = the_campaign(database, org)
    theirs = the_campaign(database, other_org)
    refused = post(
        client, org, "/api/v2/contacts/", {"email": "a@x.co", "send": True, "campaign": theirs.id}
    )
    assert refused.status_code == 400
    assert refused.json() == {"campaign": [f'Invalid pk "{theirs.id}" - object does not exist.']}
    sent = post(
        client, org, "/api/v2/contacts/", {"email": "a@x.co", "send": True, "campaign": campaign.id}
    )
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["survey"]["status"] == "scheduled" and body["survey"]["campaign"] == campaign.id
    assert [entry["id"] for entry in body["contact_lists"]] == [campaign.contact_list_id]
    again = post(
        client, org, "/api/v2/contacts/", {"email": "a@x.co", "send": True, "campaign": campaign.id}
    )
    assert again.status_code == 200
    assert again.json()["survey"] == {
        "status": "not_sent",
        "reason": "a survey of this campaign is already scheduled",
    }
    assert count(database, surveys) == 1


def test_put_and_patch(client: TestClient, org: Org) -> None:
    vip = make_list(client, org, "VIP")
    contact = create(
        client, org, email="a@x.co", first_name="Ann", attributes={"plan": "Pro", "seats": 3}
    )
    url = f"/api/v2/contacts/{contact['id']}/"
    patched = client.patch(
        url,
        json={"attributes": {"seats": 4, "trial": True}, "contact_list": [vip]},
        headers=token(org.key),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["attributes"] == {"plan": "Pro", "seats": 4, "trial": True}
    assert patched.json()["first_name"] == "Ann"
    assert [entry["id"] for entry in patched.json()["contact_lists"]] == [vip]

    missing = client.put(url, json={"first_name": "Anne"}, headers=token(org.key))
    assert missing.status_code == 400 and missing.json() == {"email": ["This field is required."]}
    # The GET shape sent back, read-only fields and all, is accepted.
    shown = patched.json() | {"email": "anne@x.co", "attributes": {"plan": "Basic"}}
    replaced = client.put(url, json=shown, headers=token(org.key))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["email"] == "anne@x.co"
    assert replaced.json()["attributes"] == {"plan": "Basic"}

    create(client, org, email="taken@x.co")
    clash = client.patch(url, json={"email": "TAKEN@x.co"}, headers=token(org.key))
    assert clash.status_code == 400
    assert clash.json() == {"email": ["contact with this email already exists."]}
    null = client.patch(url, json={"email": None}, headers=token(org.key))
    assert null.status_code == 400 and null.json() == {"email": ["This field may not be null."]}

    inactive = client.patch(url, json={"status": "inactive"}, headers=token(org.key))
    assert inactive.status_code == 200 and inactive.json()["status"] == "inactive"
    gone = client.patch(url, json={"status": "unsubscribed"}, headers=token(org.key))
    assert gone.json()["status"] == "unsubscribed"
    back = client.patch(url, json={"status": "active"}, headers=token(org.key))
    assert back.status_code == 400 and list(back.json()) == ["status"]
    bad = client.patch(url, json={"status": "bounced"}, headers=token(org.key))
    assert bad.status_code == 400 and list(bad.json()) == ["status"]


def test_remove_unsubscribes_and_cancels_pending_surveys(
    client: TestClient, database: Database, org: Org
) -> None:
    campaign = the_campaign(database, org)
    sent = post(
        client, org, "/api/v2/survey/", {"campaign_id": campaign.id, "contact": {"email": "a@x.co"}}
    )
    assert sent.status_code == 201, sent.text
    removed = post(client, org, "/api/v2/contacts/remove/", {"email": " A@X.CO "})
    assert removed.status_code == 200, removed.text
    assert removed.json()["status"] == "unsubscribed"
    with database.read() as conn:
        assert conn.execute(select(surveys.c.status)).scalars().all() == ["cancelled"]
        assert conn.execute(select(deliveries.c.status)).scalars().all() == ["cancelled"]
    later = post(
        client, org, "/api/v2/survey/", {"campaign_id": campaign.id, "contact": {"email": "a@x.co"}}
    )
    assert later.status_code == 400
    assert later.json() == {
        "non_field_errors": ["Contact is not eligible for survey."],
        "reason": ["contact is unsubscribed"],
    }
    # Posting the address again does not resubscribe it.
    assert create(client, org, email="a@x.co")["status"] == "unsubscribed"
    assert post(client, org, "/api/v2/contacts/remove/", {"email": "a@x.co"}).status_code == 200
    unknown = post(client, org, "/api/v2/contacts/remove/", {"email": "who@x.co"})
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not found."}
    blank = post(client, org, "/api/v2/contacts/remove/", {"email": ""})
    assert blank.status_code == 400 and blank.json() == {"email": ["This field may not be blank."]}


def test_delete_erases_everything_about_the_contact(
    client: TestClient, database: Database, org: Org
) -> None:
    batch = [
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@x.co", "plan": "Pro"}},
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"order_id": "o1", "total": 5},
        },
        {"type": "identify", "userId": "u2", "traits": {"email": "u2@x.co", "plan": "Pro"}},
    ]
    assert client.post("/v1/batch", json={"batch": batch, "writeKey": org.key}).status_code == 200
    segment = get_one(client, org, user_id="u1")
    keep = get_one(client, org, user_id="u2")
    api_made = create(client, org, email="api@x.co", attributes={"plan": "Basic"})
    with database.write() as conn:
        epoch = conn.execute(select(organizations.c.analytics_epoch)).scalar_one()
        conn.execute(
            events.insert().values(
                organization_id=org.id,
                contact_id=api_made["id"],
                user_id="",
                name="Imported",
                properties={},
                timestamp=datetime.now(UTC),
                received_at=datetime.now(UTC),
                message_id="m-1",
            )
        )
    assert count(database, orders, contact_id=segment["id"]) == 1
    for contact in (segment, api_made):
        url = f"/api/v2/contacts/{contact['id']}/"
        response = client.delete(url, headers=token(org.key))
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert client.get(url, headers=token(org.key)).status_code == 404
        assert client.delete(url, headers=token(org.key)).status_code == 404
        for table in (contact_attributes, events, orders, list_memberships, surveys):
            assert count(database, table, contact_id=contact["id"]) == 0
    assert count(database, events, user_id="u1") == 0
    assert (
        count(database, contacts) == 1
        and count(database, contact_attributes, contact_id=keep["id"]) == 1
    )
    with database.read() as conn:
        assert conn.execute(select(organizations.c.analytics_epoch)).scalar_one() == epoch + 2


def get_one(client: TestClient, org: Org, **params: Any) -> Any:
    found = client.get("/api/v2/contacts/", params=params, headers=token(org.key)).json()
    assert found["count"] == 1, found
    return found["results"][0]


def test_list_filters(client: TestClient, org: Org) -> None:
    vip = make_list(client, org, "VIP")
    for i in range(5):
        create(
            client,
            org,
            email=f"c{i}@x.co",
            attributes={"plan": "Pro" if i % 2 else "Free"},
            contact_list=[vip] if i < 2 else [],
        )
    batch = [{"type": "identify", "userId": "seg-1", "traits": {"email": "s@x.co"}}]
    assert client.post("/v1/batch", json={"batch": batch, "writeKey": org.key}).status_code == 200
    post(client, org, "/api/v2/contacts/remove/", {"email": "c4@x.co"})

    def emails(**params: Any) -> list[str]:
        answer = client.get("/api/v2/contacts/", params=params, headers=token(org.key))
        assert answer.status_code == 200, answer.text
        return [c["email"] for c in answer.json()["results"]]

    assert emails(email="C1@x.co") == ["c1@x.co"]
    assert emails(userId="seg-1") == emails(user_id="seg-1") == ["s@x.co"]
    assert emails(list=vip) == emails(contact_list__id=vip) == ["c0@x.co", "c1@x.co"]
    assert emails(status="unsubscribed") == ["c4@x.co"]
    assert emails(**{"attributes[plan]": "Pro"}) == ["c1@x.co", "c3@x.co"]
    assert emails(**{"attributes[plan]": "Pro", "list": vip}) == ["c1@x.co"]
    for params, field in (
        ({"status": "gone"}, "status"),
        ({"email": "a\x00b"}, "email"),
        ({"user_id": "a", "userId": "b"}, "userId"),
        ({"list": "x"}, "list"),
        ({"contact_list__id": 2**63}, "contact_list__id"),
        ({"email": "x" * 400}, "email"),
        ({"attributes[plan]": "P\x00"}, "attributes[plan]"),
    ):
        response = client.get("/api/v2/contacts/", params=params, headers=token(org.key))
        assert response.status_code == 400, (params, response.text)
        assert field in response.json(), response.json()


def test_pagination_of_written_contacts(client: TestClient, org: Org) -> None:
    for i in range(5):
        create(client, org, email=f"p{i}@x.co")
    first = client.get("/api/v2/contacts/", params={"page_size": 2}, headers=token(org.key)).json()
    assert first["count"] == 5 and first["previous"] is None
    assert first["next"] == "http://testserver/api/v2/contacts/?page_size=2&page=2"
    last = client.get(
        "/api/v2/contacts/", params={"page_size": 2, "page": 3}, headers=token(org.key)
    )
    assert [c["email"] for c in last.json()["results"]] == ["p4@x.co"]
    assert last.json()["next"] is None


def test_auth_and_other_organizations(client: TestClient, org: Org, other_org: Org) -> None:
    contact = create(client, org, email="a@x.co")
    url = f"/api/v2/contacts/{contact['id']}/"
    for method, path, body in (
        ("POST", "/api/v2/contacts/", {"email": "b@x.co"}),
        ("PUT", url, {"email": "b@x.co"}),
        ("PATCH", url, {"first_name": "B"}),
        ("DELETE", url, None),
        ("POST", "/api/v2/contacts/remove/", {"email": "a@x.co"}),
    ):
        bad = client.request(method, path, json=body, headers={"Authorization": "Token pk_bad"})
        assert bad.status_code == 401 and bad.json() == {"detail": "Invalid token."}
        assert client.request(method, path, json=body).status_code == 401
    for method, body in (
        ("PUT", {"email": "b@x.co"}),
        ("PATCH", {"first_name": "B"}),
        ("DELETE", None),
    ):
        response = client.request(method, url, json=body, headers=token(other_org.key))
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    theirs = post(client, other_org, "/api/v2/contacts/remove/", {"email": "a@x.co"})
    assert theirs.status_code == 404
    # The same address in another organization is another contact.
    assert create(client, other_org, email="a@x.co")["id"] != contact["id"]
    assert client.get(url, headers=token(org.key)).json()["first_name"] is None
    assert client.get(url, headers=token(org.key)).json()["status"] == "active"


@pytest.mark.parametrize("contact_id", ["0", "abc", str(2**63), "-1"])
def test_ids_out_of_range_are_client_errors(client: TestClient, org: Org, contact_id: str) -> None:
    url = f"/api/v2/contacts/{contact_id}/"
    for method in ("PATCH", "PUT", "DELETE"):
        response = client.request(method, url, json={"email": "a@x.co"}, headers=token(org.key))
        assert response.status_code in (400, 404), response.text
    huge = client.delete(f"/api/v2/contacts/{2**63 - 1}/", headers=token(org.key))
    assert huge.status_code == 404


def test_concurrent_upserts_of_one_address_make_one_contact(database: Database, org: Org) -> None:
    barrier = threading.Barrier(6)

    def upsert(n: int) -> bool:
        barrier.wait()
        with database.write() as conn:
            _, created = upsert_contact(
                conn,
                organization_id=org.id,
                email="Same@x.co",
                names={"first_name": f"N{n}"},
                attributes={},
                list_ids=[],
                now=datetime.now(UTC),
                limits=AttributeLimits(),
            )
        return created

    with ThreadPoolExecutor(6) as pool:
        created = list(pool.map(upsert, range(6)))
    assert sorted(created) == [False] * 5 + [True]
    assert count(database, contacts) == 1

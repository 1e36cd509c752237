"""The read API: auth, scoping, filters, pagination, error shapes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Org
from tests.credentials import token


def load(client: TestClient, org: Org, n: int) -> None:
    messages: list[dict[str, Any]] = []
    for i in range(n):
        uid = f"user-{i:03d}"
        messages.append(
            {
                "type": "identify",
                "userId": uid,
                "traits": {"email": f"{uid}@x.co", "plan": "Pro" if i % 2 else "Free", "seats": i},
            }
        )
        messages.append(
            {"type": "track", "userId": uid, "event": "Logged In", "properties": {"n": i}}
        )
    response = client.post("/v1/batch", json={"batch": messages, "writeKey": org.key})
    assert response.status_code == 200 and response.json()["accepted"] == 2 * n


def get(client: TestClient, org: Org, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers=token(org.key))


def test_pagination_follows_promoter(client: TestClient, org: Org) -> None:
    load(client, org, 7)
    first = get(client, org, "/api/v2/contacts/", page_size=3).json()
    assert first["count"] == 7 and first["previous"] is None
    assert [c["user_id"] for c in first["results"]] == ["user-000", "user-001", "user-002"]
    second = client.get(first["next"], headers=token(org.key)).json()
    assert [c["user_id"] for c in second["results"]] == ["user-003", "user-004", "user-005"]
    third = client.get(second["next"], headers=token(org.key)).json()
    assert third["next"] is None and len(third["results"]) == 1
    assert "page=2" in third["previous"]
    empty = get(client, org, "/api/v2/contacts/", page=9).json()
    assert empty["results"] == [] and empty["count"] == 7


def test_filters(client: TestClient, org: Org) -> None:
    load(client, org, 6)
    pro = get(client, org, "/api/v2/contacts/", **{"attributes[plan]": "Pro"}).json()
    assert pro["count"] == 3
    one = get(
        client, org, "/api/v2/contacts/", **{"attributes[plan]": "Pro", "attributes[seats]": "3"}
    )
    assert [c["user_id"] for c in one.json()["results"]] == ["user-003"]
    by_email = get(client, org, "/api/v2/contacts/", email="USER-002@x.co").json()
    assert [c["user_id"] for c in by_email["results"]] == ["user-002"]
    by_user = get(client, org, "/api/v2/contacts/", user_id="user-004").json()
    contact = by_user["results"][0]
    assert contact["attributes"] == {"plan": "Free", "seats": 4}
    list_id = contact["contact_lists"][0]["id"]
    in_list = get(client, org, "/api/v2/contacts/", contact_list__id=list_id).json()
    assert in_list["count"] == 6
    assert get(client, org, "/api/v2/contacts/", status="active").json()["count"] == 6


def test_contact_detail_events_and_orders(client: TestClient, org: Org) -> None:
    load(client, org, 2)
    contact = get(client, org, "/api/v2/contacts/", user_id="user-001").json()["results"][0]
    detail = client.get(contact["href"], headers=token(org.key))
    assert detail.status_code == 200 and detail.json() == contact
    events = get(client, org, f"/api/v2/contacts/{contact['id']}/events/").json()
    assert events["count"] == 1
    assert events["results"][0]["event"] == "Logged In"
    assert events["results"][0]["properties"] == {"n": 1}
    named = get(client, org, f"/api/v2/contacts/{contact['id']}/events/", event="Nope").json()
    assert named["count"] == 0
    orders = get(client, org, f"/api/v2/contacts/{contact['id']}/orders/").json()
    assert orders == {"count": 0, "next": None, "previous": None, "results": []}


def test_auth_and_isolation(client: TestClient, org: Org, other_org: Org) -> None:
    load(client, org, 1)
    contact = get(client, org, "/api/v2/contacts/").json()["results"][0]
    assert client.get("/api/v2/contacts/").status_code == 401
    bad = client.get("/api/v2/contacts/", headers={"Authorization": "Token pk_bad"})
    assert bad.status_code == 401 and bad.json() == {"detail": "Invalid token."}
    bearer = client.get("/api/v2/contacts/", headers={"Authorization": f"Bearer {org.key}"})
    assert bearer.status_code == 200
    assert get(client, other_org, "/api/v2/contacts/").json()["count"] == 0
    for suffix in ("", "events/", "orders/"):
        response = get(client, other_org, f"/api/v2/contacts/{contact['id']}/{suffix}")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_bad_parameters_get_field_errors(client: TestClient, org: Org) -> None:
    for params, field in (
        ({"page": "x"}, "page"),
        ({"page": 0}, "page"),
        ({"page_size": 100000}, "page_size"),
        ({"contact_list__id": "abc"}, "contact_list__id"),
    ):
        response = get(client, org, "/api/v2/contacts/", **params)
        assert response.status_code == 400
        assert field in response.json(), response.json()
    assert get(client, org, "/api/v2/contacts/abc/").status_code == 400
    assert get(client, org, "/api/v2/contacts/99999999/").status_code == 404


def test_attribute_filters_are_capped(client: TestClient, org: Org) -> None:
    load(client, org, 4)
    headers = token(org.key)

    def attributes(n: int, plan: str = "Pro") -> list[tuple[str, str]]:
        return [("attributes[plan]", plan)] + [(f"attributes[a{i}]", "x") for i in range(n - 1)]

    # As many as the analytics filters allow: answered (nobody has a0...).
    allowed = client.get("/api/v2/contacts/", params=attributes(100), headers=headers)
    assert allowed.status_code == 200 and allowed.json()["count"] == 0
    for n in (101, 1000):
        refused = client.get("/api/v2/contacts/", params=attributes(n), headers=headers)
        assert refused.status_code == 400
        assert refused.json() == {"attributes": [f"At most 100 attribute filters, not {n}."]}
    one = client.get("/api/v2/contacts/", params=attributes(1), headers=headers)
    assert one.json()["count"] == 2

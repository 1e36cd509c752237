"""POST /segment through the real server: the destination format and the Webhooks format."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import func, select

from promoter.orgs.service import set_webhook_secret
from promoter.storage.engine import Database
from promoter.storage.tables import events, orders, processed_messages
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import KEY_CACHE_SECONDS, Api

pytestmark = pytest.mark.e2e

SEED_IDENTIFY = {
    "userId": "12345",
    "action": "identify",
    "traits": {
        "email": "ted@mosbiusdesigns.com",
        "firstName": "Ted",
        "lastName": "Mosby",
        "plan": "Premium",
    },
}

COMPLETED_ORDER_V1 = {
    "type": "track",
    "userId": "12345",
    "event": "Completed Order",
    "messageId": "order-50314b8e",
    "timestamp": "2026-03-01T12:00:00.000Z",
    "properties": {
        "orderId": "50314b8e9bcf000000000000",
        "revenue": 25,
        "shipping": 3,
        "tax": 2,
        "currency": "USD",
        "products": [
            {"id": "507f1f77bcf86cd799439011", "sku": "45790-32", "price": 19, "quantity": 1},
            {"id": "505bd76785ebb509fc183733", "sku": "46493-32", "price": 3, "quantity": 2},
        ],
    },
}


def post(http: httpx2.Client, key: str | None, body: Any, **headers: str) -> httpx2.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    auth = basic(key) if key else {}
    return http.post(
        "/segment",
        content=content,
        headers={"Content-Type": "application/json", **auth, **headers},
    )


def count(database: Database, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with database.read() as conn:
        return int(conn.execute(query).scalar_one())


# --- destination -------------------------------------------------------------------------


def test_legacy_action_identify_creates_the_contact(
    http: httpx2.Client, org: Org, api: Api
) -> None:
    response = post(http, org.key, SEED_IDENTIFY)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    contact = api.contact("12345")
    assert contact["email"] == "ted@mosbiusdesigns.com"
    assert (contact["first_name"], contact["last_name"]) == ("Ted", "Mosby")
    assert contact["attributes"] == {"plan": "Premium"}
    assert api.contacts(**{"attributes[plan]": "Premium"}) == [contact]


def test_completed_order_v1_duplicates_and_delete(
    http: httpx2.Client, org: Org, api: Api, database: Database
) -> None:
    assert post(http, org.key, SEED_IDENTIFY).status_code == 200
    first = post(http, org.key, COMPLETED_ORDER_V1)
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicates"]) == (1, 0)
    again = post(http, org.key, COMPLETED_ORDER_V1)
    assert again.status_code == 200, again.text
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)

    contact = api.contact("12345")
    stored_events = api.events(contact["id"])
    assert stored_events["count"] == 1
    assert stored_events["results"][0]["event"] == "Completed Order"
    assert stored_events["results"][0]["message_id"] == "order-50314b8e"
    stored_orders = api.orders(contact["id"])
    assert stored_orders["count"] == 1
    (order,) = stored_orders["results"]
    assert order["order_id"] == "50314b8e9bcf000000000000"
    assert (order["total"], order["revenue"]) == (25, 25)  # `revenue` only fills `total`
    assert (order["shipping"], order["tax"], order["currency"]) == (3, 2, "USD")
    assert [p["product_id"] for p in order["products"]] == [
        "507f1f77bcf86cd799439011",
        "505bd76785ebb509fc183733",
    ]

    # A track from a user not identified yet is kept, and erased by delete all the same.
    early = {"type": "track", "userId": "67890", "event": "Viewed", "messageId": "early-1"}
    response = post(http, org.key, early)
    assert response.status_code == 200, response.text
    assert "not identified" in response.json()["notes"][0]["reason"]

    for user_id, message_id in (("12345", "delete-12345"), ("67890", "delete-67890")):
        erase = {"type": "delete", "userId": user_id, "messageId": message_id}
        response = post(http, org.key, erase)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
    assert api.contacts() == []
    api.get(f"/api/v2/contacts/{contact['id']}/", expected=404)
    api.get(f"/api/v2/contacts/{contact['id']}/events/", expected=404)
    api.get(f"/api/v2/contacts/{contact['id']}/orders/", expected=404)
    assert count(database, events, organization_id=org.id) == 0
    assert count(database, orders, organization_id=org.id) == 0

    # The erased order was processed: its replay is a duplicate, not a resurrection.
    replay = post(http, org.key, COMPLETED_ORDER_V1)
    assert replay.status_code == 200, replay.text
    assert replay.json()["duplicates"] == 1
    assert count(database, events, organization_id=org.id) == 0


def test_destination_errors(http: httpx2.Client, org: Org, api: Api) -> None:
    for key in (None, "pk_" + "w" * 32, "not-a-key"):
        response = post(http, key, SEED_IDENTIFY)
        assert response.status_code == 401, (key, response.text)
        assert response.json()["code"] == "invalid_api_key"
        assert "API key" in response.json()["message"]

    page = post(http, org.key, {"type": "page", "userId": "12345", "name": "Home"})
    assert page.status_code == 501, page.text
    assert page.json()["code"] == "unsupported_type"
    assert "not supported" in page.json()["message"]

    no_email = {"type": "identify", "userId": "12345", "traits": {"plan": "Premium"}}
    response = post(http, org.key, no_email)
    assert response.status_code == 400, response.text
    assert "email" in response.json()["message"]

    for body in (b"{not json", b"", {"userId": "12345"}, {"type": "track", "userId": "u"}):
        response = post(http, org.key, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["message"], (body, response.text)

    assert api.contacts() == []


# --- Webhooks ----------------------------------------------------------------------------

WEBHOOK_BATCH = [
    {
        "type": "identify",
        "userId": "w-1",
        "messageId": "wh-identify",
        "traits": {"email": "lily@example.com", "firstName": "Lily", "plan": "Team"},
    },
    {
        "type": "track",
        "userId": "w-1",
        "messageId": "wh-track",
        "event": "Report Viewed",
        "properties": {"report": "nps"},
    },
]


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_webhooks_array_needs_the_right_signature(
    http: httpx2.Client, org: Org, api: Api, database: Database
) -> None:
    # The secret is set while the server runs; the server sees it within its key cache time.
    with database.write() as conn:
        set_webhook_secret(conn, organization_id=org.id, secret="whsec_s3cr3t")
    time.sleep(KEY_CACHE_SECONDS)
    body = orjson.dumps(WEBHOOK_BATCH)
    segment = {"User-Agent": "Segment.io/1.0"}
    wrong = [
        {},
        {"X-Signature": ""},
        {"X-Signature": "0" * 40},
        {"X-Signature": sign("another secret", body)},
        {"X-Signature": sign("whsec_s3cr3t", body + b" ")},
    ]
    for headers in wrong:
        response = post(http, org.key, body, **segment, **headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["code"] == "invalid_signature"
    # A body changed after signing is refused too.
    tampered = body.replace(b"lily@example.com", b"eve@example.com")
    response = post(
        http, org.key, tampered, **segment, **{"X-Signature": sign("whsec_s3cr3t", body)}
    )
    assert response.status_code == 401
    assert api.contacts() == []
    assert count(database, processed_messages, organization_id=org.id) == 0

    response = post(
        http, org.key, body, **segment, **{"X-Signature": sign("whsec_s3cr3t", body).upper()}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["duplicates"]) == (2, 0)
    contact = api.contact("w-1")
    assert contact["attributes"] == {"plan": "Team"}
    assert [e["message_id"] for e in api.events(contact["id"])["results"]] == ["wh-track"]

    # Segment retries the same request: nothing new.
    response = post(http, org.key, body, **segment, **{"X-Signature": sign("whsec_s3cr3t", body)})
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["duplicates"]) == (0, 2)
    assert api.events(contact["id"])["count"] == 1

    # Cleared again: no signature is needed.
    with database.write() as conn:
        set_webhook_secret(conn, organization_id=org.id, secret=None)
    time.sleep(KEY_CACHE_SECONDS)
    unsigned = [{"type": "track", "userId": "w-1", "messageId": "wh-2", "event": "Report Viewed"}]
    response = post(http, org.key, unsigned)
    assert response.status_code == 200, response.text
    assert api.events(contact["id"])["count"] == 2

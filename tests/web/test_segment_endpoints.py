"""The destination/webhook endpoint and the Tracking API, through the ASGI app."""

from __future__ import annotations

import gzip
import hashlib
import hmac
from typing import Any

import orjson
from fastapi.testclient import TestClient

from promoter.config import Settings
from promoter.orgs.service import create_api_key, revoke_api_key, set_webhook_secret
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.credentials import basic, token
from tests.web.contacts_api import contacts

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


# --- destination -------------------------------------------------------------------------


def test_destination_accepts_the_seed_identify(client: TestClient, org: Org) -> None:
    response = client.post("/segment", json=SEED_IDENTIFY, headers=basic(org.key))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    (contact,) = contacts(client, org)
    assert contact["attributes"] == {"plan": "Premium"}


def test_destination_rejects_bad_keys_with_401(client: TestClient, org: Org) -> None:
    for headers in ({}, basic("pk_wrong"), {"Authorization": "Basic bm9wZQ=="}):
        response = client.post("/segment", json=SEED_IDENTIFY, headers=headers)
        assert response.status_code == 401
        assert "API key" in response.json()["message"]


def test_revoked_key_is_refused(settings: Settings, database: Database, org: Org) -> None:
    from promoter.app import create_app
    from promoter.services import Services

    uncached = Services.build(settings.model_copy(update={"key_cache_seconds": 0}), database)
    with TestClient(create_app(uncached)) as client:
        _check_revocation(client, database, org)


def _check_revocation(client: TestClient, database: Database, org: Org) -> None:
    with database.write() as conn:
        new = create_api_key(conn, organization_id=org.id, name="temp")
    assert client.post("/segment", json=SEED_IDENTIFY, headers=basic(new.key)).status_code == 200
    with database.write() as conn:
        revoke_api_key(conn, organization_id=org.id, key_id=new.id)
    assert client.post("/segment", json=SEED_IDENTIFY, headers=basic(new.key)).status_code == 401
    assert client.post("/segment", json=SEED_IDENTIFY, headers=basic(org.key)).status_code == 200


def test_destination_contract_errors(client: TestClient, org: Org) -> None:
    def post(body: Any) -> Any:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return client.post("/segment", content=content, headers=basic(org.key))

    cases = [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        ({"type": "identify", "traits": {"email": "a@b.co"}}, 400, "userId"),
        ({"type": "identify", "userId": "u"}, 400, "email"),
        ({"type": "identify", "userId": "u", "traits": {"email": "bad"}}, 400, "valid address"),
        ({"type": "page", "userId": "u"}, 501, "not supported"),
        ({"type": "screen", "userId": "u"}, 501, "not supported"),
        ({"type": "group", "userId": "u", "groupId": "g"}, 501, "not supported"),
        ({"type": "alias", "userId": "u", "previousId": "p"}, 501, "not supported"),
        ({"userId": "u"}, 400, "type"),
        (
            {"type": "track", "userId": "u", "event": "E", "properties": {"x": "y" * 40_000}},
            400,
            "32 KB",
        ),
    ]
    for body, status, text in cases:
        response = post(body)
        assert response.status_code == status, (body, response.text)
        assert text in response.json()["message"], (body, response.json())
    assert contacts(client, org) == []


def test_webhook_array_with_signature(client: TestClient, database: Database, org: Org) -> None:
    with database.write() as conn:
        set_webhook_secret(conn, organization_id=org.id, secret="whsec")
    body = orjson.dumps(
        [
            {"type": "identify", "userId": "w1", "traits": {"email": "w1@x.co"}},
            {"type": "track", "userId": "w1", "event": "Clicked"},
            {"type": "page", "userId": "w1"},
        ]
    )
    good = hmac.new(b"whsec", body, hashlib.sha1).hexdigest()
    headers = {**basic(org.key), "Content-Type": "application/json", "User-Agent": "Segment.io/1.0"}
    for signature in (None, "0" * 40, hmac.new(b"other", body, hashlib.sha1).hexdigest()):
        extra = {"X-Signature": signature} if signature else {}
        response = client.post("/segment", content=body, headers={**headers, **extra})
        assert response.status_code == 401
        assert "X-Signature" in response.json()["message"]
    assert contacts(client, org) == []
    response = client.post("/segment", content=body, headers={**headers, "X-Signature": good})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["accepted"] == 2
    assert data["rejected"][0]["index"] == 2  # page is not a destination call
    assert [c["user_id"] for c in contacts(client, org)] == ["w1"]


def test_without_secret_no_signature_is_needed(client: TestClient, org: Org) -> None:
    body = [{"type": "identify", "userId": "w", "traits": {"email": "w@x.co"}}]
    assert client.post("/segment", json=body, headers=basic(org.key)).status_code == 200


def test_completed_order_v1_and_delete_through_destination(client: TestClient, org: Org) -> None:
    h = basic(org.key)
    client.post("/segment", json=SEED_IDENTIFY, headers=h)
    order = {
        "type": "track",
        "userId": "12345",
        "event": "Completed Order",
        "messageId": "order-1",
        "properties": {"orderId": "50314b8e", "revenue": 25, "currency": "USD"},
    }
    assert client.post("/segment", json=order, headers=h).status_code == 200
    assert client.post("/segment", json=order, headers=h).json()["duplicates"] == 1
    (contact,) = contacts(client, org)
    auth = token(org.key)
    orders = client.get(f"/api/v2/contacts/{contact['id']}/orders/", headers=auth).json()
    assert orders["count"] == 1
    assert orders["results"][0]["order_id"] == "50314b8e"
    assert orders["results"][0]["total"] == 25
    erase = {"type": "delete", "userId": "12345", "messageId": "del-1"}
    assert client.post("/segment", json=erase, headers=h).status_code == 200
    assert contacts(client, org) == []
    assert client.get(f"/api/v2/contacts/{contact['id']}/", headers=auth).status_code == 404


# --- Tracking API --------------------------------------------------------------------------


def batch(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"batch": list(messages), **extra}


def test_tracking_batch_with_write_key_in_body(client: TestClient, org: Org) -> None:
    body = batch(
        {"type": "identify", "userId": "t1", "traits": {"email": "t1@x.co", "plan": "Pro"}},
        {"type": "track", "userId": "t1", "event": "Signed Up"},
        {"type": "page", "userId": "t1", "name": "Home"},
        {"type": "identify", "userId": "t2", "traits": {"plan": "Pro"}},
        writeKey=org.key,
        sentAt="2026-03-01T12:00:00Z",
    )
    response = client.post("/v1/batch", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["success"] is True and data["accepted"] == 2
    assert data["rejected"] == [
        {
            "index": 3,
            "status": "rejected",
            "reason": "`traits.email` is required to create a contact",
        }
    ]
    assert [c["user_id"] for c in contacts(client, org)] == ["t1"]


def test_tracking_single_calls_and_basic_auth(client: TestClient, org: Org) -> None:
    h = basic(org.key)
    r = client.post("/v1/identify", json={"userId": "s", "traits": {"email": "s@x.co"}}, headers=h)
    assert r.status_code == 200, r.text
    assert (
        client.post("/v1/track", json={"userId": "s", "event": "E"}, headers=h).json()["accepted"]
        == 1
    )
    for call in ("page", "screen", "group", "alias"):
        r = client.post(f"/v1/{call}", json={"userId": "s"}, headers=h)
        assert r.status_code == 200 and r.json()["accepted"] == 0, r.text
    bearer = {"Authorization": "Bearer whatever"}
    r = client.post(
        "/v1/track", json={"userId": "s", "event": "E", "writeKey": org.key}, headers=bearer
    )
    assert r.status_code == 200


def test_tracking_api_import_and_gzip(client: TestClient, org: Org) -> None:
    body = orjson.dumps(
        batch({"type": "identify", "userId": "g", "traits": {"email": "g@x.co"}}, writeKey=org.key)
    )
    response = client.post(
        "/v1/import",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert [c["user_id"] for c in contacts(client, org)] == ["g"]


def test_tracking_api_limits_and_errors(client: TestClient, org: Org) -> None:
    h = basic(org.key)
    too_many = batch(*[{"type": "track", "userId": "u", "event": "E"}] * 2501)
    assert client.post("/v1/batch", json=too_many, headers=h).status_code == 400
    big = batch(
        *[{"type": "track", "userId": "u", "event": "E", "properties": {"p": "x" * 30_000}}] * 20
    )
    r = client.post("/v1/batch", json=big, headers=h)
    assert r.status_code == 400 and "500 KB" in r.json()["message"]
    one_big = batch(
        {"type": "track", "userId": "u", "event": "E", "properties": {"p": "x" * 33_000}}
    )
    r = client.post("/v1/batch", json=one_big, headers=h)
    assert r.status_code == 400 and "32 KB" in r.json()["message"]
    r = client.post(
        "/v1/track",
        json={"userId": "u", "event": "E", "properties": {"p": "x" * 33_000}},
        headers=h,
    )
    assert r.status_code == 400
    assert client.post("/v1/batch", content=b"[1,2", headers=h).status_code == 400
    assert client.post("/v1/batch", json=[1, 2], headers=h).status_code == 400
    assert client.post("/v1/batch", json={"batch": "x"}, headers=h).status_code == 400
    assert client.post("/v1/batch", json=batch(context="x"), headers=h).status_code == 400
    r = client.post("/v1/batch", json=batch(writeKey="pk_nope"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    assert client.post("/v1/batch", json=batch()).status_code == 401
    assert client.get("/v1/batch").status_code == 405
    assert contacts(client, org) == []


def test_batch_context_and_integrations_merge(client: TestClient, org: Org) -> None:
    body = batch(
        {"type": "identify", "userId": "m", "traits": {"email": "m@x.co"}},
        {
            "type": "identify",
            "userId": "off",
            "traits": {"email": "off@x.co"},
            "integrations": {"Promoter": False},
        },
        context={"timezone": "Europe/Berlin"},
        integrations={"All": True},
    )
    r = client.post("/v1/batch", json=body, headers=basic(org.key))
    assert r.status_code == 200
    (contact,) = contacts(client, org)
    assert contact["user_id"] == "m" and contact["timezone"] == "Europe/Berlin"


def test_replayed_batch_has_one_set_of_effects(client: TestClient, org: Org) -> None:
    body = batch(
        {"type": "identify", "userId": "r", "messageId": "r-1", "traits": {"email": "r@x.co"}},
        {"type": "track", "userId": "r", "messageId": "r-2", "event": "E"},
    )
    for attempt in range(3):
        data = client.post("/v1/batch", json=body, headers=basic(org.key)).json()
        assert data["accepted"] == (2 if attempt == 0 else 0)
    (contact,) = contacts(client, org)
    events = client.get(f"/api/v2/contacts/{contact['id']}/events/", headers=token(org.key)).json()
    assert events["count"] == 1


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_hostile_content_gets_clear_answers(client: TestClient, org: Org) -> None:
    h = {**basic(org.key), "Content-Type": "application/json"}
    nested = b'{"type":"track","userId":"u","event":"E","properties":' + b'{"a":' * 300
    nested += b"1" + b"}" * 301
    for path in ("/segment", "/v1/track", "/v1/batch"):
        body = nested if path != "/v1/batch" else b'{"batch":[' + nested + b"]}"
        r = client.post(path, content=body, headers=h)
        assert r.status_code == 400 and "nested too deeply" in r.json()["message"], r.text
    with_nul = (
        b'{"type":"identify","userId":"n\\u0000ul","traits":{"email":"nul@x.co",'
        b'"plan\\u0000":"Pro\\u0000"}}'
    )
    r = client.post("/segment", content=with_nul, headers=h)
    assert r.status_code == 200, r.text
    (contact,) = contacts(client, org)
    assert contact["user_id"] == "nul" and contact["attributes"] == {"plan": "Pro"}
    r = client.post("/segment", content=b"\xff\xfe{}", headers=h)
    assert r.status_code == 400
    r = client.post("/segment", content=b'{"a": 1e400}', headers=h)
    assert r.status_code == 400
    many = {f"p{i}": i for i in range(2000)}
    r = client.post(
        "/v1/track", json={"userId": "nul", "event": "Wide", "properties": many}, headers=h
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_unreachable_database_answers_503_with_retry_after(settings) -> None:  # type: ignore[no-untyped-def]
    from promoter.app import create_app
    from promoter.services import Services

    down = Services.build(
        settings, Database.from_url("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    )
    with TestClient(create_app(down)) as client:
        r = client.post("/segment", json=SEED_IDENTIFY, headers=basic("pk_" + "x" * 32))
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        r = client.post("/v1/batch", json=batch(writeKey="pk_" + "x" * 32))
        assert r.status_code == 503
        r = client.get("/api/v2/contacts/", headers={"Authorization": "Token pk_" + "x" * 32})
        assert r.status_code == 503 and "unavailable" in r.json()["detail"]
        assert client.get("/health").status_code == 503

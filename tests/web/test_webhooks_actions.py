"""Requests shaped as Segment's Webhooks (Actions) destination sends them to ``/segment``.

Its "Send" action posts the mapped ``data`` (by default ``$.``, the whole event) as JSON
with the headers of the mapping; with batching on, a JSON array of the events. With a
shared secret, ``X-Signature`` is the hex HMAC-SHA1 of ``JSON.stringify(data)``: the body
for one event, the first event only for a batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promoter.orgs.service import set_webhook_secret
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.credentials import basic
from tests.segment_events import segment_event
from tests.web.contacts_api import contacts

SECRET = "webhooks-actions-secret"


def stringify(value: Any) -> bytes:
    """JSON.stringify: no spaces, non-ASCII as it is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sign(data: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha1).hexdigest()


IDENTIFY = segment_event(
    "identify",
    "wa-1",
    "wa-m1",
    traits={"email": "zoé@example.com", "name": "Zoé Martin", "plan": "Pro"},
)
TRACK = segment_event("track", "wa-1", "wa-m2", event="Signed Up", properties={"plan": "Pro"})
ORDER = segment_event(
    "track",
    "wa-1",
    "wa-m3",
    event="Order Completed",
    properties={"order_id": "o-9", "total": 12.5, "currency": "EUR"},
)


def headers(org: Org, signature: str | None) -> dict[str, str]:
    """The mapping's headers (Authorization set there) and what the destination adds."""
    sent = {**basic(org.key), "Content-Type": "application/json", "User-Agent": "Segment (Actions)"}
    return {**sent, "X-Signature": signature} if signature else sent


@pytest.fixture
def secret(database: Database, org: Org) -> str:
    with database.write() as conn:
        set_webhook_secret(conn, organization_id=org.id, secret=SECRET)
    return SECRET


def test_one_event_signed_as_the_destination_signs_it(
    client: TestClient, org: Org, other_org: Org, secret: str
) -> None:
    for event in (IDENTIFY, TRACK):
        body = stringify(event)
        response = client.post("/segment", content=body, headers=headers(org, sign(body)))
        assert response.status_code == 200, response.text
    (contact,) = contacts(client, org)
    assert (contact["email"], contact["first_name"], contact["last_name"]) == (
        "zoé@example.com",
        "Zoé",
        "Martin",
    )
    assert contact["attributes"] == {"plan": "Pro"}
    assert contacts(client, other_org) == []


def test_a_batch_signed_with_its_first_event_is_applied(
    client: TestClient, org: Org, secret: str
) -> None:
    batch = [IDENTIFY, TRACK, ORDER]
    body = stringify(batch)
    response = client.post(
        "/segment", content=body, headers=headers(org, sign(stringify(IDENTIFY)))
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    (contact,) = contacts(client, org)
    events = client.get(
        f"/api/v2/contacts/{contact['id']}/events/", headers={"Authorization": f"Token {org.key}"}
    ).json()
    assert {e["event"] for e in events["results"]} == {"Signed Up", "Order Completed"}
    # Segment retries a batch that timed out: every message is applied once.
    again = client.post("/segment", content=body, headers=headers(org, sign(stringify(IDENTIFY))))
    assert again.json()["duplicates"] == 3


@pytest.mark.parametrize(
    "signature_of",
    [
        "nothing",
        "another-event",
        "second-event",
        "other-secret",
    ],
)
def test_wrong_signatures_are_refused(
    client: TestClient, org: Org, secret: str, signature_of: str
) -> None:
    body = stringify([IDENTIFY, TRACK])
    signature = {
        "nothing": None,
        "another-event": sign(stringify(ORDER)),
        "second-event": sign(stringify(TRACK)),
        "other-secret": sign(stringify(IDENTIFY), "not-the-secret"),
    }[signature_of]
    response = client.post("/segment", content=body, headers=headers(org, signature))
    assert response.status_code == 401
    assert "X-Signature" in response.json()["message"]
    assert contacts(client, org) == []


def test_a_single_event_is_not_accepted_with_a_signature_of_part_of_it(
    client: TestClient, org: Org, secret: str
) -> None:
    body = stringify(IDENTIFY)
    signature = sign(stringify(IDENTIFY["traits"]))
    response = client.post("/segment", content=body, headers=headers(org, signature))
    assert response.status_code == 401

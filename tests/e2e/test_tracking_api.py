"""The HTTP Tracking API through the real server: gzip bodies and the 500 KB limit."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import func, select

from promoter.storage.engine import Database
from promoter.storage.tables import contacts, events
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

LIMIT = 500 * 1024


def batch_body(messages: list[dict[str, Any]], **extra: Any) -> bytes:
    return orjson.dumps({"batch": messages, **extra})


def padded_tracks(total_bytes: int, user_id: str = "big") -> list[dict[str, Any]]:
    """Track messages of about 30 KB each (under the 32 KB a message) filling total_bytes."""
    count = total_bytes // 30_000 + 1
    return [
        {
            "type": "track",
            "userId": user_id,
            "event": "Padded",
            "messageId": f"pad-{i}",
            "properties": {"pad": "x" * (total_bytes // count - 200)},
        }
        for i in range(count)
    ]


def post_batch(http: httpx2.Client, org: Org, content: Any, **headers: str) -> httpx2.Response:
    return http.post(
        "/v1/batch",
        content=content,
        headers={"Content-Type": "application/json", **basic(org.key), **headers},
    )


def test_gzip_batch(http: httpx2.Client, org: Org, api: Api) -> None:
    body = batch_body(
        [
            {"type": "identify", "userId": "g-1", "traits": {"email": "g1@example.com"}},
            {"type": "track", "userId": "g-1", "event": "Signed Up", "messageId": "g-1-signup"},
        ],
        sentAt="2026-03-01T12:00:00Z",
    )
    response = post_batch(http, org, gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    contact = api.contact("g-1")
    assert [e["message_id"] for e in api.events(contact["id"])["results"]] == ["g-1-signup"]

    # writeKey in the body instead of Basic auth, on /v1/import.
    body = batch_body(
        [{"type": "identify", "userId": "g-2", "traits": {"email": "g2@example.com"}}],
        writeKey=org.key,
    )
    response = http.post(
        "/v1/import",
        content=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    api.contact("g-2")

    # Not gzip at all, or cut short.
    for content in (body, gzip.compress(body)[:-8]):
        response = post_batch(http, org, content, **{"Content-Encoding": "gzip"})
        assert response.status_code == 400, response.text
        assert "gzip" in response.json()["message"]


def test_batch_under_the_limit_is_accepted(http: httpx2.Client, org: Org) -> None:
    body = batch_body(padded_tracks(LIMIT - 20_000))
    assert LIMIT - 25_000 < len(body) < LIMIT
    response = post_batch(http, org, body)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(orjson.loads(body)["batch"])


def test_batch_over_500_kb_is_refused(http: httpx2.Client, org: Org, api: Api) -> None:
    body = batch_body(padded_tracks(LIMIT + 10_000))
    assert LIMIT < len(body) < LIMIT + 20_000
    response = post_batch(http, org, body)
    assert response.status_code == 400, response.text
    assert "500 KB" in response.json()["message"]

    # The limit applies to the inflated body: a small gzip of a big body is refused too.
    squeezed = gzip.compress(body)
    assert len(squeezed) < 10_000
    response = post_batch(http, org, squeezed, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400, response.text
    assert "500 KB" in response.json()["message"]

    # And to a body sent in chunks, without Content-Length.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    response = post_batch(http, org, chunks())
    assert response.status_code == 400, response.text
    assert "500 KB" in response.json()["message"]

    assert api.contacts() == []
    padded = {"type": "identify", "userId": "big", "traits": {"email": "big@example.com"}}
    assert post_batch(http, org, batch_body([padded])).status_code == 200
    assert api.events(api.contact("big")["id"])["count"] == 0


def test_full_batch_of_2500_messages_over_many_users(
    http: httpx2.Client, org: Org, database: Database
) -> None:
    users = 700  # more than one chunk of the ingestor's IN (...) queries
    messages: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": f"u{u}",
            "messageId": f"i{u}",
            "traits": {"email": f"u{u}@x.co", "n": u},
        }
        for u in range(users)
    ]
    messages += [
        {"type": "track", "userId": f"u{m % users}", "event": "E", "messageId": f"t{m}"}
        for m in range(2500 - users)
    ]
    body = batch_body(messages)
    assert len(body) < LIMIT
    response = post_batch(http, org, body)
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["duplicates"]) == (2500, 0)
    with database.read() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(contacts)
                .where(contacts.c.organization_id == org.id)
            ).scalar_one()
            == users
        )
        assert (
            conn.execute(
                select(func.count())
                .select_from(events)
                .where(events.c.organization_id == org.id, events.c.contact_id.is_not(None))
            ).scalar_one()
            == 2500 - users
        )
    again = post_batch(http, org, body)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2500)

    too_many = batch_body([{"type": "track", "userId": "u0", "event": "E"}] * 2501)
    response = post_batch(http, org, too_many)
    assert response.status_code == 400, response.text
    assert "2500" in response.json()["message"]


def test_nul_characters_are_stored_without_them(http: httpx2.Client, org: Org, api: Api) -> None:
    body = batch_body(
        [
            {
                "type": "identify",
                "userId": "nul\u0000user",
                "traits": {
                    "email": "nul@example.com",
                    "firstName": "N\u0000ed",
                    "pla\u0000n": "P\u0000ro",
                },
            },
            {
                "type": "track",
                "userId": "nul\u0000user",
                "event": "Sig\u0000ned Up",
                "messageId": "nul-1",
                "properties": {"k\u0000": ["a\u0000", {"b": "c\u0000"}]},
            },
        ]
    )
    assert b"\\u0000" in body
    response = post_batch(http, org, body)
    assert response.status_code == 200, response.text
    contact = api.contact("nuluser")
    assert (contact["first_name"], contact["attributes"]) == ("Ned", {"plan": "Pro"})
    (event,) = api.events(contact["id"])["results"]
    assert (event["event"], event["properties"]) == ("Signed Up", {"k": ["a", {"b": "c"}]})

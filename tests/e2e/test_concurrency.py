"""Concurrent requests to the real server, as Segment sends them (many at once)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import func, select

from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    deliveries,
    events,
    orders,
    surveys,
)
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import HTTP_TIMEOUT, Api, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

WORKERS = 8


def run_together(calls: list[Callable[[], httpx2.Response]]) -> list[httpx2.Response]:
    """Run the calls from WORKERS threads, each group of WORKERS released at once."""
    barrier = threading.Barrier(min(WORKERS, len(calls)))
    assert len(calls) % barrier.parties == 0

    def call(fn: Callable[[], httpx2.Response]) -> httpx2.Response:
        barrier.wait(HTTP_TIMEOUT)
        return fn()

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(call, calls))


def poster(client: httpx2.Client, path: str, body: Any) -> Callable[[], httpx2.Response]:
    content = orjson.dumps(body)
    return lambda: client.post(path, content=content)


@pytest.fixture
def segment_client(server: ServerProcess, org: Org) -> Iterator[httpx2.Client]:
    headers = {"Content-Type": "application/json", **basic(org.key)}
    limits = httpx2.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
    with httpx2.Client(
        base_url=server.url, timeout=HTTP_TIMEOUT, headers=headers, limits=limits
    ) as client:
        yield client


def test_concurrent_replays_of_a_batch_apply_once(
    segment_client: httpx2.Client, org: Org, database: Database
) -> None:
    calls = []
    for b in range(4):
        messages = [
            {
                "type": "identify",
                "userId": f"c-{b}",
                "messageId": f"c{b}-0",
                "traits": {"email": f"c{b}@example.com"},
            }
        ] + [
            {"type": "track", "userId": f"c-{b}", "event": "Tick", "messageId": f"c{b}-{m}"}
            for m in range(1, 20)
        ]
        calls += [poster(segment_client, "/v1/batch", {"batch": messages})] * WORKERS
    responses = run_together(calls)
    for b in range(4):
        answers = responses[b * WORKERS : (b + 1) * WORKERS]
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        assert sum(r.json()["accepted"] for r in answers) == 20, [r.json() for r in answers]
        assert sum(r.json()["duplicates"] for r in answers) == 20 * (WORKERS - 1)
    with database.read() as conn:
        rows = conn.execute(
            select(events.c.message_id, func.count())
            .where(events.c.organization_id == org.id)
            .group_by(events.c.message_id)
        ).all()
        linked = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.organization_id == org.id, events.c.contact_id.is_not(None))
        ).scalar_one()
    assert len(rows) == 4 * 19 and all(n == 1 for _, n in rows)
    assert linked == 4 * 19


def test_identify_and_track_arriving_together_end_up_linked(
    segment_client: httpx2.Client, org: Org, api: Api, database: Database
) -> None:
    """The destination sends one message a request, concurrently: a user's identify and
    first track often arrive at the same moment. Whatever the interleaving, the track
    ends up on the contact (as it does when the track comes first or second)."""
    users = 48
    calls = []
    for u in range(users):
        identify = {
            "type": "identify",
            "userId": f"pair-{u}",
            "messageId": f"pair-{u}-identify",
            "traits": {"email": f"pair{u}@example.com"},
        }
        track = {
            "type": "track",
            "userId": f"pair-{u}",
            "messageId": f"pair-{u}-signed-up",
            "event": "Signed Up",
        }
        calls += [
            poster(segment_client, "/segment", identify),
            poster(segment_client, "/segment", track),
        ]
    responses = run_together(calls)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]

    with database.read() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(contacts)
                .where(contacts.c.organization_id == org.id)
            ).scalar_one()
            == users
        )
        orphans = conn.execute(
            select(events.c.user_id, events.c.flag)
            .where(events.c.organization_id == org.id, events.c.contact_id.is_(None))
            .order_by(events.c.user_id)
        ).all()
    assert orphans == [], f"{len(orphans)} of {users} tracks are not on their contact: {orphans}"
    for u in (0, users - 1):
        contact = api.contact(f"pair-{u}")
        assert [e["message_id"] for e in api.events(contact["id"])["results"]] == [
            f"pair-{u}-signed-up"
        ]


def test_a_batch_sent_three_times_at_once_has_one_set_of_effects(
    segment_client: httpx2.Client, org: Org, database: Database
) -> None:
    """Contacts, attributes, events, orders, surveys and deliveries: each made once."""
    batch: list[dict[str, Any]] = []
    for n in range(10):
        user = f"r-{n}"
        traits = {"email": f"{user}@example.com", "plan": "Pro", "seats": n}
        batch += [
            {"type": "identify", "userId": user, "messageId": f"{user}-i", "traits": traits},
            {"type": "track", "userId": user, "event": "Signed Up", "messageId": f"{user}-s"},
            {
                "type": "track",
                "userId": user,
                "event": "Order Completed",
                "messageId": f"{user}-o",
                "properties": {"order_id": f"o-{n}", "total": 10 + n, "currency": "EUR"},
            },
        ]
    copies = 3
    calls = [poster(segment_client, "/v1/batch", {"batch": batch})] * copies
    answers = run_together(calls)
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(a.json()["accepted"] for a in answers) == len(batch)
    assert sum(a.json()["duplicates"] for a in answers) == len(batch) * (copies - 1)

    def rows_of(table: Any) -> int:
        with database.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.organization_id == org.id)
                ).scalar_one()
            )

    effects = {t.name: rows_of(t) for t in (contacts, contact_attributes, events, orders)}
    effects |= {t.name: rows_of(t) for t in (surveys, deliveries)}
    assert effects == {
        "contacts": 10,
        "contact_attributes": 20,
        "events": 20,
        "orders": 10,
        "surveys": 10,
        "deliveries": 10,
    }

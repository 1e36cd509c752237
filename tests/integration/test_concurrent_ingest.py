"""Ingestion from many threads and two processes' handles at once (both databases): every
message applied once, contacts linked, one survey per contact."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.results import MessageResult
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, events, processed_messages, surveys
from promoter.surveys.trigger import SurveyTrigger
from tests.conftest import Org

USERS = [f"u{i}" for i in range(6)]


@pytest.fixture
def other_process(database_url: str) -> Iterator[Database]:
    """A second handle on the test's database, as another server process has."""
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        db.dispose()


def send(database: Database, org: Org, messages: list[dict[str, Any]]) -> list[MessageResult]:
    return ingest_messages(
        database=database,
        ingestor=Ingestor([SurveyTrigger()]),
        organization_id=org.id,
        messages=messages,
        # Now: the survey trigger only acts on recent events.
        envelope=Envelope(received_at=datetime.now(UTC)),
        allowed=TRACKING_API_TYPES,
    )


def all_at_once(calls: list[Callable[[], list[MessageResult]]]) -> list[list[MessageResult]]:
    start = threading.Barrier(len(calls))

    def call(fn: Callable[[], list[MessageResult]]) -> list[MessageResult]:
        start.wait(timeout=10)
        return fn()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call, fn) for fn in calls]
    return [future.result() for future in futures]


def count(database: Database, table: Any, *where: Any) -> int:
    with database.read() as conn:
        query = select(func.count()).select_from(table).where(*where)
        return int(conn.execute(query).scalar_one())


def request(rng: random.Random, number: int) -> list[dict[str, Any]]:
    """Identifies then tracks of the same users, in an order of its own."""
    users = rng.sample(USERS, 4)
    messages: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": user,
            "messageId": f"r{number}-i-{user}",
            "traits": {"email": f"{user}@x.co", "plan": f"p{number}"},
        }
        for user in users
    ]
    rng.shuffle(users)
    messages += [
        {"type": "track", "userId": user, "event": "Logged In", "messageId": f"r{number}-t-{user}"}
        for user in users
    ]
    return messages


def test_requests_on_the_same_contacts_from_two_processes_all_apply_once(
    database: Database, other_process: Database, org: Org
) -> None:
    rng = random.Random(20)
    batches = [request(rng, n) for n in range(16)]
    handles = [database, other_process]
    out = all_at_once(
        [lambda n=n: send(handles[n % 2], org, batches[n]) for n in range(len(batches))]  # type: ignore[misc]
    )
    assert {r.status for results in out for r in results} == {"accepted"}
    tracks = sum(m["type"] == "track" for b in batches for m in b)
    assert count(database, processed_messages) == sum(len(b) for b in batches)
    assert count(database, contacts) == len(USERS)
    assert count(database, events) == tracks
    assert count(database, events, events.c.contact_id.is_(None)) == 0
    # The default Segment campaign surveys each contact once, whoever's transaction won.
    assert count(database, surveys) == count(database, deliveries) == len(USERS)
    with database.read() as conn:
        per_contact = Counter(conn.execute(select(surveys.c.contact_id)).scalars())
    assert set(per_contact.values()) == {1}


def test_a_batch_replayed_concurrently_is_stored_once(
    database: Database, other_process: Database, org: Org
) -> None:
    batch = request(random.Random(7), 1)
    handles = [database, other_process]
    out = all_at_once([lambda n=n: send(handles[n % 2], org, batch) for n in range(8)])  # type: ignore[misc]
    statuses = Counter((r.message_id, r.status) for results in out for r in results)
    for message in batch:
        assert statuses[(message["messageId"], "accepted")] == 1
        assert statuses[(message["messageId"], "duplicate")] == 7
    assert count(database, processed_messages) == len(batch)
    assert count(database, events) == sum(m["type"] == "track" for m in batch)
    assert count(database, contacts) == 4

"""The in-memory columns follow every write: new answers, changed answers, comments, status
and tags, attributes changing, erasures, and answers committed out of time order."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.domain.messages import Envelope
from promoter.feedback.followup import add_tags, remove_tags, set_status
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import responses, surveys
from promoter.surveys.responses import find_survey, record_comment, record_score
from tests.analytics.dataset import NOW, build
from tests.analytics.writes import answer, identify, record
from tests.conftest import Org

QUESTIONS: list[dict[str, Any]] = [
    {},
    {"where": {"attribute": "plan", "value": "Premium"}},
    {"where": {"attribute": "plan", "value": "Premium"}, "attributes": "current"},
    {"where": {"attribute": "vip", "value": True}},
    {"has_comment": True},
    {"statuses": ("CLOSED",)},
    {"tags": ("urgent",)},
    {"count": "latest"},
    {"score_types": ("promoter",)},
    {"where": {"event": "Order Completed", "min_count": 2}},
    {
        "where": {
            "event": "Order Completed",
            "where": [{"property": "total", "op": "gt", "value": 100}],
        }
    },
    {"where": {"not": {"event": "Viewed Page", "within_days": 30}}},
]


def answers(database: Database, analytics: Analytics, org: Org) -> list[list[int]]:
    result = []
    with database.read() as conn:
        for question in QUESTIONS:
            options = dict(question)
            if "where" in options:
                options["where"] = parse_filter(options["where"])
            query = NpsQuery(
                organization_id=org.id,
                since=NOW - timedelta(days=400),
                until=NOW + timedelta(days=400),
                **options,
            )
            result.append(analytics.nps(conn, scope(conn, query, now=NOW)).distribution)
    return result


def track(database: Database, org: Org, user_id: str, event: str, **properties: Any) -> None:
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org.id,
        messages=[
            {
                "type": "track",
                "userId": user_id,
                "event": event,
                "properties": properties,
                "timestamp": (NOW - timedelta(days=1)).isoformat(),
            }
        ],
        envelope=Envelope(received_at=NOW - timedelta(hours=1)),
        allowed=TRACKING_API_TYPES,
    )
    assert results[0].status == "accepted"


def stamp(database: Database, response_id: int, moment: Any) -> None:
    with database.write() as conn:
        conn.execute(
            update(responses).where(responses.c.id == response_id).values(updated_at=moment)
        )


def test_columns_follow_every_write(database: Database, org: Org) -> None:
    build(database, org.id, random.Random(5), contacts_count=10, responses_count=30)
    cached = Analytics(AnalyticsCache(database, background=False))
    direct = Analytics(None)

    def agree() -> list[list[int]]:
        expected = answers(database, direct, org)
        assert answers(database, cached, org) == expected
        return expected

    before = agree()
    # New events are read from the database (after the settled prefix), then settle into
    # the columns when the horizon moves.
    track(database, org, "user-1", "Order Completed", total=150)
    track(database, org, "user-1", "Order Completed", total=250)
    track(database, org, "user-2", "Viewed Page")
    assert agree() != before
    cache = cached.cache
    assert cache is not None
    with database.read() as conn, cache.columns(conn, org.id) as columns:
        assert columns is not None
        horizon = columns.events.horizon
        columns.events.refresh(conn, force=True)
        assert columns.events.horizon > horizon
    before = agree()
    # A new answer, after a new attribute appeared.
    identify(database, org, "user-1", plan="Premium", vip=True)
    response_id = answer(database, org, "user-1", 10, NOW)
    assert agree() != before
    # The answer changes (a new snapshot), then gets a comment, a status and tags.
    identify(database, org, "user-1", plan="Free", vip=False)
    with database.write() as conn:
        token = conn.execute(
            select(surveys.c.token)
            .join(responses, responses.c.survey_id == surveys.c.id)
            .where(responses.c.id == response_id)
        ).scalar_one()
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=2, now=NOW + timedelta(seconds=1))
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_comment(conn, survey, comment="Changed my mind", now=NOW + timedelta(seconds=2))
        set_status(
            conn,
            organization_id=org.id,
            response_id=response_id,
            status="CLOSED",
            now=NOW + timedelta(seconds=3),
        )
        add_tags(
            conn,
            organization_id=org.id,
            response_id=response_id,
            tags=["urgent", "billing"],
            now=NOW + timedelta(seconds=4),
        )
    agree()
    with database.write() as conn:
        remove_tags(
            conn,
            organization_id=org.id,
            response_id=response_id,
            tags=["urgent"],
            now=NOW + timedelta(seconds=5),
        )
    agree()
    # Current attributes change with every identify: read from the database each time.
    identify(database, org, "user-2", plan="Premium")
    agree()
    # An answer older than answers already loaded (it lands in the middle), written now.
    late = answer(database, org, "user-3", 9, NOW - timedelta(days=3))
    stamp(database, late, NOW + timedelta(seconds=10))
    agree()
    # A write stamped a minute before the newest one seen (its transaction committed late).
    late = answer(database, org, "user-4", 0, NOW - timedelta(days=2))
    stamp(database, late, NOW + timedelta(seconds=10) - timedelta(minutes=1))
    agree()
    # Erasing a contact deletes its answers: the columns are loaded again.
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org.id,
        messages=[{"type": "delete", "userId": "user-1"}],
        envelope=Envelope(received_at=NOW),
        allowed=TRACKING_API_TYPES,
    )
    assert results[0].status == "accepted"
    agree()


def test_background_loading_answers_by_sql_meanwhile(database: Database, org: Org) -> None:
    build(database, org.id, random.Random(6), contacts_count=8, responses_count=20)
    cache = AnalyticsCache(database, background=True)
    with database.read() as conn, cache.columns(conn, org.id) as columns:
        assert columns is None  # loading started; the caller uses SQL
    deadline = time.monotonic() + 30
    loaded = None
    while loaded is None and time.monotonic() < deadline:
        time.sleep(0.05)
        with database.read() as conn, cache.columns(conn, org.id) as columns:
            loaded = None if columns is None else columns.size
    assert loaded == 20
    assert answers(database, Analytics(cache), org) == answers(database, Analytics(None), org)


def test_columns_follow_changed_answers(database: Database, org: Org) -> None:
    dataset = build(database, org.id, random.Random(7), contacts_count=8, responses_count=20)
    first = dataset.campaign_ids[0]
    cached = Analytics(AnalyticsCache(database, background=False))
    direct = Analytics(None)
    filters = [
        {"answer": "q1", "campaign": first, "op": "eq", "value": "Speed"},
        {"answer": "q3", "campaign": first, "op": "gte", "value": 5},
        {"answer": "q2", "campaign": first, "op": "missing"},
    ]

    def agree() -> list[list[int]]:
        result = []
        with database.read() as conn:
            for flt in filters:
                query = NpsQuery(
                    organization_id=org.id,
                    where=parse_filter(flt),
                    since=NOW - timedelta(days=400),
                    until=NOW + timedelta(days=400),
                )
                expected = direct.nps(conn, scope(conn, query, now=NOW)).distribution
                assert cached.nps(conn, scope(conn, query, now=NOW)).distribution == expected
                result.append(expected)
        return result

    before = agree()
    with database.read() as conn:
        response_id = conn.execute(
            select(responses.c.id).where(responses.c.campaign_id == first).limit(1)
        ).scalar_one()
    record(database, org, first, response_id, NOW + timedelta(seconds=1), q1=["Speed"], q3=["5"])
    after = agree()
    assert after != before

"""The overview's delivery counts with a filter, by SQL and with the answered surveys decided
by the in-memory columns, against brute force, on both databases: surveys answered when
sent and later, not answered, refused, to contacts unsubscribed since, and a survey whose
row changed after its answer without its response."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Row, select, update

from promoter.analytics import column_delivery
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import Expr, parse_filter
from promoter.analytics.query import NpsQuery, Scope, scope
from promoter.analytics.report import DeliveryStats
from promoter.domain.channels import CHANNELS
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, responses, surveys
from promoter.surveys.responses import find_survey, record_score
from tests.analytics import reference
from tests.analytics.dataset import NOW, build, send_survey
from tests.analytics.test_against_reference import ANSWER_CATALOGUE, CATALOGUE, _resolved
from tests.conftest import Org


@dataclass
class World:
    loaded: reference.World
    campaign_ids: list[int]


def _add_surveys(database: Database, organization_id: int, rng: random.Random) -> None:
    """Surveys not answered, answered days after they were sent, refused before sending;
    contacts unsubscribed and bounced since."""
    with database.write() as conn:
        people = list(
            conn.execute(
                select(contacts.c.id).where(contacts.c.organization_id == organization_id)
            ).scalars()
        )
        campaign_ids = sorted(
            set(
                conn.execute(
                    select(surveys.c.campaign_id).where(
                        surveys.c.organization_id == organization_id
                    )
                ).scalars()
            )
        )
        for i in range(40):
            at = NOW - timedelta(days=rng.uniform(0, 110))
            token = send_survey(
                conn,
                organization_id,
                rng.choice(people),
                rng.choice(campaign_ids),
                at,
                channel=rng.choice(CHANNELS),
            )
            if i % 3 == 0:  # answered later: sent in one window, answered in another
                survey = find_survey(conn, token=token)
                assert survey is not None
                later = min(at + timedelta(days=rng.uniform(1, 40)), NOW)
                record_score(conn, survey, score=rng.randint(0, 10), now=later)
            elif i % 7 == 1:  # refused before it was sent
                conn.execute(
                    update(surveys)
                    .where(surveys.c.token == token)
                    .values(status="failed", sent_at=None)
                )
        for status, chosen in (("unsubscribed", people[:3]), ("bounced", people[3:6])):
            conn.execute(update(contacts).where(contacts.c.id.in_(chosen)).values(status=status))


@pytest.fixture
def world(database: Database, org: Org) -> World:
    dataset = build(database, org.id, random.Random(20261207))
    _add_surveys(database, org.id, random.Random(20261208))
    with database.read() as conn:
        return World(reference.load(conn, org.id), dataset.campaign_ids)


def expected(database: Database, world: World, query: NpsQuery) -> DeliveryStats:
    """The delivery counts by their definition, one survey at a time."""
    assert query.where is not None
    span = reference.window(world.loaded, query)
    rows = {row.id: row for row in world.loaded.rows}
    with database.read() as conn:
        answer_of = {
            sid: rid for sid, rid in conn.execute(select(responses.c.survey_id, responses.c.id))
        }
        status_of = {cid: st for cid, st in conn.execute(select(contacts.c.id, contacts.c.status))}
        found = conn.execute(
            select(surveys).where(surveys.c.organization_id == query.organization_id)
        ).all()
    counts = {"sent": 0, "bounced": 0, "unsubscribed": 0, "responded": 0}
    for s in found:
        if query.campaign_ids and s.campaign_id not in query.campaign_ids:
            continue
        sent = s.sent_at is not None and span.since <= s.sent_at < span.until
        refused = (
            s.sent_at is None
            and s.status == "failed"
            and status_of[s.contact_id] == "bounced"
            and span.since <= s.scheduled_at < span.until
        )
        if not (sent or refused) or not _matches(world, query, query.where, s, rows, answer_of):
            continue
        counts["bounced"] += refused
        counts["sent"] += sent
        counts["responded"] += sent and s.status == "answered"
        counts["unsubscribed"] += sent and status_of[s.contact_id] == "unsubscribed"
    return DeliveryStats(**counts)


def _matches(
    world: World,
    query: NpsQuery,
    where: Expr,
    s: Row[Any],
    rows: dict[int, reference.Row],
    answer_of: dict[int, int],
) -> bool:
    """An answered survey on its response; another on its contact as it is now."""
    answer = answer_of.get(s.id)
    if s.status == "answered":
        return answer is not None and reference.evaluate(
            world.loaded, query, where, rows[answer], NOW
        )
    unanswered = reference.Row(
        id=-1,
        contact_id=s.contact_id,
        campaign_id=s.campaign_id,
        score=0,
        comment=None,
        status="OPEN",
        created_at=NOW,
        snapshot={},
        channel=s.channel,
    )
    current = replace(query, attributes="current")
    return reference.evaluate(world.loaded, current, where, unanswered, NOW)


def _questions(org: Org, world: World) -> list[NpsQuery]:
    windows = [
        (NOW - timedelta(days=200), NOW + timedelta(days=1)),
        (NOW - timedelta(days=45, hours=7), NOW - timedelta(days=12)),
    ]
    found = []
    for i, flt in enumerate(CATALOGUE + ANSWER_CATALOGUE):
        since, until = windows[i % 2]
        found.append(
            NpsQuery(
                organization_id=org.id,
                where=parse_filter(_resolved(flt, world.campaign_ids)),
                attributes="current" if i % 3 == 2 else "snapshot",
                since=since,
                until=until,
                campaign_ids=tuple(world.campaign_ids[:1]) if i % 4 == 3 else (),
            )
        )
    return found


def _by_columns(
    database: Database, analytics: Analytics, query: NpsQuery
) -> tuple[DeliveryStats, int | None]:
    """The delivery counts, and how many of the answered surveys the columns find matching
    (None: they cannot tell)."""
    assert analytics.cache is not None
    with database.read() as conn:
        s = scope(conn, query, now=NOW)
        stats = analytics.delivery(conn, s)
        with analytics.cache.columns(conn, query.organization_id) as columns:
            assert columns is not None
            return stats, column_delivery.answered_matching(conn, s, columns, _answered(conn, s))


def _answered(conn: Connection, s: Scope) -> int:
    """How many surveys sent in the window (of its campaigns) are answered."""
    window, campaign_ids = s.window, s.query.campaign_ids
    return sum(
        1
        for survey in conn.execute(select(surveys)).all()
        if survey.status == "answered"
        and survey.sent_at is not None
        and window.since <= survey.sent_at < window.until
        and (not campaign_ids or survey.campaign_id in campaign_ids)
    )


def _asked_once(
    database: Database, org: Org, world: World, flt: dict[str, Any]
) -> tuple[Analytics, NpsQuery]:
    """Columns that answered the filter over all the data once (and right), and the
    question."""
    by_columns = Analytics(AnalyticsCache(database, background=False))
    query = NpsQuery(
        organization_id=org.id,
        where=parse_filter(flt),
        since=NOW - timedelta(days=200),
        until=NOW + timedelta(days=1),
    )
    want = expected(database, world, query)
    assert _by_columns(database, by_columns, query) == (want, want.responded)
    return by_columns, query


def test_filtered_delivery_counts_agree_with_brute_force_by_sql_and_by_columns(
    database: Database, org: Org, world: World
) -> None:
    by_sql = Analytics(None)
    by_columns = Analytics(AnalyticsCache(database, background=False))
    partial = refused = 0
    questions = _questions(org, world)
    for query in questions:
        want = expected(database, world, query)
        with database.read() as conn:
            assert by_sql.delivery(conn, scope(conn, query, now=NOW)) == want, query.where
        # The columns decide the answered surveys (SQL only the others).
        assert _by_columns(database, by_columns, query) == (want, want.responded), query.where
        partial += want.sent > 0 and want.responded < want.sent
        refused += want.bounced > 0
    assert len(questions) == len(CATALOGUE + ANSWER_CATALOGUE)
    # The data discriminates: surveys not answered count on their contacts.
    assert partial >= len(questions) // 2
    # Surveys refused before sending count too, when the filter keeps them.
    assert 0 < refused < len(questions)


def test_a_survey_changed_after_its_answer_is_decided_by_sql_until_read_again(
    database: Database, org: Org, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    flt = {"attribute": "plan", "op": "in", "value": ["Pro", "Premium"]}
    by_columns, query = _asked_once(database, org, world, flt)
    # An answered survey emailed afterwards (its answer came in the app first): its row
    # changes, its response does not.
    with database.write() as conn:
        changed = conn.execute(
            select(surveys.c.id).where(surveys.c.status == "answered").limit(1)
        ).scalar_one()
        conn.execute(
            update(surveys)
            .where(surveys.c.id == changed)
            .values(status="sent", sent_at=NOW - timedelta(days=1))
        )
    want = expected(database, world, query)
    # Read moments ago: the columns disagree with the database, SQL decides.
    assert _by_columns(database, by_columns, query) == (want, None)
    monkeypatch.setattr(column_delivery, "REREAD_SECONDS", -1.0)
    assert _by_columns(database, by_columns, query) == (want, want.responded)


def test_new_and_changed_responses_keep_the_survey_times_current(
    database: Database, org: Org, world: World
) -> None:
    """Answers after the columns read the surveys' times are caught up with them."""
    by_columns, query = _asked_once(database, org, world, {"channel": {"ne": "link"}})
    want = expected(database, world, query)
    with database.write() as conn:
        waiting = conn.execute(
            select(surveys.c.token).where(surveys.c.status == "sent").limit(3)
        ).scalars()
        for token in list(waiting):
            survey = find_survey(conn, token=token)
            assert survey is not None
            record_score(conn, survey, score=9, now=NOW + timedelta(hours=1))
    with database.read() as conn:
        later = World(reference.load(conn, org.id), world.campaign_ids)
    want_later = expected(database, later, query)
    assert want_later.responded > want.responded
    assert _by_columns(database, by_columns, query) == (want_later, want_later.responded)

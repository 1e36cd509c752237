"""The counts the database keeps per campaign, channel and day (campaign_day_counts): after
surveys are scheduled, sent by the worker, answered, shown and dismissed in the app,
re-scored, erased with their contact or their campaign, merged, and counted again by the
migration's backfill, they equal a count over the rows themselves, on both databases; the
campaigns' results and the overview's delivery counts read from them give what counting
the rows gives, and one organization never sees another's."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update

from promoter.analytics.params import EARLIEST, LATEST
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.report import delivery_stats
from promoter.campaigns.counts import campaign_results
from promoter.contacts.writes import erase_contact
from promoter.delivery.mailers import FileMailer
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN
from promoter.storage.campaign_counts import COUNTS, KEY, backfill_statements, compact
from promoter.storage.engine import Database
from promoter.storage.tables import campaign_day_counts, campaigns, responses, surveys
from promoter.surveys.responses import find_survey, record_score
from tests.conftest import Org, make_org
from tests.integration.test_delivery import schedule, worker
from tests.surveys import token_of

Key = tuple[int, int, str, str]


def by_definition(database: Database) -> dict[Key, Counter[str]]:
    """Each key's counts, counted over the surveys and responses themselves."""
    found: dict[Key, Counter[str]] = {}
    with database.read() as conn:
        for s in conn.execute(select(surveys)):
            shown = s.shown_at is not None or (s.channel == "web" and s.sent_at is not None)
            if s.sent_at is None and s.shown_at is None:
                continue
            day = (s.sent_at or s.created_at).date().isoformat()
            counts = found.setdefault((s.organization_id, s.campaign_id, s.channel, day), Counter())
            counts["sent"] += s.sent_at is not None
            counts["answered"] += s.sent_at is not None and s.status == "answered"
            counts["shown"] += shown
            counts["dismissed"] += shown and s.dismissed_at is not None
        for r in conn.execute(select(responses)):
            key = (r.organization_id, r.campaign_id, r.channel, r.created_at.date().isoformat())
            counts = found.setdefault(key, Counter())
            counts["responses"] += 1
            counts["promoters"] += r.score >= PROMOTER_MIN
            counts["detractors"] += r.score <= DETRACTOR_MAX
    return {key: +counts for key, counts in found.items() if +counts}


def kept(database: Database) -> dict[Key, Counter[str]]:
    """Each key's counts, summed from campaign_day_counts."""
    c = campaign_day_counts.c
    with database.read() as conn:
        rows = conn.execute(
            select(*(c[k] for k in KEY), *(func.sum(c[name]) for name in COUNTS)).group_by(
                *(c[k] for k in KEY)
            )
        ).all()
    found = {
        (row[0], row[1], row[2], row[3].isoformat()): +Counter(
            dict(zip(COUNTS, (int(v) for v in row[4:]), strict=True))
        )
        for row in rows
    }
    return {key: counts for key, counts in found.items() if counts}


def rescore(database: Database, user_id: str, org: Org, score: int) -> None:
    token = token_of(database, user_id, org)
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=score, now=datetime.now(UTC))


def sent_and_answered(database: Database, org: Org, since: datetime, until: datetime) -> tuple:
    """The overview's delivery counts, and the same counted over the surveys."""
    with database.read() as conn:
        stats = delivery_stats(conn, scope(conn, NpsQuery(org.id, since=since, until=until)))
        sent, answered = conn.execute(
            select(func.count(), func.count().filter(surveys.c.status == "answered")).where(
                surveys.c.organization_id == org.id,
                surveys.c.sent_at >= since,
                surveys.c.sent_at < until,
            )
        ).one()
    return (stats.sent, stats.responded), (sent, answered)


def test_counts_follow_every_write_and_stay_within_their_organization(
    database: Database, org: Org, tmp_path: Path
) -> None:
    other = make_org(database, "Globex")
    people = ["ann", "bob", "cy", "dee", "eve"]
    schedule(database, org, *people)
    schedule(database, other, "zed")
    assert kept(database) == by_definition(database) == {}  # nothing sent yet
    assert asyncio.run(worker(database, FileMailer(tmp_path)).run_once()) == 6
    for user_id, score in (("ann", 10), ("bob", 3), ("cy", 8), ("zed", 9)):
        rescore(database, user_id, org if user_id != "zed" else other, score)
    rescore(database, "bob", org, 9)  # a new score moves bob from detractor to promoter
    now = datetime.now(UTC)
    with database.write() as conn:  # dee's survey is shown in the app, then dismissed
        mine = surveys.c.token == token_of(database, "dee", org)
        conn.execute(update(surveys).where(mine).values(shown_at=now, dismissed_at=now))
    assert kept(database) == by_definition(database)
    with database.read() as conn:
        results = campaign_results(conn, organization_id=org.id)
        theirs = campaign_results(conn, organization_id=other.id)
    ((campaign_id, mine_results),) = results.items()
    assert (mine_results.sent, mine_results.responses) == (5, 3)
    assert (mine_results.promoters, mine_results.detractors) == (2, 0)
    assert (mine_results.channels["web"].sent, mine_results.channels["web"].dismissed) == (1, 1)
    assert campaign_id not in theirs and [r.sent for r in theirs.values()] == [1]

    with database.write() as conn:
        assert erase_contact(conn, organization_id=org.id, user_id="ann", now=now)
    assert kept(database) == by_definition(database)
    with database.write() as conn:
        merged = compact(conn)
    assert merged > 0
    assert kept(database) == by_definition(database)
    with database.read() as conn:
        c = campaign_day_counts.c
        keys = conn.execute(select(func.count()).select_from(campaign_day_counts)).scalar()
        distinct = conn.execute(
            select(func.count()).select_from(
                select(c.organization_id, c.campaign_id, c.channel, c.day).distinct().subquery()
            )
        ).scalar()
    assert keys == distinct  # one row per key once merged
    with database.write() as conn:  # a campaign's deletion takes its surveys with it
        conn.execute(delete(campaigns).where(campaigns.c.organization_id == other.id))
    assert kept(database) == by_definition(database)
    want = by_definition(database)
    with database.write() as conn:  # the migration's backfill counts the rows there
        conn.execute(delete(campaign_day_counts))
        for statement in backfill_statements(database.engine.dialect.name):
            conn.exec_driver_sql(statement)
    assert kept(database) == want != {}


def test_delivery_counts_from_whole_days_and_the_hours_around_them(
    database: Database, org: Org, tmp_path: Path
) -> None:
    schedule(database, org, "ann", "bob", "cy")
    asyncio.run(worker(database, FileMailer(tmp_path)).run_once())
    rescore(database, "ann", org, 7)
    # Spread the sends over three days, at hours a local window cuts through.
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for user_id, at in (
        ("ann", base - timedelta(days=2, hours=-1)),
        ("bob", base - timedelta(days=1, hours=-13)),
        ("cy", base - timedelta(hours=2)),
    ):
        with database.write() as conn:
            mine = surveys.c.token == token_of(database, user_id, org)
            conn.execute(update(surveys).where(mine).values(sent_at=at))
    for since, until in (
        (EARLIEST, LATEST),
        (base - timedelta(days=2), base),
        (base - timedelta(days=2, minutes=-90), base - timedelta(hours=3)),
        (base - timedelta(days=1, hours=-12), base - timedelta(days=1, hours=-14)),
        (base - timedelta(hours=1), base + timedelta(days=1)),
    ):
        kept_counts, counted = sent_and_answered(database, org, since, until)
        assert kept_counts == counted, (since, until)
    other = make_org(database, "Globex")
    assert sent_and_answered(database, other, EARLIEST, LATEST) == ((0, 0), (0, 0))

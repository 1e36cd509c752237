"""The weekly digest in process: a planted week gives its NPS, change, segment movers and
detractor comments with their links; each user's choice is kept; the week is queued once;
another organization's data never shows; hostile comments are escaped; the email goes
through the delivery worker to a real SMTP server."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from promoter.analytics.change import NpsChange, TooFewToCompare
from promoter.analytics.engine import Analytics
from promoter.analytics.keyword_rules import create_rule
from promoter.analytics.segments import create_segment
from promoter.delivery.mailers import SmtpMailer
from promoter.digest.send import Digesting, read_digest, send_now, send_weekly
from promoter.digest.week import Week, last_complete_week
from promoter.storage.engine import Database
from promoter.storage.tables import digest_weeks, notice_emails, responses
from tests.alerts.planted import DROPPED, STEADY, add_user, answer_at, scores
from tests.analytics.planted_keywords import plant as plant_comments
from tests.analytics.writes import identify
from tests.conftest import Org
from tests.integration.test_delivery import Inbox, smtp, worker

__all__ = ["smtp"]  # the SMTP server fixture

BASE_URL = "https://nps.example.com"
#: A Wednesday: the last complete week is Monday Feb 24 to Sunday Mar 2, 2031.
NOW = datetime(2031, 3, 5, 9, 0, tzinfo=UTC)
WEEK = Week(datetime(2031, 2, 24, tzinfo=UTC))
DAY = timedelta(days=1)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _spread(week: Week, given: list[int]) -> list[tuple[datetime, int]]:
    step = (week.until - week.since) / (len(given) + 1)
    return [(week.since + step * (i + 1), score) for i, score in enumerate(given)]


def _comment(database: Database, org: Org, *, score: int, text: str, at: datetime) -> int:
    """Comment the answer of ``score`` in ``org`` nearest before ``at``."""
    with database.write() as conn:
        c = responses.c
        response_id = conn.execute(
            select(c.id)
            .where(c.organization_id == org.id, c.score == score, c.created_at < at)
            .order_by(c.created_at.desc())
            .limit(1)
        ).scalar_one()
        conn.execute(update(responses).where(c.id == response_id).values(comment=text))
    return int(response_id)


def plant(database: Database, org: Org) -> dict[str, int]:
    """Enterprise drops from +50 to -10 this week, Free stays at +50 (40 answers a week
    each), Tiny has too few answers; detractor comments this week and the week before."""
    for user, plan in (("ent", "Enterprise"), ("free", "Free"), ("tiny", "Tiny")):
        identify(database, org, user, plan=plan)
    steady = _spread(WEEK.before, scores(STEADY, 40))
    answer_at(database, org, "ent", steady + _spread(WEEK, scores(DROPPED, 40)))
    answer_at(database, org, "free", steady + _spread(WEEK, scores(STEADY, 40)))
    answer_at(database, org, "tiny", _spread(WEEK, [0, 10, 10]))
    with database.write() as conn:
        for plan in ("Free", "Enterprise", "Tiny"):
            create_segment(
                conn,
                organization_id=org.id,
                name=plan,
                filter={"attribute": "plan", "op": "eq", "value": plan},
            )
    return {
        "hostile": _comment(database, org, score=3, text=HOSTILE, at=WEEK.until),
        "zero": _comment(database, org, score=0, text="  Too slow  ", at=WEEK.until),
        "older": _comment(
            database, org, score=3, text="Crashes", at=WEEK.since + timedelta(days=3)
        ),
        "last week": _comment(database, org, score=3, text="Old news", at=WEEK.since),
        "promoter": _comment(database, org, score=10, text="Love it", at=WEEK.until),
    }


def test_a_planted_week_is_told_with_its_change_movers_and_comments(
    database: Database, org: Org, other_org: Org
) -> None:
    ids = plant(database, org)
    identify(database, other_org, "rival", plan="Enterprise")
    answer_at(database, other_org, "rival", _spread(WEEK.before, [9]) + _spread(WEEK, [1]))
    _comment(database, other_org, score=1, text="Globex secret", at=WEEK.until)
    digesting = Digesting(database, Analytics(), BASE_URL)
    assert last_complete_week(NOW) == WEEK == last_complete_week(WEEK.until)

    digest = read_digest(digesting, organization_id=org.id, week=WEEK)
    assert (digest.before.responses, digest.before.nps) == (80, 50.0)
    # +50 and -10 over 40 answers each, and Tiny's 0, 10, 10.
    assert (digest.now.responses, digest.now.promoters, digest.now.detractors) == (83, 38, 21)
    change = digest.change
    assert isinstance(change, NpsChange) and change.significant
    assert change.points == digest.now.nps - 50.0
    p, d = 38 / 83, 21 / 83
    error = math.sqrt((p + d - (p - d) ** 2) / 83 + (0.7 - 0.25) / 80)
    assert math.isclose(change.margin, 1.96 * error * 100, rel_tol=1e-3)

    # Tiny has too few answers to compare; Enterprise moved most, beyond chance.
    assert [(m.name, m.change.points) for m in digest.movers] == [
        ("Enterprise", -60.0),
        ("Free", 0.0),
    ]
    enterprise, free = digest.movers
    # Two segments compared: Enterprise's q is twice its p, Free's (no change) is 1.
    assert enterprise.q_value == 2 * enterprise.p_value < 0.05 and enterprise.significant
    assert (free.p_value, free.q_value, free.significant) == (1.0, 1.0, False)
    assert enterprise.link == (
        f"{BASE_URL}/?range=custom&since=2031-02-24&until=2031-03-02&segment={enterprise.segment_id}"
    )
    assert digest.keyword_movers == []

    # This week's detractor comments, newest first, trimmed, with their pages.
    assert [(c.response_id, c.text) for c in digest.comments] == [
        (ids["hostile"], HOSTILE),
        (ids["older"], "Crashes"),
        (ids["zero"], "Too slow"),
    ]
    assert digest.comments[2].link == f"{BASE_URL}/feedback/{ids['zero']}"
    assert digest.links["feedback"] == f"{BASE_URL}/feedback"
    assert digest.links["overview"] == f"{BASE_URL}/?range=custom&since=2031-02-24&until=2031-03-02"

    text = digesting.emails.text(digest)
    assert "Globex" not in text and "Old news" not in text and "Love it" not in text
    assert "Enterprise: +50 -> -10 (-60 points" in text
    assert f"q = {enterprise.q_value:.2g}): beyond chance" in text
    assert "Free: +50 -> +50 (0 points" in text and "q = 1): within chance" in text
    html = digesting.emails.notice(digest, to_address="a@acme.example").html
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html

    theirs = read_digest(digesting, organization_id=other_org.id, week=WEEK)
    assert [c.text for c in theirs.comments] == ["Globex secret"] and theirs.movers == []
    assert isinstance(theirs.change, TooFewToCompare)  # the guard: no change is given
    assert "Too few answers to compare (1 and 1; 30 a week needed)" in (
        digesting.emails.text(theirs)
    )


def test_the_week_is_queued_once_to_those_who_take_it_and_sent_by_smtp(
    database: Database, org: Org, other_org: Org, smtp: tuple[Inbox, int]
) -> None:
    plant(database, org)
    add_user(database, org, "admin@acme.example", "admin", None)  # on by default
    add_user(database, org, "member@acme.example", "member", None)  # on by default
    add_user(database, org, "reader@acme.example", "read-only", None)  # off by default
    add_user(database, org, "keen@acme.example", "read-only", None, digest=True)
    add_user(database, org, "quiet@acme.example", "admin", True, digest=False)
    add_user(database, other_org, "admin@globex.example", "admin", None)  # a quiet week
    digesting = Digesting(database, Analytics(), BASE_URL)

    assert send_weekly(digesting, now=NOW) == 3
    assert send_weekly(digesting, now=NOW + timedelta(days=4)) == 0  # the same week
    with database.read() as conn:
        claimed = conn.execute(select(digest_weeks.c.organization_id, digest_weeks.c.week))
        assert sorted(claimed) == [(org.id, "2031-02-24"), (other_org.id, "2031-02-24")]
        queued = list(conn.execute(select(notice_emails)))
    assert sorted(n.to_address for n in queued) == [
        "admin@acme.example",
        "keen@acme.example",
        "member@acme.example",
    ]
    assert {n.organization_id for n in queued} == {org.id}
    # On demand: queued again, whatever the week's claim.
    assert send_now(digesting, organization_id=org.id, now=NOW) == 3

    inbox, port = smtp

    async def send() -> int:
        mailer = SmtpMailer(host="127.0.0.1", port=port, timeout=5)
        try:
            return await worker(database, mailer, clock=lambda: NOW).run_once()
        finally:
            await mailer.close()

    assert asyncio.run(send()) == 6
    assert len(inbox.messages) == 6
    with database.read() as conn:
        assert set(conn.execute(select(notice_emails.c.status)).scalars()) == {"sent"}
    message = inbox.messages[0]
    assert message["Subject"].startswith("Acme: NPS +")
    assert message["Subject"].endswith("week of Feb 24 to Mar 2")
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    assert 'name="viewport"' in parts["text/html"] and "<script>" not in parts["text/html"]
    assert "New detractor comments:" in parts["text/plain"] and HOSTILE in parts["text/plain"]


def test_the_keywords_that_moved_most_are_told_with_their_tests(
    database: Database, org: Org
) -> None:
    """30 comments a week: "Support is great" (10) the week before, "Support is slow" (2)
    this week: support's NPS falls from +100 to -100, and "slow" and "great" trade their
    whole share of the comments; a hide rule takes "great" out."""
    week = Week(datetime(2026, 6, 8, tzinfo=UTC))
    said = [("Support is great", 10, 0, None)] * 30 + [("Support is slow", 2, 1, None)] * 30
    plant_comments(database, org, said)
    digesting = Digesting(database, Analytics(), BASE_URL)
    movers = read_digest(digesting, organization_id=org.id, week=week).keyword_movers
    assert [(m.name, m.moved, m.points) for m in movers] == [
        ("support", "nps", -200.0),
        ("great", "share", -100.0),
        ("slow", "share", 100.0),
    ]
    support = movers[0]
    assert (support.before.nps, support.now.nps, support.q_value) == (100.0, -100.0, 0.0)
    assert all(m.significant for m in movers)
    assert movers[2].link == f"{BASE_URL}/keywords?range=custom&since=2026-06-08&until=2026-06-14"
    digest = read_digest(digesting, organization_id=org.id, week=week)
    text = digesting.emails.text(digest)
    assert "Keywords that moved most:\n- support: NPS +100 -> -100 (q = 0): beyond chance." in text
    assert "- slow: in 0% -> 100% of the comments (0 -> 30)" in text
    html = digesting.emails.notice(digest, to_address="a@example.com").html
    assert ">slow</a>: in 0% -&gt; 100% of the comments" in html
    with database.write() as conn:
        create_rule(
            conn, organization_id=org.id, keyword="great", action="hide", target=None, now=NOW
        )
    hidden = read_digest(digesting, organization_id=org.id, week=week).keyword_movers
    assert [m.name for m in hidden] == ["support", "slow"]

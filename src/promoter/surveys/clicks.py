"""One-click answers that a link scanner cannot give.

Opening a score link records nothing: mail scanners fetch every link of a message. The
survey page's script then sends the score it opened with as a *click*. A click is stored
at once (the person's answer is safe from then on) and becomes the survey's answer once
the survey has been quiet for :data:`QUIET`: no other click. Clicks less than QUIET apart
form one burst; a burst naming :data:`SCANNER_SCORES` or more different scores is what a
scanner opening every link (and running the page's script) leaves, and all its clicks
are discarded. Of any other burst the last click is the answer.

An answer given on the page itself (Confirm, Send, Skip, a score changed there) is a
person's: it is recorded at once and supersedes the clicks before it.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import Connection, Row, func, insert, select, update

from promoter.storage.tables import score_clicks
from promoter.surveys.responses import SurveyView, lock_survey, record_score, survey_by_id

#: How long a survey stays without clicks before its last click becomes the answer.
QUIET = timedelta(minutes=2)
#: Different scores in one burst that mark it as a scanner's.
SCANNER_SCORES = 3
#: How far a person's own click stands before a scanner's burst (see ``_split``).
PERSON_GAP = timedelta(seconds=10)

ClickOutcome = Literal["saved", "confirm"]


def add_click(conn: Connection, survey: SurveyView, *, score: int, now: datetime) -> ClickOutcome:
    """Store a click; ``"confirm"`` when the survey's recent clicks already look like a
    scanner's, so the page asks the person to confirm their score instead."""
    c = score_clicks.c
    conn.execute(
        insert(score_clicks).values(
            organization_id=survey.organization_id,
            survey_id=survey.survey_id,
            score=score,
            status="pending",
            created_at=now,
        )
    )
    recent = conn.execute(
        select(func.count(func.distinct(c.score))).where(
            c.survey_id == survey.survey_id,
            c.status.in_(("pending", "discarded")),
            c.created_at >= now - QUIET,
        )
    ).scalar_one()
    return "confirm" if recent >= SCANNER_SCORES else "saved"


def pending_score(conn: Connection, *, survey_id: int) -> int | None:
    """The score of the survey's latest click not settled yet, if any."""
    c = score_clicks.c
    return conn.execute(
        select(c.score)
        .where(c.survey_id == survey_id, c.status == "pending")
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(1)
    ).scalar()


def supersede_clicks(conn: Connection, *, survey_id: int, now: datetime) -> None:
    """An answer given on the page: the clicks before it are no longer the answer."""
    c = score_clicks.c
    conn.execute(
        update(score_clicks)
        .where(c.survey_id == survey_id, c.status == "pending", c.created_at <= now)
        .values(status="superseded", decided_at=now)
    )


@dataclass(frozen=True, slots=True)
class Settled:
    """What one settling round did."""

    recorded: int = 0
    discarded: int = 0

    def __add__(self, other: Settled) -> Settled:
        return Settled(self.recorded + other.recorded, self.discarded + other.discarded)


def settle_clicks(
    conn: Connection, *, now: datetime, survey_id: int | None = None, limit: int = 100
) -> Settled:
    """Settle the clicks of up to ``limit`` surveys quiet since QUIET (or of one survey):
    each burst's last click recorded, a scanner's bursts discarded."""
    c = score_clicks.c
    due = (
        select(c.survey_id)
        .where(c.status == "pending")
        .group_by(c.survey_id)
        .having(func.max(c.created_at) <= now - QUIET)
        .order_by(c.survey_id)  # processes settling side by side lock in the same order
        .limit(limit)
    )
    if survey_id is not None:
        due = due.where(c.survey_id == survey_id)
    settled = Settled()
    for due_id in conn.execute(due).scalars().all():
        clicks = conn.execute(
            select(c.id, c.score, c.created_at)
            # A click that arrived since the survey was found quiet waits for its own quiet.
            .where(c.survey_id == due_id, c.status == "pending", c.created_at <= now - QUIET)
            .order_by(c.created_at, c.id)
        ).all()
        for burst in _bursts(clicks):
            settled += _settle_burst(conn, due_id, burst, now=now)
    return settled


def _bursts(clicks: Sequence[Row[Any, Any, Any]]) -> list[list[Row[Any, Any, Any]]]:
    bursts: list[list[Row[Any, Any, Any]]] = []
    for click in clicks:
        if bursts and click.created_at - bursts[-1][-1].created_at < QUIET:
            bursts[-1].append(click)
        else:
            bursts.append([click])
    return bursts


def _settle_burst(
    conn: Connection, survey_id: int, burst: list[Row[Any, Any, Any]], *, now: datetime
) -> Settled:
    """Claim the burst's clicks and record its answer: the last click, or none of a
    scanner's (but the person's own click that came before a scanner's burst)."""
    c = score_clicks.c
    person, scanner = _split(burst)
    lock_survey(conn, survey_id=survey_id)
    claimed = conn.execute(
        update(score_clicks)
        .where(c.id.in_([click.id for click in burst]), c.status == "pending")
        .values(status="superseded", decided_at=now)
    ).rowcount
    if claimed != len(burst):
        return Settled()  # settled by another process meanwhile
    if scanner:
        conn.execute(
            update(score_clicks)
            .where(c.id.in_([click.id for click in scanner]))
            .values(status="discarded")
        )
    if not person:
        return Settled(discarded=len(scanner))
    answer = person[-1]
    conn.execute(update(score_clicks).where(c.id == answer.id).values(status="recorded"))
    survey = survey_by_id(conn, survey_id=survey_id)
    if survey is None:
        return Settled()
    record_score(conn, survey, score=answer.score, now=now, answered_at=answer.created_at)
    return Settled(recorded=1, discarded=len(scanner))


def _split(
    burst: list[Row[Any, Any, Any]],
) -> tuple[list[Row[Any, Any, Any]], list[Row[Any, Any, Any]]]:
    """The burst's clicks that are a person's, and those that are a scanner's.

    A burst naming fewer than SCANNER_SCORES scores is a person's. One naming more is a
    scanner's, unless its first click stands apart: at least PERSON_GAP before the rest,
    which come fast (each under half of PERSON_GAP after the one before) and name
    SCANNER_SCORES scores by themselves. That is a person who clicked, and a scanner that
    opened every link of the same email soon after (on a forward, say); a scanner opening
    links slowly has no such gap and stays discarded whole.
    """
    if len({click.score for click in burst}) < SCANNER_SCORES:
        return burst, []
    first, rest = burst[0], burst[1:]
    gaps = [b.created_at - a.created_at for a, b in pairwise(rest)]
    stands_apart = (
        len({click.score for click in rest}) >= SCANNER_SCORES
        and rest[0].created_at - first.created_at >= PERSON_GAP
        and all(gap < PERSON_GAP / 2 for gap in gaps)
    )
    return ([first], rest) if stands_apart else ([], burst)

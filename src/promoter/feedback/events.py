"""The webhook events about feedback and the score: their data, read from the database,
and the calls that emit them.

Each ``emit_*`` function is called by the service that made the change, with its
connection, inside its transaction. When nothing subscribes to the event it runs one
indexed query and reads nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, select

from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary
from promoter.feedback.reading import get_feedback
from promoter.storage.tables import responses
from promoter.webhooks.events import (
    FEEDBACK_ADDED_OR_CHANGED,
    FEEDBACK_STATUS_CHANGED,
    FEEDBACK_TAGS_ADDED_OR_CHANGED,
    METRIC_SCORE_CHANGED,
    emit,
    subscribed,
)

#: metric.score_changed: the NPS of the responses received over this many days.
METRIC_WINDOW_DAYS = 30

FeedbackEvent = Literal[
    "feedback.added_or_changed", "feedback.tags_added_or_changed", "feedback.status_changed"
]

_FEEDBACK_EVENTS = (
    FEEDBACK_ADDED_OR_CHANGED,
    FEEDBACK_TAGS_ADDED_OR_CHANGED,
    FEEDBACK_STATUS_CHANGED,
)


def feedback_data(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int | None = None,
    survey_id: int | None = None,
) -> dict[str, Any]:
    """The response (given by its id, or its survey's) as the REST API shows it."""
    if survey_id is not None:
        response_id = conn.execute(
            select(responses.c.id).where(
                responses.c.organization_id == organization_id,
                responses.c.survey_id == survey_id,
            )
        ).scalar_one()
    if response_id is None:
        raise ValueError("give a response_id or a survey_id")
    found = get_feedback(conn, organization_id=organization_id, response_id=response_id)
    if found is None:
        raise LookupError(f"no response {response_id}")
    return found.to_json()


def emit_feedback(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    event: FeedbackEvent,
    now: datetime,
    campaign_id: int | None = None,
) -> str | None:
    """A response was recorded or changed (score, comment, tags, status): ``event`` with
    the response as its data. ``campaign_id`` saves a lookup when the caller knows it."""
    if event not in _FEEDBACK_EVENTS:
        raise ValueError(f"{event!r} is not a feedback event")
    if campaign_id is None:
        if not subscribed(conn, organization_id=organization_id, event=event):
            return None
        campaign_id = conn.execute(
            select(responses.c.campaign_id).where(
                responses.c.id == response_id, responses.c.organization_id == organization_id
            )
        ).scalar()
        if campaign_id is None:
            return None
    return emit(
        conn,
        organization_id=organization_id,
        event=event,
        campaign_id=campaign_id,
        data=lambda: feedback_data(conn, organization_id=organization_id, response_id=response_id),
        now=now,
    )


# --- the score over the last 30 days ---------------------------------------------------------


def _summary(responses_: int | None, promoters: int | None, detractors: int | None) -> NpsSummary:
    return NpsSummary.of(int(responses_ or 0), int(promoters or 0), int(detractors or 0))


def _shifted(summary: NpsSummary, add: int | None, remove: int | None) -> NpsSummary:
    """``summary`` with one response of score ``add`` added and one of ``remove`` removed."""
    n, p, d = summary.responses, summary.promoters, summary.detractors
    for score, sign in ((add, 1), (remove, -1)):
        if score is None:
            continue
        n += sign
        p += sign if score >= PROMOTER_MIN else 0
        d += sign if score <= DETRACTOR_MAX else 0
    return NpsSummary.of(n, p, d)


def _shown(summary: NpsSummary) -> int | None:
    """The NPS as the dashboard shows it: a whole number."""
    nps = summary.nps
    return None if nps is None else round(nps)


def emit_score_metrics(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    response_id: int,
    score: int,
    previous: tuple[int, datetime] | None,
    now: datetime,
) -> str | None:
    """After a score was recorded (``previous``: the score it replaced and when that
    response was created), ``metric.score_changed`` if the NPS of the last 30 days, of the
    organization or of the campaign, changed as the dashboard shows it (a whole number).

    The counts after the change come from one query on the responses' covering index;
    the counts before are derived from them, so nothing else is read.
    """
    if not subscribed(conn, organization_id=organization_id, event=METRIC_SCORE_CHANGED):
        return None
    since = now - timedelta(days=METRIC_WINDOW_DAYS)
    in_campaign = responses.c.campaign_id == campaign_id
    promoter = responses.c.score >= PROMOTER_MIN
    detractor = responses.c.score <= DETRACTOR_MAX

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    row = conn.execute(
        select(
            func.count(),
            count(promoter),
            count(detractor),
            count(in_campaign),
            count(and_(in_campaign, promoter)),
            count(and_(in_campaign, detractor)),
        ).where(
            responses.c.organization_id == organization_id,
            responses.c.created_at > since,
            responses.c.created_at <= now,
        )
    ).one()
    organization_now = _summary(row[0], row[1], row[2])
    campaign_now = _summary(row[3], row[4], row[5])
    if previous is None:
        removed, added = score, None  # before this answer, the response was not there
    elif since < previous[1] <= now:
        removed, added = score, previous[0]
    else:
        return None  # an answer older than the window changed: its NPS did not
    organization_before = _shifted(organization_now, added, removed)
    campaign_before = _shifted(campaign_now, added, removed)
    if _shown(organization_now) == _shown(organization_before) and _shown(campaign_now) == _shown(
        campaign_before
    ):
        return None

    def scope(current: NpsSummary, before: NpsSummary) -> dict[str, Any]:
        return {**current.to_json(), "previous_nps": before.nps}

    data = {
        "window_days": METRIC_WINDOW_DAYS,
        "since": since,
        "until": now,
        "campaign_id": campaign_id,
        "response_id": response_id,
        "score": score,
        "previous_score": previous[0] if previous else None,
        "organization": scope(organization_now, organization_before),
        "campaign": scope(campaign_now, campaign_before),
    }
    return emit(
        conn,
        organization_id=organization_id,
        event=METRIC_SCORE_CHANGED,
        campaign_id=campaign_id,
        data=data,
        now=now,
    )

"""A signed-in visitor of a customer's app and the web surveys it is shown: finding the
one due, recording it shown, dismissed or answered.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, or_, select, update

from promoter.delivery.events import emit_survey_sent
from promoter.domain.channels import WEB, WEB_PENDING
from promoter.domain.eligibility import SUPPRESSED
from promoter.segment_source.events import emit_survey_dismissed
from promoter.storage.tables import campaigns, contacts, deliveries, responses, surveys
from promoter.surveys.answering import answer_on_page
from promoter.surveys.responses import InvalidAnswer, SurveyView, lock_survey, survey_by_id

#: Survey statuses a web survey can still be shown in: waiting for the person to be in the
#: app, or emailed (a "both" campaign's) and not answered yet.
SHOWABLE: Final = ("scheduled", "sent")
MAX_PAGE_URL: Final = 2000


class SurveyGone(ValueError):
    """The survey was dismissed, or its answer window closed: it takes nothing more."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """The organization's contact a verified userId names."""

    organization_id: int
    contact_id: int
    user_id: str


def find_visitor(conn: Connection, *, organization_id: int, user_id: str) -> Visitor | None:
    """The contact with ``user_id`` who may be surveyed, or ``None`` (unknown, or
    unsubscribed, bounced or inactive)."""
    row = conn.execute(
        select(contacts.c.id, contacts.c.status).where(
            contacts.c.organization_id == organization_id, contacts.c.user_id == user_id
        )
    ).one_or_none()
    if row is None or row.status in SUPPRESSED:
        return None
    return Visitor(organization_id, row.id, user_id)


def page_url(value: object) -> str | None:
    """The page a survey was shown or answered on, as stored: an http(s) address, cut to
    ``MAX_PAGE_URL``; anything else is not kept."""
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        return None
    return value[:MAX_PAGE_URL] if value.isprintable() else None


def due_survey(
    conn: Connection, visitor: Visitor, *, now: datetime
) -> tuple[SurveyView | None, list[int]]:
    """The web survey to show the visitor now: of an active web or both campaign (an
    emailed one of a both campaign too), due, not shown, answered or dismissed yet, the
    oldest first; and the ids of those waiting longer than ``WEB_PENDING``, to drop (the
    person was not in the app then: see ``drop_stale``). Reads only."""
    s = surveys.c
    rows = conn.execute(
        select(s.id, s.scheduled_at)
        .join(campaigns, campaigns.c.id == s.campaign_id)
        .where(
            s.organization_id == visitor.organization_id,
            s.contact_id == visitor.contact_id,
            s.status.in_(SHOWABLE),
            s.shown_at.is_(None),
            s.dismissed_at.is_(None),
            s.scheduled_at <= now,
            campaigns.c.status == "active",
            # Made for the app; or a "both" campaign's, emailed and not answered yet.
            or_(s.channel == WEB, and_(s.status == "sent", campaigns.c.channel == "both")),
        )
        .order_by(s.scheduled_at, s.id)
        .limit(5)
    ).all()
    stale = [row.id for row in rows if now - row.scheduled_at > WEB_PENDING]
    for row in rows:
        if row.id in stale:
            continue
        survey = survey_by_id(conn, survey_id=row.id)
        if survey is not None and survey.score is None and survey.open_at(now):
            return survey, stale
    return None, stale


def drop_stale(conn: Connection, survey_ids: list[int]) -> None:
    """Cancel web surveys never shown in time (see ``due_survey``), and their emails."""
    conn.execute(
        update(surveys)
        .where(surveys.c.id.in_(survey_ids), surveys.c.status == "scheduled")
        .values(status="cancelled")
    )
    _cancel_deliveries(conn, survey_ids)


def visitor_survey(
    conn: Connection, visitor: Visitor, *, token: str, lock: bool = False
) -> SurveyView | None:
    """The visitor's own web survey with ``token`` (another contact's is ``None``)."""
    row = conn.execute(
        select(surveys.c.id)
        .join(campaigns, campaigns.c.id == surveys.c.campaign_id)
        .where(
            surveys.c.token == token,
            surveys.c.organization_id == visitor.organization_id,
            surveys.c.contact_id == visitor.contact_id,
            campaigns.c.channel.in_(("web", "both")),
        )
    ).one_or_none()
    if row is None:
        return None
    if lock:
        lock_survey(conn, survey_id=row.id)
    return survey_by_id(conn, survey_id=row.id)


def survey_token(conn: Connection, *, survey_id: int) -> str:
    """The survey's token: the script names the survey by it in later calls."""
    return str(conn.execute(select(surveys.c.token).where(surveys.c.id == survey_id)).scalar_one())


def _state(conn: Connection, survey_id: int) -> Any:
    return conn.execute(
        select(surveys.c.status, surveys.c.shown_at, surveys.c.dismissed_at).where(
            surveys.c.id == survey_id
        )
    ).one()


def mark_shown(conn: Connection, survey: SurveyView, *, url: str | None, now: datetime) -> bool:
    """Record the survey shown on the page ``url`` (once; later calls change nothing). A
    survey waiting for the app is sent by being shown: its email, if any, is not sent.
    Whether this call recorded it."""
    state = _state(conn, survey.survey_id)
    if state.dismissed_at is not None:
        raise SurveyGone("the survey was dismissed")
    if state.shown_at is not None:
        return False
    values: dict[str, Any] = {"shown_at": now, "page_url": page_url(url)}
    first = state.status == "scheduled"
    if first:
        values |= {"status": "sent", "sent_at": now, "channel": WEB}
    conn.execute(update(surveys).where(surveys.c.id == survey.survey_id).values(**values))
    if first:
        _cancel_deliveries(conn, [survey.survey_id])
        emit_survey_sent(
            conn,
            organization_id=survey.organization_id,
            campaign_id=survey.campaign_id,
            survey_id=survey.survey_id,
            reminder=False,
            message_id=None,
            now=now,
        )
    return True


def dismiss(conn: Connection, survey: SurveyView, *, url: str | None, now: datetime) -> bool:
    """The person closed the survey without answering: it is not shown or emailed again
    (its pending email and reminder are cancelled), and it counts as a survey for the
    campaign's throttle and the organization's cooldown. An answered survey is not
    dismissed; whether this call dismissed it."""
    state = _state(conn, survey.survey_id)
    if survey.score is not None or state.status == "answered" or state.dismissed_at is not None:
        return False
    mark_shown(conn, survey, url=url, now=now)
    conn.execute(
        update(surveys)
        .where(surveys.c.id == survey.survey_id)
        .values(status="dismissed", dismissed_at=now)
    )
    _cancel_deliveries(conn, [survey.survey_id])
    emit_survey_dismissed(
        conn, organization_id=survey.organization_id, survey_id=survey.survey_id, now=now
    )
    return True


def answer(
    conn: Connection,
    survey: SurveyView,
    *,
    score: int | None,
    comment: str | None,
    answers: Mapping[str, Sequence[str]] | None,
    url: str | None,
    now: datetime,
) -> None:
    """Record the visitor's answer in the app: the score (required the first time; a
    change later), and the comment and follow-up answers when given; the response's
    channel is web and its page the one it was answered on. Raises ``SurveyGone`` (closed
    or dismissed) or ``InvalidAnswer``."""
    state = _state(conn, survey.survey_id)
    if state.dismissed_at is not None:
        raise SurveyGone("the survey was dismissed")
    if not survey.open_at(now):
        raise SurveyGone("the survey is closed")
    mark_shown(conn, survey, url=url, now=now)
    if score is None:
        score = survey.score
    if score is None:
        raise InvalidAnswer("choose a score first")
    answer_on_page(
        conn,
        replace(survey, channel=WEB),
        score=score,
        comment=comment,
        answers=answers,
        now=now,
    )
    conn.execute(
        update(responses)
        .where(responses.c.survey_id == survey.survey_id, responses.c.page_url.is_(None))
        .values(page_url=page_url(url))
    )


def _cancel_deliveries(conn: Connection, survey_ids: list[int]) -> None:
    """Cancel the surveys' emails and reminders not sent yet."""
    conn.execute(
        update(deliveries)
        .where(
            deliveries.c.survey_id.in_(survey_ids),
            deliveries.c.kind.in_(("survey", "reminder")),
            deliveries.c.status == "pending",
        )
        .values(status="cancelled", claimed_until=None)
    )

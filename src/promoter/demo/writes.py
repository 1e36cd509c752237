"""How the demo's data is written: messages through the real ingestion path, surveys with
their deliveries, and what people did with them through the service's answer path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from promoter.demo.answers import Survey
from promoter.domain.messages import Envelope
from promoter.feedback.answers import record_answers
from promoter.feedback.followup import add_tags, set_status
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, responses, surveys
from promoter.surveys.responses import (
    SurveyView,
    find_survey,
    record_comment,
    record_score,
    unsubscribe,
)
from promoter.surveys.trigger import new_token


def ingest(
    database: Database,
    ingestor: Ingestor,
    organization_id: int,
    messages: list[dict[str, Any]],
    received_at: datetime,
) -> None:
    """Ingest ``messages`` as if received at ``received_at``; all must be accepted."""
    results = ingest_messages(
        database=database,
        ingestor=ingestor,
        organization_id=organization_id,
        messages=messages,
        envelope=Envelope(received_at=received_at),
        allowed=TRACKING_API_TYPES,
    )
    refused = [r for r in results if r.status != "accepted"]
    if refused:
        raise RuntimeError(f"demo messages were not accepted: {refused[:3]}")


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_surveys(
    conn: Connection,
    organization_id: int,
    batch: list[Survey],
    contact_ids: dict[str, int],
) -> None:
    """The surveys of ``batch``, their deliveries, and what became of each."""
    for survey in batch:
        survey.token = new_token()
    rows = conn.execute(
        insert(surveys).returning(surveys.c.id, surveys.c.token),
        [_survey_row(organization_id, s, contact_ids) for s in batch],
    ).all()
    survey_ids = {r.token: r.id for r in rows}
    conn.execute(
        insert(deliveries),
        [_delivery_row(organization_id, s, survey_ids[s.token]) for s in batch],
    )
    for survey in batch:
        _outcome(conn, organization_id, survey, contact_ids)


def _survey_row(
    organization_id: int, survey: Survey, contact_ids: dict[str, int]
) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "campaign_id": survey.campaign_id,
        "contact_id": contact_ids[survey.person.user_id],
        "status": "sent" if survey.sent_at else "failed",
        "token": survey.token,
        "trigger_event_id": None,
        "attributes": {},
        "scheduled_at": survey.scheduled_at,
        "sent_at": survey.sent_at,
        "created_at": survey.created_at,
    }


def _delivery_row(organization_id: int, survey: Survey, survey_id: int) -> dict[str, Any]:
    """The survey's delivery: sent, or refused by the mail server."""
    sent = survey.sent_at is not None
    return {
        "organization_id": organization_id,
        "survey_id": survey_id,
        "kind": "survey",
        "status": "sent" if sent else "failed",
        "due_at": survey.scheduled_at,
        "attempts": 1,
        "last_error": None
        if sent
        else f"550 5.1.1 <{survey.person.email}>: Recipient address rejected: User unknown",
        "message_id": f"<{survey.token[:20]}@promoter.example>" if sent else None,
        "sent_at": survey.sent_at,
        "created_at": survey.created_at,
    }


def _outcome(
    conn: Connection, organization_id: int, survey: Survey, contact_ids: dict[str, int]
) -> None:
    """What the contact did with the survey, through the service's own answer path."""
    if survey.sent_at is None:  # refused by the mail server
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_ids[survey.person.user_id])
            .values(status="bounced", updated_at=survey.scheduled_at)
        )
        return
    if survey.score is None and survey.unsubscribed_at is None:
        return
    view = find_survey(conn, token=survey.token)
    assert view is not None
    if survey.score is not None and survey.answered_at is not None:
        view = _record_answer(conn, organization_id, view, survey, survey.score, survey.answered_at)
    if survey.unsubscribed_at is not None:
        unsubscribe(conn, view, now=survey.unsubscribed_at)


def _record_answer(
    conn: Connection,
    organization_id: int,
    view: SurveyView,
    survey: Survey,
    score: int,
    answered_at: datetime,
) -> SurveyView:
    """The score, the comment and its tags, and whether the team closed it; the survey
    as it is now answered."""
    record_score(conn, view, score=score, now=answered_at)
    view = replace(view, score=score)
    response_id = int(
        conn.execute(
            select(responses.c.id).where(responses.c.survey_id == view.survey_id)
        ).scalar_one()
    )
    if survey.answers:
        record_answers(
            conn,
            organization_id=organization_id,
            campaign_id=view.campaign_id,
            response_id=response_id,
            answers=survey.answers,
            now=answered_at,
        )
    if survey.comment is not None:
        record_comment(conn, view, comment=survey.comment[0], now=answered_at)
        if survey.tagged_at is not None:
            add_tags(
                conn,
                organization_id=organization_id,
                response_id=response_id,
                tags=survey.comment[1],
                now=survey.tagged_at,
            )
    if survey.closed_at is not None:
        set_status(
            conn,
            organization_id=organization_id,
            response_id=response_id,
            status="CLOSED",
            now=survey.closed_at,
        )
    return view

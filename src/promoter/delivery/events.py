"""The webhook events about sending surveys (``survey.sent``, ``survey.bounced``), and
the contact as every event shows it; a sent survey is also a Segment source fact.

Each ``emit_*`` function is called with the caller's connection, inside its transaction;
the data is read only when some subscription wants the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from promoter.segment_source import events as segment_source
from promoter.segment_source import settings as segment_settings
from promoter.storage.tables import contacts, surveys
from promoter.webhooks.events import SURVEY_BOUNCED, SURVEY_SENT, emit, subscribed


def contact_data(conn: Connection, contact_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(
            contacts.c.id,
            contacts.c.user_id,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.last_name,
            contacts.c.status,
        ).where(contacts.c.id == contact_id)
    ).one_or_none()
    if row is None:
        return None
    return {
        "id": row.id,
        "user_id": row.user_id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "status": row.status,
    }


def survey_data(conn: Connection, *, survey_id: int, reminder: bool) -> dict[str, Any]:
    row = conn.execute(
        select(surveys.c.id, surveys.c.campaign_id, surveys.c.contact_id).where(
            surveys.c.id == survey_id
        )
    ).one()
    return {
        "survey_id": row.id,
        "campaign_id": row.campaign_id,
        "reminder": reminder,
        "contact": contact_data(conn, row.contact_id),
    }


def emit_survey_sent(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    survey_id: int,
    reminder: bool,
    message_id: str | None,
    now: datetime,
) -> str | None:
    segment_source.emit_survey_sent(
        conn, organization_id=organization_id, survey_id=survey_id, reminder=reminder, now=now
    )
    return _emit_webhook_sent(
        conn,
        organization_id=organization_id,
        campaign_id=campaign_id,
        survey_id=survey_id,
        reminder=reminder,
        message_id=message_id,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class SentSurvey:
    """A survey email (or reminder) just sent: what its ``survey.sent`` event tells."""

    organization_id: int
    campaign_id: int
    survey_id: int
    reminder: bool
    message_id: str | None


def emit_surveys_sent(conn: Connection, sent: Sequence[SentSurvey], *, now: datetime) -> None:
    """``emit_survey_sent`` for each of ``sent``, asking once per organization whether a
    webhook or its Segment source wants the event: most want none, and then a batch of
    emails costs two lookups instead of two per email."""
    for organization_id in dict.fromkeys(s.organization_id for s in sent):
        webhooks = subscribed(conn, organization_id=organization_id, event=SURVEY_SENT)
        source = segment_settings.get_source(conn, organization_id=organization_id)
        segment = source is not None and source.wants(segment_settings.SURVEY_SENT)
        if not (webhooks or segment):
            continue
        for s in sent:
            if s.organization_id != organization_id:
                continue
            if segment:
                segment_source.emit_survey_sent(
                    conn,
                    organization_id=organization_id,
                    survey_id=s.survey_id,
                    reminder=s.reminder,
                    now=now,
                )
            if webhooks:
                _emit_webhook_sent(
                    conn,
                    organization_id=organization_id,
                    campaign_id=s.campaign_id,
                    survey_id=s.survey_id,
                    reminder=s.reminder,
                    message_id=s.message_id,
                    now=now,
                )


def _emit_webhook_sent(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    survey_id: int,
    reminder: bool,
    message_id: str | None,
    now: datetime,
) -> str | None:
    return emit(
        conn,
        organization_id=organization_id,
        event=SURVEY_SENT,
        campaign_id=campaign_id,
        data=lambda: {
            **survey_data(conn, survey_id=survey_id, reminder=reminder),
            "message_id": message_id,
            "sent_at": now,
        },
        now=now,
    )


def emit_survey_bounced(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    survey_id: int,
    reminder: bool,
    error: str,
    now: datetime,
) -> str | None:
    return emit(
        conn,
        organization_id=organization_id,
        event=SURVEY_BOUNCED,
        campaign_id=campaign_id,
        data=lambda: {
            **survey_data(conn, survey_id=survey_id, reminder=reminder),
            "error": error[:1000],
            "bounced_at": now,
        },
        now=now,
    )

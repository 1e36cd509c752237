"""Queueing survey facts as Segment messages, in the caller's transaction.

A fact is queued only if the transaction that made it commits, and the sender delivers it
afterwards, at least once. When the organization has no enabled source wanting the
message, queueing costs one lookup by primary key. Several changes to one response in one
transaction (the score, its comment and follow-up answers sent together) make one
``Survey Responded``: a message not yet tried is brought up to date instead of repeated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from promoter.segment_source import messages as m
from promoter.segment_source.settings import (
    IDENTIFY,
    SURVEY_COMMENT_ADDED,
    SURVEY_DISMISSED,
    SURVEY_RESPONDED,
    SURVEY_SENT,
    SourceSettings,
    get_source,
)
from promoter.storage.tables import segment_messages


def _queue(
    conn: Connection,
    source: SourceSettings,
    *,
    kind: str,
    message: dict[str, Any],
    now: datetime,
    only_refresh: bool = False,
) -> None:
    """Insert ``message``; if its messageId is queued already and untried, replace it."""
    c = segment_messages.c
    existing = conn.execute(
        select(c.id, c.attempts, c.message).where(
            c.organization_id == source.organization_id, c.message_id == message["messageId"]
        )
    ).one_or_none()
    if existing is not None:
        if existing.attempts == 0:
            if kind == SURVEY_RESPONDED:  # whether it changed an earlier answer is kept
                message["properties"]["updated"] = existing.message["properties"]["updated"]
            conn.execute(
                update(segment_messages).where(c.id == existing.id).values(message=message)
            )
        return
    if only_refresh:
        return
    conn.execute(
        insert(segment_messages).values(
            organization_id=source.organization_id,
            message_id=message["messageId"],
            kind=kind,
            user_id=message["userId"],
            message=message,
            status="pending",
            due_at=now,
            created_at=now,
        )
    )


def forget_contact(conn: Connection, *, organization_id: int, user_id: str) -> int:
    """The contact is erased: its messages go, sent or not (how many went)."""
    c = segment_messages.c
    return conn.execute(
        delete(segment_messages).where(c.organization_id == organization_id, c.user_id == user_id)
    ).rowcount


def _source(conn: Connection, organization_id: int, *kinds: str) -> SourceSettings | None:
    source = get_source(conn, organization_id=organization_id)
    if source is None or not any(source.wants(kind) for kind in kinds):
        return None
    return source


def _survey_track(
    conn: Connection,
    *,
    organization_id: int,
    survey_id: int,
    event: str,
    fact: str,
    now: datetime,
    **properties: Any,
) -> None:
    """Queue ``event`` about a survey, with the shared properties and ``properties``."""
    source = _source(conn, organization_id, event)
    if source is None:
        return
    row = m.survey_facts(conn, survey_id=survey_id)
    if row is None or not row.user_id:
        return
    message = m.track(
        user_id=row.user_id,
        event=event,
        properties={**m.campaign_properties(row), **properties},
        mid=m.message_id(organization_id, f"survey:{survey_id}:{fact}"),
        now=now,
    )
    _queue(conn, source, kind=event, message=message, now=now)


def emit_survey_sent(
    conn: Connection, *, organization_id: int, survey_id: int, reminder: bool, now: datetime
) -> None:
    """A survey email (or its reminder) was sent, or a web survey shown."""
    what = "reminder" if reminder else "survey"
    _survey_track(
        conn,
        organization_id=organization_id,
        survey_id=survey_id,
        event=SURVEY_SENT,
        fact=f"sent:{what}:{m.timestamp(now)}",
        now=now,
        reminder=reminder,
    )


def emit_survey_dismissed(
    conn: Connection, *, organization_id: int, survey_id: int, now: datetime
) -> None:
    """A web survey was closed without an answer."""
    _survey_track(
        conn,
        organization_id=organization_id,
        survey_id=survey_id,
        event=SURVEY_DISMISSED,
        fact="dismissed",
        now=now,
    )


def emit_survey_responded(
    conn: Connection,
    *,
    organization_id: int,
    response_id: int,
    updated: bool,
    now: datetime,
    only_refresh: bool = False,
) -> None:
    """A response's score (or its follow-up answers) was recorded: ``Survey Responded``
    and the identify with the NPS traits. ``only_refresh``: bring a message of this
    transaction up to date, queue none."""
    source = _source(conn, organization_id, SURVEY_RESPONDED, IDENTIFY)
    if source is None:
        return
    row = m.response_facts(conn, response_id=response_id)
    if row is None or not row.user_id:
        return
    fact = f"response:{response_id}:responded:{m.timestamp(now)}"
    if source.wants(IDENTIFY):
        traits = m.nps_traits(row, prefix=source.trait_prefix, now=now)
        mid = m.message_id(organization_id, f"{fact}:identify")
        message = m.identify(user_id=row.user_id, traits=traits, mid=mid, now=now)
        _queue(conn, source, kind=IDENTIFY, message=message, now=now, only_refresh=only_refresh)
    if source.wants(SURVEY_RESPONDED):
        answers = m.answers_of(conn, response_id=response_id)
        message = m.track(
            user_id=row.user_id,
            event=SURVEY_RESPONDED,
            properties=m.responded_properties(row, answers, updated),
            mid=m.message_id(organization_id, fact),
            now=now,
        )
        _queue(
            conn, source, kind=SURVEY_RESPONDED, message=message, now=now, only_refresh=only_refresh
        )


def emit_comment_added(
    conn: Connection, *, organization_id: int, response_id: int, now: datetime
) -> None:
    """A response's comment was written (or changed): ``Survey Comment Added``, and a
    ``Survey Responded`` queued in this transaction carries the comment."""
    emit_survey_responded(
        conn,
        organization_id=organization_id,
        response_id=response_id,
        updated=False,
        now=now,
        only_refresh=True,
    )
    source = _source(conn, organization_id, SURVEY_COMMENT_ADDED)
    if source is None:
        return
    row = m.response_facts(conn, response_id=response_id)
    if row is None or not row.user_id or not row.comment:
        return
    fact = f"response:{response_id}:comment:{m.timestamp(now)}"
    message = m.track(
        user_id=row.user_id,
        event=SURVEY_COMMENT_ADDED,
        properties={
            **m.campaign_properties(row),
            "response_id": row.response_id,
            "score": row.score,
            "comment": row.comment,
        },
        mid=m.message_id(organization_id, fact),
        now=now,
    )
    _queue(conn, source, kind=SURVEY_COMMENT_ADDED, message=message, now=now)

"""Survey facts as Segment messages (track and identify), read from the database.

A message's ``messageId`` is derived from the fact it tells (the same fact gives the same
id, on every attempt and on every sender), its ``timestamp`` is when the fact happened,
and its ``context.library`` names Promoter. A contact without a ``userId`` gets no
messages: Segment and Promoter key people by ``userId``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select

from promoter import __version__
from promoter.domain.nps import score_type
from promoter.storage.tables import campaigns, contacts, response_answers, responses, surveys

#: The namespace of the messageIds (UUID version 5 of the fact's key).
NAMESPACE: Final = uuid.UUID("1800c3d9-8d07-457b-ba18-8345ef800ba6")
LIBRARY: Final = {"name": "promoter", "version": __version__}


def message_id(organization_id: int, fact: str) -> str:
    """The messageId of ``fact`` (``response:12:responded:2026-...``, say)."""
    return str(uuid.uuid5(NAMESPACE, f"promoter:{organization_id}:{fact}"))


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def track(
    *, user_id: str, event: str, properties: dict[str, Any], mid: str, now: datetime
) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user_id,
        "event": event,
        "properties": properties,
        "messageId": mid,
        "timestamp": timestamp(now),
        "context": {"library": dict(LIBRARY)},
    }


def identify(*, user_id: str, traits: dict[str, Any], mid: str, now: datetime) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user_id,
        "traits": traits,
        "messageId": mid,
        "timestamp": timestamp(now),
        "context": {"library": dict(LIBRARY)},
    }


def survey_facts(conn: Connection, *, survey_id: int) -> Any:
    """The survey's campaign and contact as the messages name them (``None`` if gone)."""
    return conn.execute(
        select(
            surveys.c.id.label("survey_id"),
            surveys.c.campaign_id,
            campaigns.c.name.label("campaign_name"),
            surveys.c.channel,
            contacts.c.user_id,
            contacts.c.email,
        )
        .join(campaigns, campaigns.c.id == surveys.c.campaign_id)
        .join(contacts, contacts.c.id == surveys.c.contact_id)
        .where(surveys.c.id == survey_id)
    ).one_or_none()


def response_facts(conn: Connection, *, response_id: int) -> Any:
    """The response, its campaign and its contact (``None`` if gone)."""
    return conn.execute(
        select(
            responses.c.id.label("response_id"),
            responses.c.survey_id,
            responses.c.score,
            responses.c.comment,
            responses.c.campaign_id,
            campaigns.c.name.label("campaign_name"),
            responses.c.channel,
            contacts.c.user_id,
            contacts.c.email,
        )
        .join(campaigns, campaigns.c.id == responses.c.campaign_id)
        .join(contacts, contacts.c.id == responses.c.contact_id)
        .where(responses.c.id == response_id)
    ).one_or_none()


def answers_of(conn: Connection, *, response_id: int) -> dict[str, list[str]]:
    """The response's follow-up answers: question id -> values."""
    a = response_answers.c
    found: dict[str, list[str]] = {}
    rows = conn.execute(
        select(a.question_id, a.value)
        .where(a.response_id == response_id)
        .order_by(a.question_id, a.position)
    )
    for question_id, value in rows:
        found.setdefault(question_id, []).append(value)
    return found


def campaign_properties(row: Any) -> dict[str, Any]:
    return {
        "survey_id": row.survey_id,
        "campaign_id": row.campaign_id,
        "campaign_name": row.campaign_name,
        "channel": row.channel,
    }


def responded_properties(row: Any, answers: dict[str, list[str]], updated: bool) -> dict[str, Any]:
    return {
        **campaign_properties(row),
        "response_id": row.response_id,
        "score": row.score,
        "category": score_type(row.score),
        "comment": row.comment,
        "answers": answers,
        "updated": updated,
    }


def nps_traits(row: Any, *, prefix: str, now: datetime) -> dict[str, Any]:
    return {
        "email": row.email,
        f"{prefix}score": row.score,
        f"{prefix}category": score_type(row.score),
        f"{prefix}responded_at": timestamp(now),
    }

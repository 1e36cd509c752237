"""One write at a time through the real paths, at the dataset's NOW: a contact identified,
a survey answered, follow-up questions answered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from promoter.domain.messages import Envelope
from promoter.feedback.answers import record_answers
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, surveys
from tests.analytics.dataset import NOW, answer_survey
from tests.conftest import Org


def identify(database: Database, org: Org, user_id: str, **traits: Any) -> None:
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org.id,
        messages=[
            {
                "type": "identify",
                "userId": user_id,
                "traits": {"email": f"{user_id}@example.com", **traits},
            }
        ],
        envelope=Envelope(received_at=NOW),
        allowed=TRACKING_API_TYPES,
    )
    assert results[0].status == "accepted"


def answer(database: Database, org: Org, user_id: str, score: int, at: Any) -> int:
    with database.write() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(contacts.c.user_id == user_id)
        ).scalar_one()
        campaign_id = conn.execute(
            select(surveys.c.campaign_id).where(surveys.c.organization_id == org.id).limit(1)
        ).scalar_one()
        return answer_survey(conn, org.id, contact_id, campaign_id, score, at)[1]


def respond(
    database: Database, org: Org, user_id: str, score: int, campaign_id: int, at: Any = NOW
) -> int:
    """A new contact (``user_id``) answers a survey of the campaign: its response's id."""
    identify(database, org, user_id)
    with database.write() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(
                contacts.c.organization_id == org.id, contacts.c.user_id == user_id
            )
        ).scalar_one()
        return answer_survey(conn, org.id, contact_id, campaign_id, score, at)[1]


def record(
    database: Database, org: Org, campaign_id: int, response_id: int, at: Any, **answers: Any
) -> None:
    """The response's answers to follow-up questions, recorded at ``at``."""
    with database.write() as conn:
        record_answers(
            conn,
            organization_id=org.id,
            campaign_id=campaign_id,
            response_id=response_id,
            answers=answers,
            now=at,
        )

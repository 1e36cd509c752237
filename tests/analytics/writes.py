"""One write at a time through the real paths, at the dataset's NOW: a contact identified,
a survey answered, follow-up questions answered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from promoter.campaigns.service import list_campaigns
from promoter.domain.messages import Envelope
from promoter.feedback.answers import record_answers
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, surveys
from tests.analytics.dataset import NOW, answer_survey
from tests.conftest import Org


def identify_all(database: Database, org: Org, traits: dict[str, dict[str, Any]]) -> None:
    """Each user of ``traits`` identified with its traits (and an email of its own)."""
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org.id,
        messages=[
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com", **t}}
            for user, t in traits.items()
        ],
        envelope=Envelope(received_at=NOW),
        allowed=TRACKING_API_TYPES,
    )
    assert [r for r in results if r.status != "accepted"] == []


def identify(database: Database, org: Org, user_id: str, **traits: Any) -> None:
    identify_all(database, org, {user_id: traits})


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


#: Plans whose NPS differ from the rest's beyond chance or not. Pro: NPS +67; Free: -17;
#: Team: +25, as the other plans' together (+25.4); Trial: +30 on 10 answers, too few.
PLANTED = {
    "Pro": [10] * 45 + [8] * 10 + [3] * 5,
    "Free": [9] * 15 + [7] * 20 + [0] * 25,
    "Team": [10] * 30 + [7] * 15 + [5] * 15,
    "Trial": [10] * 5 + [7] * 3 + [6] * 2,
}


def answer_by_plan(database: Database, org: Org, scores: dict[str, list[int]]) -> None:
    """One new contact per score of each plan, on that plan, answering with that score."""
    users = [
        (plan, f"{plan}-{i}", score) for plan, s in scores.items() for i, score in enumerate(s)
    ]
    identify_all(database, org, {user: {"plan": plan} for plan, user, _ in users})
    with database.write() as conn:
        campaign_id = list_campaigns(conn, organization_id=org.id)[0].id
        for _, user, score in users:
            contact_id = conn.execute(
                select(contacts.c.id).where(
                    contacts.c.organization_id == org.id, contacts.c.user_id == user
                )
            ).scalar_one()
            answer_survey(conn, org.id, contact_id, campaign_id, score, NOW)

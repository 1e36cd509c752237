"""One write at a time through the real paths, at the dataset's NOW: a contact identified,
a survey answered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from promoter.domain.messages import Envelope
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

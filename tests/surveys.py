"""Surveys for tests: scheduled through ingestion, their links and tokens, answered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, responses, surveys
from promoter.surveys.responses import find_survey, record_comment, record_score
from promoter.surveys.trigger import SurveyTrigger
from tests.conftest import Org
from tests.credentials import basic


def schedule(database: Database, org: Org, *user_ids: str) -> None:
    messages: list[dict[str, Any]] = []
    for user_id in user_ids:
        messages.append(
            {
                "type": "identify",
                "userId": user_id,
                "traits": {"email": f"{user_id}@example.com", "plan": "pro"},
            }
        )
        messages.append({"type": "track", "userId": user_id, "event": "Signed Up"})
    ingest_messages(
        database=database,
        ingestor=Ingestor([SurveyTrigger()]),
        organization_id=org.id,
        messages=messages,
        envelope=Envelope(received_at=datetime.now(UTC)),
        allowed=TRACKING_API_TYPES,
    )


def token_of(database: Database, user_id: str, org: Org | None = None) -> str:
    """The survey token of the contact ``user_id`` (of ``org``, when several have one)."""
    query = (
        select(surveys.c.token)
        .join(contacts, contacts.c.id == surveys.c.contact_id)
        .where(contacts.c.user_id == user_id)
    )
    if org is not None:
        query = query.where(contacts.c.organization_id == org.id)
    with database.read() as conn:
        token: str = conn.execute(query).scalar_one()
    return token


def answer(
    database: Database,
    org: Org,
    user_id: str,
    score: int,
    comment: str | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Schedule a survey for ``user_id`` and answer it (at ``now``, default: now)."""
    now = now or datetime.now(UTC)
    schedule(database, org, user_id)
    token = token_of(database, user_id)
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=score, now=now)
        if comment is not None:
            survey = find_survey(conn, token=token)
            assert survey is not None
            record_comment(conn, survey, comment=comment, now=now)


def answer_on(
    database: Database,
    org: Org,
    user_id: str,
    score: int,
    channel: str,
    *,
    page_url: str | None = None,
) -> int:
    """Schedule a survey for ``user_id``, set its channel, send it and answer it (on
    ``page_url``, for a web survey): the response's id."""
    schedule(database, org, user_id)
    token = token_of(database, user_id, org)
    now = datetime.now(UTC)
    with database.write() as conn:
        conn.execute(
            update(surveys)
            .where(surveys.c.token == token)
            .values(channel=channel, status="sent", sent_at=now)
        )
        survey = find_survey(conn, token=token)
        assert survey is not None and survey.channel == channel
        record_score(conn, survey, score=score, now=now)
        response_id: int = conn.execute(
            select(responses.c.id).where(responses.c.survey_id == survey.survey_id)
        ).scalar_one()
        if page_url is not None:
            conn.execute(
                update(responses).where(responses.c.id == response_id).values(page_url=page_url)
            )
    return response_id


def survey_link(client: TestClient, services: Services, database: Database, org: Org) -> str:
    return survey_link_for(client, services, database, org, "ted")


def survey_link_for(
    client: TestClient, services: Services, database: Database, org: Org, user: str
) -> str:
    traits = {"email": f"{user}@example.com", "firstName": user.title(), "plan": "Premium"}
    traits |= {"seats": 4}
    client.post("/v1/identify", json={"userId": user, "traits": traits}, headers=basic(org.key))
    client.post("/v1/track", json={"userId": user, "event": "Signed Up"}, headers=basic(org.key))
    with database.read() as conn:
        token = conn.execute(
            select(surveys.c.token)
            .join(contacts, contacts.c.id == surveys.c.contact_id)
            .where(contacts.c.email == f"{user}@example.com")
        ).scalar_one()
    return f"/s/{services.signer.sign(token)}"

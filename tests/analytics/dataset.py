"""A small random program of contacts, events, orders and responses, built through the
real write paths (ingestion, survey answers), for comparing analytics with a reference."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from promoter.campaigns import service as campaigns
from promoter.campaigns.models import CampaignSettings
from promoter.campaigns.questions import Question, questions_for
from promoter.domain.channels import CHANNELS
from promoter.domain.messages import Envelope
from promoter.feedback.answers import record_answers
from promoter.feedback.followup import add_tags, set_status
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, responses, surveys
from promoter.surveys.responses import find_survey, record_comment, record_score

NOW = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)

PLANS = ["Free", "Pro", "Premium", "Enterprise", "premium"]
COUNTRIES = ["DE", "FR", "US", "GB", "Österreich"]
EVENTS = ["Order Completed", "Viewed Page", "Signed Up"]
TAGS = ["bug", "pricing", "praise"]
NAMES = ["plan", "country", "seats", "mrr", "trial", "renewal", "company.size", "labels", "arr"]
#: The follow-up questions of the first campaign and of the second (ids shared on purpose).
FIRST_QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "q1",
        "text": "What matters most?",
        "type": "single",
        "choices": ["Price", "Support", "Speed"],
    },
    {
        "id": "q2",
        "text": "What do you use?",
        "type": "multiple",
        "choices": ["Docs", "API", "UI", "Billing"],
    },
    {"id": "q3", "text": "How easy was it?", "type": "scale"},
    {"id": "q4", "text": "What went wrong?", "type": "text", "audience": "detractors"},
]
SECOND_QUESTIONS: list[dict[str, Any]] = [
    {"id": "q1", "text": "Anything else?", "type": "text"},
    {"id": "q2", "text": "How fast was delivery?", "type": "scale", "audience": "promoters"},
]
TEXT_ANSWERS = ["Too expensive", "slow support", "Price is fine", "ö umlaut", "3"]


@dataclass(frozen=True)
class Dataset:
    organization_id: int
    campaign_ids: list[int]
    user_ids: list[str]


def _traits(rng: random.Random, numbers: random.Random) -> dict[str, Any]:
    """Random traits; ``arr`` (many whole numbers, bucketed in breakdowns) is drawn from
    ``numbers``, so the other traits stay what they were before it existed."""
    traits: dict[str, Any] = {}
    if rng.random() < 0.9:
        traits["plan"] = rng.choice(PLANS)
    if rng.random() < 0.8:
        traits["country"] = rng.choice(COUNTRIES)
    if rng.random() < 0.8:
        traits["seats"] = rng.choice([1, 2, 5, 10, 10.5, 50])
    if rng.random() < 0.7:
        traits["mrr"] = rng.choice([0, 9.5, 49, 99.25, 500, 1200])
    if rng.random() < 0.7:
        traits["trial"] = rng.random() < 0.5
    if rng.random() < 0.6:
        day = rng.randrange(0, 400)
        traits["renewal"] = (NOW - timedelta(days=200) + timedelta(days=day)).isoformat()
    if rng.random() < 0.5:
        traits["company"] = {"size": rng.choice(["small", "large", "10"])}
    if rng.random() < 0.3:
        traits["labels"] = rng.sample(["a", "b", "c"], rng.randint(1, 2))
    if rng.random() < 0.1:
        traits["seats"] = str(rng.choice([5, 10]))  # a number sent as text
    if numbers.random() < 0.8:
        traits["arr"] = numbers.choice([0, 0, numbers.randrange(1, 100), numbers.randrange(60_000)])
    return traits


def _properties(rng: random.Random, event: str) -> dict[str, Any]:
    if event == "Order Completed":
        props: dict[str, Any] = {"currency": rng.choice(["USD", "EUR"])}
        if rng.random() < 0.8:
            props["total"] = rng.choice([5, 20.5, 99.75, 100, 150, 400.25])
        else:
            props["revenue"] = rng.choice([10, 120])
        if rng.random() < 0.3:
            props["coupon"] = {"code": rng.choice(["SPRING", "VIP"]), "first": rng.random() < 0.5}
        return props
    return {"path": rng.choice(["/", "/pricing", "/docs"]), "repeat": rng.random() < 0.5}


def build(
    database: Database,
    organization_id: int,
    rng: random.Random,
    *,
    contacts_count: int = 24,
    responses_count: int = 80,
) -> Dataset:
    ingestor = Ingestor()
    numbers = random.Random(organization_id)

    def send(messages: list[dict[str, Any]], at: datetime) -> None:
        results = ingest_messages(
            database=database,
            ingestor=ingestor,
            organization_id=organization_id,
            messages=messages,
            envelope=Envelope(received_at=at),
            allowed=TRACKING_API_TYPES,
        )
        assert all(r.status == "accepted" for r in results), results

    with database.write() as conn:
        template_id = campaigns.list_campaigns(conn, organization_id=organization_id)[
            0
        ].email_template_id
        second = campaigns.create_campaign(
            conn,
            organization_id=organization_id,
            settings=CampaignSettings(name="Second", kind="manual"),
            template_id=template_id,
        )
        campaign_ids = [
            c.id for c in campaigns.list_campaigns(conn, organization_id=organization_id)
        ]
    assert second.id in campaign_ids
    with database.write() as conn:
        for campaign_id, questions in zip(
            campaign_ids, (FIRST_QUESTIONS, SECOND_QUESTIONS), strict=True
        ):
            campaigns.update_campaign(
                conn,
                organization_id=organization_id,
                campaign_id=campaign_id,
                changes={"questions": questions},
            )
    # Answers come from a generator of their own: the rest of the data stays as it was.
    answering = random.Random(20261207)
    channeling = random.Random(20261208)
    user_ids = [f"user-{i}" for i in range(contacts_count)]
    start = NOW - timedelta(days=120)
    send(
        [
            {
                "type": "identify",
                "userId": u,
                "traits": {
                    "email": f"{u}@example.com",
                    "name": f"User {u}",
                    **_traits(rng, numbers),
                },
                "timestamp": start.isoformat(),
            }
            for u in user_ids
        ],
        start,
    )
    tracks = []
    for _ in range(contacts_count * 3):
        event = rng.choice(EVENTS)
        at = NOW - timedelta(days=rng.uniform(0, 200))
        tracks.append(
            {
                "type": "track",
                "userId": rng.choice(user_ids),
                "event": event,
                "properties": _properties(rng, event),
                "timestamp": at.isoformat(),
            }
        )
    send(tracks, NOW)
    times = sorted(NOW - timedelta(days=rng.uniform(0, 110)) for _ in range(responses_count))
    for at in times:
        user = rng.choice(user_ids)
        if rng.random() < 0.3:  # attributes change between answers: snapshot != current
            traits = {"email": f"{user}@example.com", **_traits(rng, numbers)}
            send([{"type": "identify", "userId": user, "traits": traits}], at)
        channel = channeling.choices(CHANNELS, weights=(6, 3, 1))[0]
        _answer(
            database,
            organization_id,
            rng,
            user,
            rng.choice(campaign_ids),
            at,
            answering,
            channel,
        )
    return Dataset(organization_id, campaign_ids, user_ids)


def _answer(
    database: Database,
    organization_id: int,
    rng: random.Random,
    user_id: str,
    campaign_id: int,
    at: datetime,
    answering: random.Random,
    channel: str,
) -> None:
    with database.write() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(
                contacts.c.organization_id == organization_id, contacts.c.user_id == user_id
            )
        ).scalar_one()
        token, response_id = answer_survey(
            conn, organization_id, contact_id, campaign_id, rng.randint(0, 10), at, channel=channel
        )
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_answers(
            conn,
            organization_id=organization_id,
            campaign_id=campaign_id,
            response_id=response_id,
            answers=_answers(conn, organization_id, campaign_id, survey.score or 0, answering),
            now=at,
        )
        if rng.random() < 0.5:
            comment = rng.choice(["Great", "too expensive", "", "  ", "=SUM(A1) slow"])
            record_comment(conn, survey, comment=comment, now=at)
        if rng.random() < 0.3:
            set_status(
                conn,
                organization_id=organization_id,
                response_id=response_id,
                status="CLOSED",
                now=at,
            )
        tags = [tag for tag in TAGS if rng.random() < 0.25]
        if tags:
            add_tags(
                conn, organization_id=organization_id, response_id=response_id, tags=tags, now=at
            )


def answer_survey(
    conn: Connection,
    organization_id: int,
    contact_id: int,
    campaign_id: int,
    score: int,
    at: datetime,
    *,
    channel: str = "email",
) -> tuple[str, int]:
    """A survey sent to the contact at ``at`` (on ``channel``) and answered then: its token
    and response."""
    token = send_survey(conn, organization_id, contact_id, campaign_id, at, channel=channel)
    survey = find_survey(conn, token=token)
    assert survey is not None
    record_score(conn, survey, score=score, now=at)
    response_id = conn.execute(
        select(responses.c.id).where(responses.c.survey_id == survey.survey_id)
    ).scalar_one()
    return token, int(response_id)


def send_survey(
    conn: Connection,
    organization_id: int,
    contact_id: int,
    campaign_id: int,
    at: datetime,
    *,
    channel: str = "email",
) -> str:
    """A survey sent to the contact at ``at`` on ``channel``, unanswered: its token."""
    token = secrets.token_hex(16)
    conn.execute(
        insert(surveys).values(
            organization_id=organization_id,
            campaign_id=campaign_id,
            contact_id=contact_id,
            status="sent",
            token=token,
            attributes={},
            scheduled_at=at,
            sent_at=at,
            created_at=at,
            channel=channel,
        )
    )
    return token


def _answers(
    conn: Connection, organization_id: int, campaign_id: int, score: int, rng: random.Random
) -> dict[str, list[str]]:
    """Random answers to the questions the campaign asks after ``score`` (some skipped)."""
    asked: list[Question] = campaigns.questions_of(
        conn, organization_id=organization_id, campaign_ids=[campaign_id]
    )[campaign_id]
    answers: dict[str, list[str]] = {}
    for question in questions_for(asked, score):
        if rng.random() < 0.25:
            continue
        if question.type == "text":
            answers[question.id] = [rng.choice(TEXT_ANSWERS)]
        elif question.type == "scale":
            answers[question.id] = [str(rng.randint(1, 5))]
        elif question.type == "single":
            answers[question.id] = [rng.choice(question.choices)]
        else:
            picked = rng.sample(question.choices, rng.randint(1, 3))
            answers[question.id] = [c for c in question.choices if c in picked]
    return answers

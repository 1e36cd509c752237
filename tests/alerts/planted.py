"""An organization's answers with a drop planted in one segment: the plan "Enterprise"
falls from NPS +50 to -10 over the latest three weeks, while "Free" (200 answers a
window) stays at +50, so the organization and its campaign move by less than chance."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from promoter.alerts.check import Alerting
from promoter.alerts.rule import windows
from promoter.analytics.engine import Analytics
from promoter.analytics.segments import create_segment
from promoter.campaigns.service import list_campaigns
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    response_attributes,
    responses,
    surveys,
    users,
)
from promoter.surveys.responses import _attributes_now
from tests.analytics.writes import identify
from tests.conftest import Org

#: A Monday noon; the webhook helpers' sender runs at tests.webhooks.T0, a day later.
NOW = datetime(2031, 3, 2, 12, 0, tzinfo=UTC)
#: Where NOW's daily check ends its windows.
TODAY = NOW.replace(hour=0)
BASE_URL = "https://nps.example.com"
#: Ten answers at NPS +50 and at NPS -10: (score, how many).
STEADY = ((10, 6), (8, 3), (3, 1))
DROPPED = ((10, 3), (8, 3), (3, 4))


def scores(mix: tuple[tuple[int, int], ...], answers: int) -> list[int]:
    tens = [score for score, count in mix for _ in range(count)]
    return [tens[i % 10] for i in range(answers)]


def answer_many(
    database: Database,
    org: Org,
    user_id: str,
    before: list[int],
    latest: list[int],
    until: datetime,
) -> None:
    """``user_id`` answers ``before`` spread over the earlier window and ``latest`` over
    the latest one (the rule's windows ending at ``until``): the rows ``record_score``
    writes (survey, response with its snapshot, the snapshot's typed copy), written a
    few statements at a time, as hundreds of answers one by one take seconds."""
    spans = windows(until)
    times = []
    for start, end, given in (
        (spans.before_since, spans.since, before),
        (spans.since, spans.until, latest),
    ):
        step = (end - start) / (len(given) + 1)
        times += [(start + step * (i + 1), score) for i, score in enumerate(given)]
    answer_at(database, org, user_id, times)


def answer_at(
    database: Database, org: Org, user_id: str, times: list[tuple[datetime, int]]
) -> None:
    """``user_id`` answers each (time, score) in its organization's one campaign."""
    with database.write() as conn:
        contact_id = conn.execute(
            select(contacts.c.id).where(
                contacts.c.organization_id == org.id, contacts.c.user_id == user_id
            )
        ).scalar_one()
        (campaign,) = list_campaigns(conn, organization_id=org.id)
        tokens = [secrets.token_hex(16) for _ in times]
        common = {"organization_id": org.id, "campaign_id": campaign.id, "contact_id": contact_id}
        conn.execute(
            insert(surveys),
            [
                {
                    **common,
                    "status": "answered",
                    "token": token,
                    "attributes": {},
                    "scheduled_at": at,
                    "sent_at": at,
                    "answered_at": at,
                    "created_at": at,
                }
                for token, (at, _) in zip(tokens, times, strict=True)
            ],
        )
        rows = conn.execute(
            select(surveys.c.token, surveys.c.id).where(surveys.c.token.in_(tokens))
        )
        ids = {token: survey_id for token, survey_id in rows}
        snapshot = _attributes_now(conn, contact_id)
        conn.execute(
            insert(responses),
            [
                {
                    **common,
                    "survey_id": ids[token],
                    "score": score,
                    "contact_snapshot": snapshot,
                    "survey_attributes": {},
                    "created_at": at,
                    "updated_at": at,
                }
                for token, (at, score) in zip(tokens, times, strict=True)
            ],
        )
        source = contact_attributes.c
        conn.execute(
            insert(response_attributes).from_select(
                [
                    "response_id",
                    "name",
                    "organization_id",
                    "value_type",
                    "value_text",
                    "value_number",
                    "value_date",
                ],
                select(
                    responses.c.id,
                    source.name,
                    source.organization_id,
                    source.value_type,
                    source.value_text,
                    source.value_number,
                    source.value_date,
                )
                .join(responses, responses.c.contact_id == source.contact_id)
                .where(source.contact_id == contact_id),
            )
        )


def plant(
    database: Database,
    org: Org,
    *,
    enterprise: int = 40,
    free: int = 200,
    until: datetime = TODAY,
) -> None:
    """The Enterprise drop and the steady Free plan, each a saved segment, in the rule's
    windows ending at ``until`` (by default those of NOW's daily check)."""
    identify(database, org, "ent", plan="Enterprise")
    identify(database, org, "free", plan="Free")
    answer_many(
        database, org, "ent", scores(STEADY, enterprise), scores(DROPPED, enterprise), until
    )
    answer_many(database, org, "free", scores(STEADY, free), scores(STEADY, free), until)
    with database.write() as conn:
        for plan in ("Enterprise", "Free"):
            create_segment(
                conn,
                organization_id=org.id,
                name=plan,
                filter={"attribute": "plan", "op": "eq", "value": plan},
            )


def add_user(
    database: Database,
    org: Org,
    email: str,
    role: str,
    alerts: bool | None,
    *,
    digest: bool | None = None,
) -> None:
    with database.write() as conn:
        conn.execute(
            users.insert().values(
                organization_id=org.id,
                email=email,
                password_hash="-",
                created_at=NOW - timedelta(days=100),
                role=role,
                alert_emails=alerts,
                digest_emails=digest,
            )
        )


def alerting(database: Database, analytics: Analytics | None = None) -> Alerting:
    return Alerting(database, analytics or Analytics(), BASE_URL)

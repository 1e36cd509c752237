"""A real Promoter server made ready for the web survey, through its REST API as a customer
would: the web survey enabled for the customer's origin, a web campaign triggered by a
track event (every other campaign paused), and what the database then holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from sqlalchemy import Connection, Table, select

from promoter.storage.engine import Database
from promoter.storage.tables import contacts, events, response_answers, responses, surveys
from promoter.websurveys.identity import sign_user
from tests.conftest import Org
from tests.credentials import basic, token
from tests.e2e.conftest import ServerProcess

TRIGGER = "Report Viewed"
QUESTIONS = [
    {"id": "why", "text": "What matters most?", "type": "single",
     "choices": ["Price", "Support"]},
    {"id": "more", "text": "Anything else?", "type": "text"},
]  # fmt: skip


@dataclass(frozen=True)
class WebSurvey:
    """The organization's web survey settings and its web campaign."""

    site_key: str
    secret: str
    campaign_id: int
    #: A campaign by email (paused), for surveys sent before the visit.
    email_campaign_id: int

    def sign(self, user_id: str) -> str:
        return sign_user(self.secret, user_id)


def _api(site: ServerProcess, org: Org, method: str, path: str, **body: Any) -> Any:
    answer = httpx.request(
        method, f"{site.url}/api/v2/{path}", json=body or None, headers=token(org.key)
    )
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


def set_up(site: ServerProcess, org: Org, origin: str, channel: str = "web") -> WebSurvey:
    """Web survey enabled for ``origin``; a campaign on ``channel`` triggered by TRIGGER
    with no delay; every other campaign of the organization paused."""
    settings = _api(site, org, "PUT", "web-survey/", allowed_origins=[origin], enabled=True)
    existing = _api(site, org, "GET", "campaigns/")["results"]
    for campaign in existing:
        if campaign["status"] == "active":
            _api(site, org, "POST", f"campaigns/{campaign['id']}/pause/")
    campaign = _api(
        site,
        org,
        "POST",
        "campaigns/",
        name="In the app",
        email=existing[0]["email"],
        channel=channel,
        trigger_events=[TRIGGER],
        delay_minutes=0,
        questions=QUESTIONS,
    )
    secret = settings["identity_secret"]
    return WebSurvey(settings["site_key"], secret, campaign["id"], existing[0]["id"])


def known_contact(site: ServerProcess, org: Org, user_id: str) -> None:
    """The contact, from the customer's server through Segment (a page cannot create
    contacts, only describe and survey known ones)."""
    traits = {"email": f"{user_id}@example.com"}
    sent = httpx.post(
        f"{site.url}/v1/identify",
        json={"userId": user_id, "traits": traits},
        headers=basic(org.key),
    )
    assert sent.status_code == 200, sent.text


def surveys_of(database: Database, user_id: str) -> list[dict[str, Any]]:
    """The surveys of the contact with ``user_id``, oldest first, as rows."""
    return _rows_of(database, surveys, user_id)


def responses_of(database: Database, user_id: str) -> list[dict[str, Any]]:
    return _rows_of(database, responses, user_id)


def _rows_of(database: Database, table: Table, user_id: str) -> list[dict[str, Any]]:
    with database.read() as conn:
        found = conn.execute(
            select(table)
            .join(contacts, contacts.c.id == table.c.contact_id)
            .where(contacts.c.user_id == user_id)
            .order_by(table.c.id)
        )
        return [dict(row._mapping) for row in found]


def events_of(database: Database, user_id: str) -> list[dict[str, Any]]:
    """The events recorded for the contact (an identify records none, a track one)."""
    return _rows_of(database, events, user_id)


def contact_id_of(conn: Connection, user_id: str) -> int:
    found = conn.execute(select(contacts.c.id).where(contacts.c.user_id == user_id))
    return int(found.scalar_one())


def answers_of(database: Database, response_id: int) -> dict[str, list[str]]:
    """A response's answers to follow-up questions, by question id."""
    with database.read() as conn:
        found = conn.execute(
            select(response_answers.c.question_id, response_answers.c.value)
            .where(response_answers.c.response_id == response_id)
            .order_by(response_answers.c.question_id, response_answers.c.position)
        )
        answers: dict[str, list[str]] = {}
        for question_id, value in found:
            answers.setdefault(question_id, []).append(value)
        return answers

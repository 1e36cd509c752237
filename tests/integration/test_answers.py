"""Answers to follow-up questions on both databases: recorded and read back, replaced by the
last submission, announced in the feedback event, exported as CSV columns, kept apart
between organizations; question ids kept across edits; filters checked against the
organization's campaigns."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlalchemy import delete, select

from promoter.analytics.filters import FilterError
from promoter.analytics.params import QuestionParams, build_query
from promoter.analytics.query import scope
from promoter.campaigns import service as campaigns
from promoter.campaigns.models import Campaign
from promoter.feedback.answers import answers_for
from promoter.feedback.reading import export_csv, get_feedback
from promoter.storage.engine import Database
from promoter.storage.tables import response_answers, responses, webhook_deliveries
from promoter.webhooks.events import FEEDBACK_ADDED_OR_CHANGED
from tests.analytics import writes
from tests.analytics.dataset import NOW
from tests.analytics.writes import respond
from tests.conftest import Org
from tests.webhooks import subscribe

QUESTIONS: list[dict[str, Any]] = [
    {"id": "why", "text": "=What went wrong?", "type": "text", "audience": "detractors"},
    {"id": "pick", "text": "What matters most?", "type": "single", "choices": ["Price", "Speed"]},
    {"id": "many", "text": "What do you use?", "type": "multiple", "choices": ["Docs", "API"]},
    {"id": "ease", "text": "How easy was it?", "type": "scale"},
]


def with_questions(database: Database, org: Org, questions: list[Any] = QUESTIONS) -> Campaign:
    with database.write() as conn:
        campaign = campaigns.list_campaigns(conn, organization_id=org.id)[0]
        return campaigns.update_campaign(
            conn,
            organization_id=org.id,
            campaign_id=campaign.id,
            changes={"questions": questions},
        )


def record(
    database: Database, org: Org, campaign_id: int, response_id: int, **answers: Any
) -> None:
    writes.record(database, org, campaign_id, response_id, NOW + timedelta(minutes=1), **answers)


def stored(database: Database, org: Org, response_id: int) -> dict[str, list[str]]:
    with database.read() as conn:
        found = answers_for(conn, organization_id=org.id, response_ids=[response_id])
    return found.get(response_id, {})


def test_answers_round_trip_and_the_last_submission_wins(database: Database, org: Org) -> None:
    campaign = with_questions(database, org)
    response_id = respond(database, org, "ana", 3, campaign.id)
    assert stored(database, org, response_id) == {}
    record(
        database,
        org,
        campaign.id,
        response_id,
        why=["Slow, très lent 🐢"],
        many=["Docs", "API"],
        ease=["2"],
    )
    assert stored(database, org, response_id) == {
        "ease": ["2"],
        "many": ["Docs", "API"],
        "why": ["Slow, très lent 🐢"],
    }
    with database.read() as conn:
        stamped = conn.execute(
            select(responses.c.updated_at).where(responses.c.id == response_id)
        ).scalar_one()
        positions = conn.execute(
            select(response_answers.c.position)
            .where(response_answers.c.question_id == "many")
            .order_by(response_answers.c.position)
        ).scalars()
        assert list(positions) == [0, 1]
    assert stamped == NOW + timedelta(minutes=1)
    record(database, org, campaign.id, response_id, pick=["Speed"], many=[])
    assert stored(database, org, response_id) == {"pick": ["Speed"]}
    record(database, org, campaign.id, response_id)
    assert stored(database, org, response_id) == {}


def test_long_text_answers_fit_on_both_databases(database: Database, org: Org) -> None:
    campaign = with_questions(database, org)
    response_id = respond(database, org, "ana", 0, campaign.id)
    longest = "🐢" * 2000  # 8,000 bytes: more than an index entry could hold
    record(database, org, campaign.id, response_id, why=[longest])
    assert stored(database, org, response_id) == {"why": [longest]}


def test_answers_of_another_organization_are_neither_written_nor_read(
    database: Database, org: Org, other_org: Org
) -> None:
    mine = with_questions(database, org)
    theirs = with_questions(database, other_org)
    my_response = respond(database, org, "ana", 9, mine.id)
    their_response = respond(database, other_org, "bob", 9, theirs.id)
    record(database, other_org, theirs.id, their_response, pick=["Price"])
    with pytest.raises(LookupError):
        record(database, org, theirs.id, their_response, pick=["Speed"])
    with pytest.raises(LookupError):
        record(database, org, mine.id, their_response, pick=["Speed"])
    with pytest.raises(LookupError):
        record(database, org, theirs.id, my_response, pick=["Speed"])
    with database.read() as conn:
        assert answers_for(conn, organization_id=org.id, response_ids=[their_response]) == {}
        assert get_feedback(conn, organization_id=org.id, response_id=their_response) is None
    assert stored(database, other_org, their_response) == {"pick": ["Price"]}


@pytest.mark.parametrize(
    "answers",
    [
        {"Not an id": ["x"]},
        {"x" * 33: ["x"]},
        {"why": "not a list"},
        {"why": [3]},
        {"many": ["a"] * 11},
        {"why": ["x" * 2001]},
    ],
)
def test_answers_no_question_could_have_are_refused(
    database: Database, org: Org, answers: dict[str, Any]
) -> None:
    campaign = with_questions(database, org)
    response_id = respond(database, org, "ana", 3, campaign.id)
    with pytest.raises(ValueError):
        record(database, org, campaign.id, response_id, **answers)
    assert stored(database, org, response_id) == {}


def test_answers_go_with_their_response(database: Database, org: Org) -> None:
    campaign = with_questions(database, org)
    response_id = respond(database, org, "ana", 3, campaign.id)
    record(database, org, campaign.id, response_id, why=["x"])
    with database.write() as conn:
        conn.execute(delete(responses).where(responses.c.id == response_id))
    with database.read() as conn:
        assert conn.execute(select(response_answers)).all() == []


def test_feedback_json_and_event_carry_the_answers(database: Database, org: Org) -> None:
    campaign = with_questions(database, org)
    response_id = respond(database, org, "ana", 3, campaign.id)
    subscribe(database, org, FEEDBACK_ADDED_OR_CHANGED, "https://hooks.example.com/nps")
    record(database, org, campaign.id, response_id, why=["Slow"], many=["API"], ease=["4"])
    expected = [
        {"question_id": "why", "question": "=What went wrong?", "type": "text", "value": "Slow"},
        {
            "question_id": "many",
            "question": "What do you use?",
            "type": "multiple",
            "value": ["API"],
        },
        {"question_id": "ease", "question": "How easy was it?", "type": "scale", "value": 4},
    ]
    with database.read() as conn:
        feedback = get_feedback(conn, organization_id=org.id, response_id=response_id)
        payloads = conn.execute(select(webhook_deliveries.c.payload)).scalars().all()
    assert feedback is not None and feedback.to_json()["answers"] == expected
    assert [p["data"]["answers"] for p in payloads] == [expected]
    # The same answers again: nothing changed, nothing is announced.
    record(database, org, campaign.id, response_id, ease=["4"], many=["API"], why=["Slow"])
    with database.read() as conn:
        assert len(conn.execute(select(webhook_deliveries)).all()) == 1
    # A question no longer asked: its answer stays, without a question.
    with_questions(database, org, QUESTIONS[1:])
    with database.read() as conn:
        feedback = get_feedback(conn, organization_id=org.id, response_id=response_id)
    assert feedback is not None
    assert feedback.to_json()["answers"][-1] == {
        "question_id": "why",
        "question": None,
        "type": None,
        "value": "Slow",
    }


def test_question_ids_are_kept_and_never_reused(database: Database, org: Org) -> None:
    campaign = with_questions(database, org, [{"text": "Why?", "type": "text"}])
    assert [q.id for q in campaign.questions] == ["q1"]
    response_id = respond(database, org, "ana", 3, campaign.id)
    record(database, org, campaign.id, response_id, q1=["Because"])
    # Reordered, reworded with the id kept, a new one added: the ids follow the questions.
    campaign = with_questions(
        database,
        org,
        [
            {"text": "Pick", "type": "single", "choices": ["a", "b"]},
            {"id": "q1", "text": "Why, really?", "type": "text"},
        ],
    )
    assert [q.id for q in campaign.questions] == ["q2", "q1"]
    # Sent back without ids: the same text keeps its id.
    campaign = with_questions(
        database,
        org,
        [
            {"text": "Why, really?", "type": "text"},
            {"text": "Pick", "type": "single", "choices": ["a", "b"]},
        ],
    )
    assert [q.id for q in campaign.questions] == ["q1", "q2"]
    # Both removed, then a new question: q1's answers are not taken over by it (q2 has
    # none: it is free again).
    campaign = with_questions(database, org, [{"text": "Other", "type": "scale"}])
    assert [q.id for q in campaign.questions] == ["q2"]


def test_csv_export_has_a_column_per_question(database: Database, org: Org) -> None:
    campaign = with_questions(database, org)
    first = respond(database, org, "ana", 3, campaign.id)
    respond(database, org, "bob", 9, campaign.id)
    record(database, org, campaign.id, first, why=["Slow"], many=["Docs", "API"], ease=["2"])
    with database.read() as conn:
        query = build_query(
            conn, organization_id=org.id, zone=ZoneInfo("UTC"), params=QuestionParams()
        )
        resolved = scope(conn, query, now=NOW)
    text = "".join(export_csv(database.read, resolved))
    rows = list(csv.DictReader(io.StringIO(text)))
    header = next(csv.reader(io.StringIO(text)))
    assert header[-4:] == [
        "'=What went wrong?",
        "What matters most?",
        "What do you use?",
        "How easy was it?",
    ]
    answered = next(r for r in rows if r["response_id"] == str(first))
    assert answered["'=What went wrong?"] == "Slow"
    assert answered["What do you use?"] == "Docs; API"
    assert answered["How easy was it?"] == "2" and answered["What matters most?"] == ""
    unanswered = next(r for r in rows if r["response_id"] != str(first))
    assert all(unanswered[column] == "" for column in header[-4:])


def question(database: Database, org: Org, flt: Any) -> Any:
    with database.read() as conn:
        return build_query(
            conn,
            organization_id=org.id,
            zone=ZoneInfo("UTC"),
            params=QuestionParams(filter=orjson.dumps(flt).decode()),
        )


def test_filters_name_the_organizations_own_campaigns_and_questions(
    database: Database, org: Org, other_org: Org
) -> None:
    mine = with_questions(database, org)
    theirs = with_questions(database, other_org)
    assert question(database, org, {"answer": "pick", "campaign": mine.id, "value": "Price"})
    for flt, message in [
        (
            {"answer": "pick", "campaign": theirs.id, "value": "Price"},
            f"filter.campaign: no campaign {theirs.id}",
        ),
        (
            {"answer": "nope", "campaign": mine.id, "op": "exists"},
            f"filter.answer: campaign {mine.id} has no question 'nope'",
        ),
        (
            {"answer": "pick", "campaign": mine.id, "op": "contains", "value": "Pr"},
            "filter.op: contains does not apply to a single question (pick); "
            "use eq, ne, in, not_in, exists, missing",
        ),
        (
            {"answer": "why", "campaign": mine.id, "op": "gt", "value": 3},
            "filter.op: gt does not apply to a text question (why); "
            "use eq, ne, in, not_in, exists, missing, contains",
        ),
        (
            {"and": [{"not": {"answer": "ease", "campaign": mine.id, "value": 6}}]},
            "filter.and[0].not.value: a scale answer is a whole number from 1 to 5; got '6'",
        ),
        (
            {"answer": "ease", "campaign": mine.id, "op": "in", "value": [1, "x"]},
            "filter.value: a scale answer is a whole number from 1 to 5; got 'x'",
        ),
    ]:
        with pytest.raises(FilterError) as refused:
            question(database, org, flt)
        assert str(refused.value) == message

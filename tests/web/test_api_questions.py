"""Follow-up questions through the REST API: the campaign settings and their errors, the
answers in the feedback JSON, and answer filters (with their 400s) in the NPS and feedback
endpoints; another organization's questions and answers never show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from promoter.storage.engine import Database
from tests.analytics.writes import record, respond
from tests.conftest import Org
from tests.web.rest_api import call, default_campaign, ok

QUESTIONS: list[dict[str, Any]] = [
    {"text": "What matters most?", "type": "single", "choices": ["Price", "Speed"]},
    {"text": "How easy was it?", "type": "scale", "audience": "detractors", "required": True},
]


def with_questions(client: TestClient, org: Org) -> dict[str, Any]:
    campaign = default_campaign(client, org)
    body = {
        "questions": QUESTIONS,
        "thanks_url": "https://acme.example.com/thanks",
        "answer_window_days": 14,
    }
    return dict(ok(call(client, org, "PATCH", campaign["href"], body)))


def test_questions_are_set_read_and_kept(client: TestClient, org: Org) -> None:
    campaign = default_campaign(client, org)
    assert campaign["questions"] == [] and campaign["thanks_url"] is None
    assert campaign["answer_window_days"] == 30
    changed = with_questions(client, org)
    assert changed["questions"] == [
        {
            "id": "q1",
            "text": "What matters most?",
            "type": "single",
            "choices": ["Price", "Speed"],
            "audience": "all",
            "required": False,
        },
        {
            "id": "q2",
            "text": "How easy was it?",
            "type": "scale",
            "choices": [],
            "audience": "detractors",
            "required": True,
        },
    ]
    assert changed["thanks_url"] == "https://acme.example.com/thanks"
    assert changed["answer_window_days"] == 14
    # What GET answered can be sent back (PUT); reordered, the ids stay with the questions.
    reordered = changed | {"questions": changed["questions"][::-1], "answer_window_days": None}
    put = ok(call(client, org, "PUT", changed["href"], reordered))
    assert [q["id"] for q in put["questions"]] == ["q2", "q1"]
    assert put["answer_window_days"] is None
    cleared = ok(call(client, org, "PATCH", changed["href"], {"questions": [], "thanks_url": None}))
    assert cleared["questions"] == [] and cleared["thanks_url"] is None
    created = ok(
        call(
            client,
            org,
            "POST",
            "/api/v2/campaigns/",
            {"name": "New", "email": campaign["email"], "questions": QUESTIONS[:1]},
        ),
        201,
    )
    assert [q["id"] for q in created["questions"]] == ["q1"]


def question(**changes: Any) -> dict[str, Any]:
    return {"text": "Why?", "type": "text", **changes}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"questions": "Why?"}, {"questions": ['Expected a list of items but got type "str".']}),
        ({"questions": None}, {"questions": ["This field may not be null."]}),
        (
            {"questions": [question()] * 6},
            {"questions": ["Ensure this field has no more than 5 elements."]},
        ),
        (
            {"questions": [question(text="")]},
            {"questions": ["Item 1 (text): This field may not be blank."]},
        ),
        (
            {"questions": [question(), question(text="x" * 501)]},
            {"questions": ["Item 2 (text): Ensure this field has no more than 500 characters."]},
        ),
        (
            {"questions": [question(type="essay")]},
            {"questions": ['Item 1 (type): "essay" is not a valid choice.']},
        ),
        (
            {"questions": [question(type="single", choices=["a"])]},
            {"questions": ["Item 1: A single choice question has 2 to 10 choices."]},
        ),
        (
            {"questions": [question(type="multiple", choices=["a", "a"])]},
            {"questions": ["Item 1 (choices): Choices must be distinct."]},
        ),
        (
            {"questions": [question(choices=["a", "b"])]},
            {"questions": ["Item 1: A text question has no choices."]},
        ),
        (
            {"questions": [question(audience="fans")]},
            {"questions": ['Item 1 (audience): "fans" is not a valid choice.']},
        ),
        (
            {"questions": [question(id="Why Not")]},
            {"questions": ["Item 1 (id): An id is 1 to 32 characters of a-z, 0-9, _ and -."]},
        ),
        (
            {"questions": [question(id="a"), question(id="a")]},
            {"questions": ["Question ids must be unique: a repeated."]},
        ),
        (
            {"questions": [question(colour="red")]},
            {"questions": ["Item 1 (colour): Unknown field."]},
        ),
        (
            {"questions": ["Why?"]},
            {"questions": ["Input should be a valid dictionary."]},
        ),
        (
            {"thanks_url": "javascript:alert(1)"},
            {"thanks_url": ["Must be an http:// or https:// address."]},
        ),
        (
            {"thanks_url": "https://x/" + "a" * 2000},
            {"thanks_url": ["Ensure this field has no more than 2000 characters."]},
        ),
        ({"thanks_url": 5}, {"thanks_url": ["Not a valid string."]}),
        (
            {"answer_window_days": 0},
            {"answer_window_days": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"answer_window_days": 366},
            {"answer_window_days": ["Ensure this value is less than or equal to 365."]},
        ),
        ({"answer_window_days": "soon"}, {"answer_window_days": ["A valid integer is required."]}),
    ],
)
def test_bad_settings_are_400s_that_say_what(
    client: TestClient, org: Org, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    campaign = default_campaign(client, org)
    response = call(client, org, "PATCH", campaign["href"], body)
    assert response.status_code == 400, response.text
    assert response.json() == errors
    created = call(
        client, org, "POST", "/api/v2/campaigns/", {"name": "A", "email": campaign["email"], **body}
    )
    assert created.status_code == 400 and created.json() == errors
    assert ok(call(client, org, "GET", campaign["href"])) == campaign


def answered(
    database: Database, org: Org, campaign_id: int, user_id: str, score: int, **answers: Any
) -> int:
    now = datetime.now(UTC)
    response_id = respond(database, org, user_id, score, campaign_id, now)
    record(database, org, campaign_id, response_id, now, **answers)
    return response_id


def get(client: TestClient, org: Org, path: str, flt: Any) -> Any:
    return call(client, org, "GET", path, params={"filter": orjson.dumps(flt).decode()})


def test_answers_in_the_feedback_json_and_filters(
    client: TestClient, database: Database, org: Org, other_org: Org
) -> None:
    mine = with_questions(client, org)
    theirs = with_questions(client, other_org)
    price = answered(database, org, mine["id"], "ana", 3, q1=["Price"], q2=["2"])
    speed = answered(database, org, mine["id"], "bob", 10, q1=["Speed"])
    answered(database, other_org, theirs["id"], "eve", 3, q1=["Price"], q2=["1"])
    detail = ok(call(client, org, "GET", f"/api/v2/feedback/{price}/"))
    assert detail["answers"] == [
        {"question_id": "q1", "question": "What matters most?", "type": "single", "value": "Price"},
        {"question_id": "q2", "question": "How easy was it?", "type": "scale", "value": 2},
    ]
    flt = {"answer": "q1", "campaign": mine["id"], "op": "in", "value": ["Price"]}
    listed = ok(get(client, org, "/api/v2/feedback/", flt))
    assert [f["id"] for f in listed["results"]] == [price]
    everyone = ok(get(client, org, "/api/v2/feedback/", {"not": flt}))
    assert [f["id"] for f in everyone["results"]] == [speed]
    scale = {"answer": "q2", "campaign": mine["id"], "op": "lte", "value": 2}
    since = {"since": "2000-01-01"}
    nps = ok(
        call(
            client,
            org,
            "GET",
            "/api/v2/nps/",
            params={"filter": orjson.dumps(scale).decode()} | since,
        )
    )
    assert nps["responses"] == 1 and nps["detractors"]["count"] == 1
    # Their campaign, their answers: unknown here, whatever the ids.
    for bad, message in [
        (
            {"answer": "q1", "campaign": theirs["id"], "value": "Price"},
            f"no campaign {theirs['id']}",
        ),
        ({"answer": "q9", "campaign": mine["id"], "op": "exists"}, "has no question 'q9'"),
        ({"answer": "q1", "campaign": mine["id"], "op": "gt", "value": 1}, "gt does not apply"),
        ({"answer": "Q1", "campaign": mine["id"]}, "filter.answer: expected a question id"),
    ]:
        for path in ("/api/v2/feedback/", "/api/v2/nps/"):
            refused = get(client, org, path, bad)
            assert refused.status_code == 400, (path, refused.text)
            assert message in refused.json()["detail"]
    segment = call(
        client,
        org,
        "POST",
        "/api/v2/segments/",
        {"name": "Theirs", "filter": {"answer": "q1", "campaign": theirs["id"], "op": "exists"}},
    )
    assert segment.status_code == 400 and "no campaign" in segment.text
    csv_text = call(client, org, "GET", "/api/v2/feedback/export.csv", params=since).text
    assert csv_text.splitlines()[0].endswith("What matters most?,How easy was it?")
    assert ",Price,2" in csv_text

"""The campaign form's follow-up questions, thanks URL and answer window: set, edited with
their ids kept, refused with the slot the error is about; answers on the feedback page and
in the filter box."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from promoter.feedback.answers import record_answers
from promoter.storage.engine import Database
from tests.analytics.writes import respond
from tests.dashboard.campaign_form import add_campaign, load, status_of
from tests.dashboard.conftest import Browser

FORM: dict[str, Any] = {
    "name": "Post-purchase",
    "kind": "segment",
    "status": "active",
    "delay_minutes": "0",
    "throttle_days": "90",
    "answer_window_days": "14",
    "thanks_url": "https://acme.example.com/thanks",
    "question-1-text": "What matters most?",
    "question-1-type": "single",
    "question-1-choices": "Price\r\nSpeed\r\n\r\n",
    "question-1-audience": "all",
    "question-2-text": "",
    "question-2-type": "text",
    "question-3-text": "How easy was it?",
    "question-3-type": "scale",
    "question-3-audience": "detractors",
    "question-3-required": "on",
}


def test_questions_are_set_and_edited_from_the_form(browser: Browser, database: Database) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    page = browser.client.get(f"/campaigns/{campaign.id}")
    for n in range(1, 6):
        assert f'for="question-{n}-text"' in page.text
    assert 'for="thanks_url"' in page.text and 'value="30"' in page.text
    saved = browser.post(f"/campaigns/{campaign.id}", FORM)
    assert status_of(saved) == 303
    updated, _ = load(database, org, campaign.id)
    assert [
        (q.id, q.text, q.type, q.choices, q.audience, q.required) for q in updated.questions
    ] == [
        ("q1", "What matters most?", "single", ["Price", "Speed"], "all", False),
        ("q2", "How easy was it?", "scale", [], "detractors", True),
    ]
    assert updated.thanks_url == "https://acme.example.com/thanks"
    assert updated.answer_window_days == 14
    page = browser.client.get(f"/campaigns/{campaign.id}").text
    assert 'name="question-2-id" value="q2"' in page and ">Price\nSpeed</textarea>" in page
    # Reordered in the form (ids carried along), one removed, no limit on answering.
    edited = {
        **{k: v for k, v in FORM.items() if not k.startswith("question-")},
        "answer_window_days": "",
        "thanks_url": "",
        "question-1-id": "q2",
        "question-1-text": "How easy was it, really?",
        "question-1-type": "scale",
    }
    assert status_of(browser.post(f"/campaigns/{campaign.id}", edited)) == 303
    updated, _ = load(database, org, campaign.id)
    assert [(q.id, q.text) for q in updated.questions] == [("q2", "How easy was it, really?")]
    assert updated.answer_window_days is None and updated.thanks_url is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"question-1-choices": "Price"}, "question-1", "A single choice question has 2 to 10"),
        ({"question-3-type": "essay"}, "question-2", "Type: Choose"),
        ({"question-1-id": "Bad Id"}, "question-1", "Id: An id is 1 to 32 characters"),
        ({"question-3-id": "q9", "question-1-id": "q9"}, "questions", "must be unique"),
        ({"question-1-text": "x" * 501}, "question-1", "Question: At most 500 characters."),
        ({"thanks_url": "javascript:alert(1)"}, "thanks_url", "http:// or https://"),
        ({"answer_window_days": "0"}, "answer_window_days", "Must be 1 or more."),
        ({"answer_window_days": "forever"}, "answer_window_days", "Enter a whole number."),
    ],
)
def test_bad_questions_are_explained_with_their_slot(
    browser: Browser, database: Database, changes: dict[str, str], field: str, message: str
) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    page = browser.post(f"/campaigns/{campaign.id}", FORM | changes)
    assert status_of(page) == 400
    text = page.text  # type: ignore[attr-defined]
    assert f'id="{field}-error"' in text and message in text
    assert f'href="#{field}"' in text and f'id="{field}"' in text
    assert 'value="How easy was it?"' in text  # what was typed stays
    assert load(database, org, campaign.id)[0].questions == []
    new = browser.post(
        "/campaigns", FORM | changes | {"subject": "Hi", "from_name": "A", "brand_name": "A"}
    )
    assert status_of(new) == 400 and message in new.text  # type: ignore[attr-defined]


def test_feedback_page_shows_answers_and_filters_by_them(
    browser: Browser, database: Database
) -> None:
    org = browser.org
    campaign = add_campaign(database, org.id)
    assert status_of(browser.post(f"/campaigns/{campaign.id}", FORM)) == 303
    price = respond(database, org, "ana", 3, campaign.id)
    speed = respond(database, org, "bob", 9, campaign.id)
    with database.write() as conn:
        for response_id, choice in ((price, "Price"), (speed, "<b>Speed</b>")):
            record_answers(
                conn,
                organization_id=org.id,
                campaign_id=campaign.id,
                response_id=response_id,
                answers={"q1": [choice], "q2": ["4"]} if choice == "Price" else {"q1": [choice]},
            )
    page = browser.client.get(f"/feedback/{price}").text
    assert "<dt>What matters most?</dt><dd>Price</dd>" in page
    assert "<dt>How easy was it?</dt><dd>4</dd>" in page
    assert "&lt;b&gt;Speed&lt;/b&gt;" in browser.client.get(f"/feedback/{speed}").text
    flt = orjson.dumps({"answer": "q1", "campaign": campaign.id, "value": "Price"}).decode()
    listed = browser.client.get("/feedback", params={"filter": flt, "range": "all"}).text
    assert f'id="f{price}"' in listed and f'id="f{speed}"' not in listed
    wrong = {"answer": "q1", "campaign": campaign.id, "op": "gt", "value": 1}
    refused = browser.client.get("/feedback", params={"filter": orjson.dumps(wrong).decode()})
    assert "gt does not apply to a single question" in refused.text

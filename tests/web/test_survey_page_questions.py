"""The survey page's follow-up questions, its thanks URL and its answer window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from promoter.campaigns import service as campaigns
from promoter.feedback.answers import answers_for
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import responses, score_clicks, surveys
from tests.conftest import Org
from tests.surveys import survey_link

QUESTIONS = [
    {"id": "why", "text": "What matters most?", "type": "single", "required": True,
     "choices": ["Price", "Support", "Speed"]},
    {"id": "fix", "text": "What should we fix?", "type": "multiple", "audience": "detractors",
     "choices": ["Bugs", "Docs", "Billing"]},
    {"id": "ease", "text": "How easy was setup?", "type": "scale", "audience": "promoters"},
    {"id": "more", "text": "Anything else?", "type": "text"},
]  # fmt: skip


def configure(database: Database, org: Org, **changes: Any) -> None:
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        campaigns.update_campaign(
            conn, organization_id=org.id, campaign_id=campaign.id, changes=changes
        )


def recorded(database: Database, org: Org) -> tuple[Any, dict[str, list[str]]]:
    with database.read() as conn:
        response = conn.execute(select(responses)).one_or_none()
        if response is None:
            return None, {}
        found = answers_for(conn, organization_id=org.id, response_ids=[response.id])
    return response, found.get(response.id, {})


def shown(page: str) -> dict[str, bool]:
    """Each question's id, and whether the page shows it at first."""
    blocks = re.findall(r'<div class="question" data-audience="\w+"( hidden)?>\s*(.*?)</div>',
                        page, re.S)  # fmt: skip
    found = {}
    for hidden, body in blocks:
        (qid,) = set(re.findall(r'name="q_([\w-]+)"', body))
        found[qid] = not hidden
    return found


def test_the_questions_for_the_score_are_asked_and_their_answers_recorded(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    configure(database, org, questions=QUESTIONS)
    link = survey_link(client, services, database, org)
    page = client.get(f"{link}/9").text
    assert shown(page) == {"why": True, "fix": False, "ease": True, "more": True}
    assert "Choose one." in page and "1 = lowest, 5 = highest" in page
    assert shown(client.get(f"{link}/3").text) == {
        "why": True, "fix": True, "ease": False, "more": True
    }  # fmt: skip
    # A required question left out: the page again, the comment kept, nothing recorded.
    refused = client.post(link, data={"score": "9", "comment": "Fast", "action": "send"})
    assert refused.status_code == 400
    assert "Please answer this question." in refused.text and ">Fast</textarea>" in refused.text
    assert recorded(database, org) == (None, {})
    # A choice that is not one, or a scale answer outside 1 to 5.
    for bad in ({"q_why": "Cheap"}, {"q_why": "Price", "q_ease": "6"}):
        answer = client.post(link, data={"score": "9", "action": "send", **bad})
        assert answer.status_code == 400 and "Please check this answer." in answer.text
    sent = client.post(
        link,
        data={
            "score": "9",
            "comment": "Fast",
            "action": "send",
            "q_why": "Support",
            "q_ease": "4",
            "q_fix": "Docs",  # not asked of a promoter: left out
            "q_more": "  Keep it up  ",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"{link}/thanks"
    response, answers = recorded(database, org)
    assert (response.score, response.comment) == (9, "Fast")
    assert answers == {"why": ["Support"], "ease": ["4"], "more": ["Keep it up"]}
    # Re-opened, the page shows the answers; changed to a detractor, the answers change.
    again = client.get(link).text
    assert 'value="Support" checked' in again and 'value="4" checked' in again
    assert "Keep it up</textarea>" in again
    client.post(
        link,
        data={"score": "2", "action": "send", "q_why": "Price", "q_fix": ["Bugs", "Billing"]},
    )
    response, answers = recorded(database, org)
    assert response.score == 2 and answers == {"why": ["Price"], "fix": ["Bugs", "Billing"]}
    # Skip records the score, and leaves the answers as they were.
    client.post(link, data={"score": "1", "action": "skip", "q_why": "Speed"})
    response, answers = recorded(database, org)
    assert response.score == 1 and answers == {"why": ["Price"], "fix": ["Bugs", "Billing"]}


def test_after_the_last_page_the_thanks_url(
    client: TestClient, services: Services, database: Database, org: Org
) -> None:
    configure(database, org, thanks_url="https://acme.example/thanks?from=nps")
    link = survey_link(client, services, database, org)
    for action in ("send", "skip"):
        done = client.post(link, data={"score": "8", "action": action}, follow_redirects=False)
        assert done.headers["location"] == "https://acme.example/thanks?from=nps"
    confirmed = client.post(link, data={"score": "8", "action": "confirm"}, follow_redirects=False)
    assert confirmed.headers["location"] == f"{link}?saved"  # the page still has the rest


@pytest.mark.parametrize("answered", [False, True])
def test_a_closed_survey_takes_no_answer_and_shows_the_one_it_has(
    client: TestClient, services: Services, database: Database, org: Org, answered: bool
) -> None:
    configure(database, org, answer_window_days=7)
    link = survey_link(client, services, database, org)
    if answered:
        client.post(link, data={"score": "6", "comment": "Slow", "action": "send"})
    with database.write() as conn:
        conn.execute(update(surveys).values(sent_at=datetime.now(UTC) - timedelta(days=6)))
    assert 'name="score"' in client.get(f"{link}/9").text  # still open on day six
    with database.write() as conn:
        conn.execute(update(surveys).values(sent_at=datetime.now(UTC) - timedelta(days=8)))
    for page in (client.get(f"{link}/9"), client.get(link)):
        assert page.status_code == 200 and 'name="score"' not in page.text
        assert "<script>" not in page.text
        if answered:
            assert "This is the answer we recorded." in page.text
            assert "<strong>6</strong>" in page.text and "Slow" in page.text
        else:
            assert "This survey is closed. Thank you for your time." in page.text
    assert client.post(f"{link}/click", data={"score": "9"}).status_code == 409
    late = client.post(link, data={"score": "9", "action": "send", "comment": "late"})
    assert "This survey is closed" in late.text
    older_form = client.post(f"{link}/comment", data={"comment": "late"})
    assert "This survey is closed" in older_form.text
    response, _ = recorded(database, org)
    if answered:
        assert (response.score, response.comment) == (6, "Slow")
    else:
        assert response is None
    with database.read() as conn:
        assert conn.execute(select(score_clicks)).all() == []
    # With the window off, the survey is open again.
    configure(database, org, answer_window_days=None)
    assert 'name="score"' in client.get(f"{link}/9").text

"""Replying to a respondent from a piece of feedback's page: the form (the comment for
context, who it goes to, where answers go), a reply queued and noted, the loop closed when
asked; bad input and contacts without an address answered on the form, never a 500;
another organization's feedback out of reach."""

from __future__ import annotations

import html
from typing import Any

import pytest
from sqlalchemy import Table, select, update

from promoter.domain.eligibility import ANONYMOUS
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contacts,
    deliveries,
    feedback_notes,
    feedback_replies,
    responses,
)
from tests.conftest import make_org
from tests.dashboard.conftest import Browser
from tests.surveys import answer


@pytest.fixture
def rid(database: Database, browser: Browser) -> int:
    answer(database, browser.org, "ann", 3, "Too slow <b>really</b>")
    with database.read() as conn:
        found: int = conn.execute(select(responses.c.id)).scalar_one()
    return found


def rows(database: Database, table: Table) -> list[Any]:
    with database.read() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


def test_the_form_shows_the_comment_and_where_answers_go(browser: Browser, rid: int) -> None:
    page = browser.client.get(f"/feedback/{rid}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f'action="/feedback/{rid}/reply"' in page.text
    assert 'value="Re: your feedback"' in page.text
    assert "Too slow &lt;b&gt;really&lt;/b&gt;" in page.text  # the comment, escaped
    assert "<ann@example.com>" in text
    assert "ana at Acme <surveys@testserver>" in text
    assert f"go to your own address, {browser.email}: Promoter does not receive" in text
    assert 'name="close" value="1" checked' in page.text


def test_a_reply_is_queued_noted_and_closes_the_loop(
    browser: Browser, rid: int, database: Database
) -> None:
    sent = browser.post(
        f"/feedback/{rid}/reply",
        {"subject": "Re: your feedback", "body": "Sorry, Ann.\r\nFixed.", "close": "1"},
    )
    assert sent.status_code == 303  # type: ignore[attr-defined]
    assert sent.headers["location"] == f"/feedback/{rid}?done=reply-queued#reply"  # type: ignore[attr-defined]
    (reply,) = rows(database, feedback_replies)
    assert (reply.to_address, reply.reply_to, reply.body) == (
        "ann@example.com",
        browser.email,
        "Sorry, Ann.\nFixed.",
    )
    assert [d.kind for d in rows(database, deliveries)] == ["survey", "reply"]
    assert [r.status for r in rows(database, responses)] == ["CLOSED"]
    page = browser.client.get(sent.headers["location"])  # type: ignore[attr-defined]
    assert "Reply queued" in page.text
    assert 'data-testid="reply-status">Queued' in page.text
    assert "Replied by email to ann@example.com" in page.text and "Notes (1)" in page.text
    assert 'name="close"' not in page.text  # closed already: nothing to close
    # Without the box ticked the feedback stays as it is.
    with database.write() as conn:
        conn.execute(update(responses).values(status="OPEN"))
    again = browser.post(f"/feedback/{rid}/reply", {"subject": "Also", "body": "One more."})
    assert again.status_code == 303  # type: ignore[attr-defined]
    assert [r.status for r in rows(database, responses)] == ["OPEN"]
    assert len(rows(database, feedback_replies)) == 2


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"subject": "Hello", "body": "  "}, "Write a message."),
        ({"subject": "Hello", "body": "x" * 8_001}, "at most 8,000 characters"),
        ({"subject": "", "body": "Hi"}, "Write a subject."),
        ({"subject": "s" * 201, "body": "Hi"}, "at most 200 characters"),
        ({"subject": "Hi\r\nBcc: everyone@example.com", "body": "Hi"}, "must be one line"),
    ],
)
def test_bad_input_comes_back_on_the_form(
    browser: Browser, rid: int, database: Database, fields: dict[str, str], error: str
) -> None:
    page = browser.post(f"/feedback/{rid}/reply", {**fields, "close": "1"})
    assert page.status_code == 400  # type: ignore[attr-defined]
    text = html.unescape(page.text)  # type: ignore[attr-defined]
    assert "Not sent: " in text and error in text
    assert f'value="{html.escape(fields["subject"])}"' in page.text  # type: ignore[attr-defined]
    assert rows(database, feedback_replies) == [] and rows(database, feedback_notes) == []
    assert [r.status for r in rows(database, responses)] == ["OPEN"]


def test_no_reply_without_an_address_or_a_form_token(
    browser: Browser, rid: int, database: Database
) -> None:
    forged = browser.client.post(
        f"/feedback/{rid}/reply", data={"subject": "Hi", "body": "Hi"}, follow_redirects=False
    )
    assert forged.status_code == 403
    for values, why in (
        ({"status": "bounced"}, "ann@example.com bounced"),
        ({"status": ANONYMOUS, "email": "", "email_key": ""}, "This answer is anonymous"),
    ):
        with database.write() as conn:
            conn.execute(update(contacts).values(**values))
        page = browser.client.get(f"/feedback/{rid}")
        assert why in html.unescape(page.text) and 'data-testid="reply-form"' not in page.text
        refused = browser.post(f"/feedback/{rid}/reply", {"subject": "Hi", "body": "Hi"})
        assert refused.status_code == 400 and why in html.unescape(refused.text)  # type: ignore[attr-defined]
    assert rows(database, feedback_replies) == []


def test_another_organizations_feedback_is_out_of_reach(
    browser: Browser, database: Database
) -> None:
    other = make_org(database, "Globex")
    answer(database, other, "gus", 2, "Meh")
    with database.read() as conn:
        theirs = conn.execute(select(responses.c.id)).scalar_one()
    sent = browser.post(f"/feedback/{theirs}/reply", {"subject": "Hi", "body": "Mine now"})
    assert sent.status_code == 404  # type: ignore[attr-defined]
    refused = browser.post(f"/feedback/{theirs}/reply", {"subject": "Hi", "body": " "})
    assert refused.status_code == 404  # type: ignore[attr-defined]
    assert "Meh" not in refused.text  # type: ignore[attr-defined]
    assert rows(database, feedback_replies) == [] and rows(database, feedback_notes) == []

"""In Chromium: reply to a respondent from a feedback item's page, see the loop closed and
the reply noted, then find the email the worker wrote in the outbox, from the campaign's
sender with Reply-To the user."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import contacts, responses
from tests.browser.conftest import EMAIL, screenshot, sign_in

#: The form and the email do not depend on the database behind the server: checked once,
#: on SQLite; tests/integration and tests/dashboard cover both databases.
pytestmark = pytest.mark.one_database(reason="the reply journey in the browser")


def _open_commented_feedback(database: Database) -> tuple[int, str]:
    with database.read() as conn:
        row = conn.execute(
            select(responses.c.id, contacts.c.email)
            .join(contacts, contacts.c.id == responses.c.contact_id)
            .where(
                responses.c.status == "OPEN",
                responses.c.comment.is_not(None),
                responses.c.comment != "",
                contacts.c.status == "active",
            )
            .order_by(responses.c.id)
            .limit(1)
        ).one()
    return int(row.id), str(row.email)


def test_reply_to_a_respondent(page: Page, database: Database, backend: str) -> None:
    response_id, address = _open_commented_feedback(database)
    sign_in(page)
    page.goto(f"/feedback/{response_id}")
    form = page.get_by_test_id("reply-form")
    expect(form.get_by_test_id("reply-context")).not_to_be_empty()
    expect(form.get_by_test_id("reply-to-note")).to_contain_text(f"your own address, {EMAIL}")
    expect(form.get_by_label("Subject")).to_have_value("Re: your feedback")
    expect(form.get_by_label("Close the loop")).to_be_checked()
    form.get_by_label("Subject").fill("Re: your feedback, <b>thanks</b>")
    form.get_by_label("Message").fill("Hello,\nthank you: it is fixed now.\nAna")
    screenshot(page, backend, "feedback-reply")
    form.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("Reply queued")
    expect(page.get_by_test_id("status")).to_have_text("Closed")
    note = page.get_by_test_id("note").last
    expect(note).to_contain_text(re.compile(f"Replied by email to .*{re.escape(address)}"))
    expect(page.get_by_test_id("sent-reply")).to_contain_text("Re: your feedback, <b>thanks</b>")
    # The worker sends it within seconds: the file mail backend's outbox shows it.
    deadline = time.monotonic() + 30
    while True:
        page.goto("/outbox")
        link = page.get_by_role("row").filter(has_text="<b>thanks</b>").get_by_role("link")
        if link.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    link.first.click()
    headers = page.get_by_role("region", name="Headers")
    expect(headers).to_contain_text(re.compile(r"ana at Acme <surveys@"))
    expect(headers).to_contain_text(f"Reply-To{EMAIL}")
    expect(headers).to_contain_text(address)
    expect(page.locator(".email-text")).to_have_text("Hello,\nthank you: it is fixed now.\nAna\n")
    page.goto(f"/feedback/{response_id}")
    expect(page.get_by_test_id("reply-status")).to_have_text("Sent")

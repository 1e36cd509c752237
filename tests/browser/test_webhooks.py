"""In Chromium: add a webhook of two events, send it a test that a real receiver verifies,
see the delivery logged, change its events and URL, disable and delete it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from promoter.webhooks.signing import verify_signature
from tests.browser.conftest import screenshot, sign_in
from tests.receiver import Receiver

#: The webhook pages in the browser do not depend on the database; the subscriptions and
#: their delivery run on both in tests/integration and tests/e2e: SQLite only.
pytestmark = pytest.mark.one_database(reason="the webhook pages in the browser")


def test_add_test_and_remove_a_webhook(page: Page, receiver: Receiver, backend: str) -> None:
    sign_in(page)
    page.goto("/settings/segment")
    page.get_by_role("link", name=re.compile("webhooks", re.I)).first.click()
    expect(page.get_by_role("heading", name="Settings: Webhooks")).to_be_visible()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("button", name="Add", exact=True).click()  # no event chosen: explained
    expect(page.locator("#events-error")).to_have_text("Choose at least one event.")
    expect(page.get_by_label("URL")).to_have_value(receiver.url)
    page.get_by_label("feedback.added_or_changed").check()
    page.get_by_label("survey.sent").check()
    page.get_by_role("button", name="Add", exact=True).click()
    secret = page.locator("#new-webhook-secret").inner_text().strip()
    assert secret
    row = page.get_by_role("row").filter(has_text=receiver.url)
    row.get_by_role("button", name="Send a test").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert len(receiver.requests) == 1
    ping = receiver.requests[0]
    headers = {k.lower(): v for k, v in ping.headers.items()}
    assert verify_signature(secret, headers["promoter-signature"], ping.body)
    assert ping.json["data"]["subscribed_events"] == ["feedback.added_or_changed", "survey.sent"]
    # Change it on its page: one event fewer, one more, another URL; the secret stays.
    edit = page.get_by_test_id("edit-webhook")
    edit.get_by_label("survey.sent").uncheck()
    edit.get_by_label("contact.unsubscribed").check()
    edit.get_by_label("URL").fill(receiver.url + "/v2")
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Webhook saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Webhook \d+: feedback.added_or_changed, contact.unsubscribed$")
    )
    assert (page.locator("#webhook-secret").text_content() or "").strip() == secret
    screenshot(page, backend, "webhooks")
    page.goto("/settings/webhooks")
    row = page.get_by_role("row").filter(has_text=receiver.url + "/v2")
    row.get_by_role("button", name="Disable").click()
    page.goto("/settings/webhooks")
    row = page.get_by_role("row").filter(has_text=receiver.url)
    expect(row.get_by_role("button", name="Enable")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("row").filter(has_text=receiver.url)).to_have_count(0)

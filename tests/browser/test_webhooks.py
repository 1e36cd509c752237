"""In Chromium: add a webhook, send it a test that a real receiver verifies, see the
delivery logged, disable and delete it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from promoter.webhooks.signing import verify_signature
from tests.browser.conftest import screenshot, sign_in
from tests.receiver import Receiver


def test_add_test_and_remove_a_webhook(page: Page, receiver: Receiver, backend: str) -> None:
    sign_in(page)
    page.goto("/settings/segment")
    page.get_by_role("link", name=re.compile("webhooks", re.I)).first.click()
    expect(page.get_by_role("heading", name="Settings: Webhooks")).to_be_visible()
    page.get_by_label("Event").select_option("feedback.added_or_changed")
    page.get_by_label("URL").fill(receiver.url)
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
    screenshot(page, backend, "webhooks")
    page.goto("/settings/webhooks")
    row = page.get_by_role("row").filter(has_text=receiver.url)
    row.get_by_role("button", name="Disable").click()
    page.goto("/settings/webhooks")
    row = page.get_by_role("row").filter(has_text=receiver.url)
    expect(row.get_by_role("button", name="Enable")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("row").filter(has_text=receiver.url)).to_have_count(0)

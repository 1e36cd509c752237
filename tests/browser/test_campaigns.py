"""In Chromium: create a campaign from the organization's defaults and a suggested event,
with its settings and email, see a mistake explained, preview the email, pause it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in

#: The campaign form in the browser does not depend on the database; campaigns are stored
#: and checked on both in tests/dashboard and tests/integration: SQLite only.
pytestmark = pytest.mark.one_database(reason="the campaign form in the browser")


def test_create_preview_and_pause_a_campaign(page: Page, backend: str) -> None:
    sign_in(page)
    page.goto("/campaigns")
    page.get_by_role("link", name="New campaign").click()
    # The email starts from the organization; required fields say so.
    expect(page.get_by_label("Subject")).to_have_value(
        re.compile("^How likely are you to recommend")
    )
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-required", "true")
    page.get_by_label("Name", exact=True).fill("After a purchase")
    # An event the organization tracks is suggested, and added to the triggers.
    expect(page.locator("datalist#event-names option").first).to_be_attached()
    page.get_by_label("Add an event you track").fill("Order Completed")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_label("Trigger events")).to_have_value("Order Completed")
    page.get_by_label("Delay (minutes)").fill("60")
    page.get_by_label("Throttle (days)").fill("30")
    page.get_by_label("From", exact=True).select_option(label="18:00")  # a mistake first
    page.get_by_label("Until", exact=True).select_option(label="09:00")
    page.get_by_label("Subject").fill("How was your order?")
    page.get_by_label("Brand or product").fill("Acme Shop")
    page.get_by_label("From name").fill("Acme Shop team")
    page.get_by_role("button", name="Create campaign").click()
    expect(
        page.get_by_text(re.compile("send window must start before it ends", re.I)).first
    ).to_be_visible()
    expect(page.get_by_label("Trigger events")).to_have_value("Order Completed")  # kept
    page.get_by_label("Until", exact=True).select_option(label="20:00")
    page.get_by_label("Weekdays only").check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("status")).to_have_text("Campaign created.")
    expect(page.get_by_role("heading", name="After a purchase")).to_be_visible()
    expect(page.get_by_label("Throttle (days)")).to_have_value("30")
    expect(page.get_by_label("Weekdays only")).to_be_checked()
    screenshot(page, backend, "campaign")
    page.get_by_role("link", name="Preview the email").click()
    expect(page.get_by_text("How was your order?").first).to_be_visible()
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(re.compile("recommend Acme Shop"))).to_be_visible()
    expect(frame.get_by_role("link", name="10", exact=True)).to_be_visible()
    page.goto("/campaigns")
    row = page.get_by_role("row").filter(has_text="After a purchase")
    expect(row).to_contain_text("Order Completed")
    row.get_by_role("button", name=re.compile("^Pause")).click()
    expect(page.get_by_role("status")).to_have_text("Campaign paused.")
    expect(page.get_by_role("row").filter(has_text="After a purchase")).to_contain_text("paused")
    screenshot(page, backend, "campaigns")

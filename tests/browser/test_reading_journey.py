"""In Chromium, reading the NPS every day: two conditions become chips, one is removed,
the menu carries the filter and the window to Feedback and Breakdown, and the overview
compares the NPS with the period before (or says there are too few answers to)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in

#: What the pages link to and show does not depend on the database behind the server
#: (tests/dashboard/test_reading.py checks the numbers on both): SQLite only, to keep the
#: serial run short.
pytestmark = [pytest.mark.browser, pytest.mark.one_database(reason="the reading journey")]

#: The seeded responses come from March to June 2026: this window and the 61 days before.
WINDOW = "range=custom&since=2026-05-01&until=2026-06-30"
#: A chip's remove link, as its text reads.
X = r"\s*\u00d7\s*"


def test_chips_the_menu_and_the_change(page: Page) -> None:
    sign_in(page)
    page.goto(f"/?{WINDOW}")
    page.get_by_text("Filter by attributes and behaviour").click()
    page.get_by_label("Attribute").first.select_option("plan")  # the page reloads
    expect(page).to_have_url(re.compile(r"pending=plan"))
    page.get_by_label("Value").first.fill("Enterprise")
    page.get_by_label("Value").first.press("Enter")
    expect(page).to_have_url(re.compile(r"filter="))
    page.get_by_label("Attribute").nth(1).select_option("country")
    expect(page).to_have_url(re.compile(r"pending=country"))
    chips = page.get_by_role("list", name="Filtered to")
    expect(chips).to_have_text(re.compile(rf"^\s*plan is Enterprise{X}$"))  # not the pending
    page.get_by_label("Value").nth(1).fill("DE")
    page.get_by_label("Value").nth(1).press("Enter")
    expect(chips).to_have_text(re.compile(rf"plan is Enterprise{X}AND\s+country is DE{X}"))
    expect(page.get_by_text("(2 conditions)")).to_be_visible()
    screenshot(page, "sqlite", "overview-chips")

    page.get_by_role("link", name="Remove country is DE").click()
    expect(chips.get_by_role("link")).to_have_count(1)
    expect(page.get_by_role("link", name="Remove plan is Enterprise")).to_be_visible()
    expect(page).to_have_url(re.compile(r"since=2026-05-01"))

    menu = page.get_by_role("navigation", name="Main")
    for name, path in (("Feedback", "/feedback"), ("Breakdown", "/breakdown")):
        menu.get_by_role("link", name=name).click()
        expect(page).to_have_url(re.compile(rf"{path}\?.*Enterprise.*since=2026-05-01"))
        expect(page.get_by_role("link", name="Remove plan is Enterprise")).to_be_visible()
        expect(page.get_by_label("From", exact=True)).to_have_value("2026-05-01")
    menu.get_by_role("link", name="Overview").click()
    expect(page.get_by_test_id("window")).to_contain_text("to 2026-06-30, both days included")
    # Enterprise alone has fewer than 30 answers in each period: no number to compare.
    expect(page.get_by_test_id("nps-change")).to_have_text(
        re.compile(
            r"^Not enough answers to compare with the previous 61 days: "
            r"\d+ now and \d+ before; at least 30 in each$"
        )
    )
    screenshot(page, "sqlite", "overview-change")

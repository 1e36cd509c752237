"""In Chromium: the Feedback page's compact list, searched, two pieces selected (one from
the keyboard), tagged and closed at once, then one opened on its own page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in

#: How the list looks and acts in the browser does not depend on the database behind the
#: server: this runs on SQLite only, to keep the serial run short; the search, the
#: selection's changes and their isolation are checked on both databases in
#: tests/dashboard/test_feedback_list.py.
pytestmark = pytest.mark.one_database(reason="the list's look and behaviour")

#: The page at 1440 x 900: eleven responses end well above this (their cards took 3,337 px).
COMPACT_PX = 1500


def test_search_select_tag_and_close(page: Page, backend: str) -> None:
    sign_in(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/feedback?range=all")
    items = page.get_by_test_id("feedback-item")
    expect(items).to_have_count(25)
    eleventh = items.nth(10).bounding_box()
    assert eleventh is not None
    bottom = page.evaluate("y => y + window.scrollY", eleventh["y"] + eleventh["height"])
    assert bottom < COMPACT_PX, bottom
    screenshot(page, backend, "feedback")

    search = page.get_by_label("Search comments")
    search.fill('"too expens')  # an unclosed phrase: searched to the end, never an error
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"search=%22too\+expens"))
    expect(page.get_by_test_id("feedback-count")).to_have_text(re.compile(r"^\d+ responses?"))
    search.fill("expens")  # the start of a word
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"search=expens"))
    expect(items.first).to_contain_text("too expensive")
    first, second = items.nth(0), items.nth(1)
    ids = [first.get_attribute("id"), second.get_attribute("id")]

    page.get_by_role("button", name="Close the loop").click()  # nothing selected yet
    expect(page.get_by_text("Select at least one feedback first.")).to_be_visible()
    page.get_by_label("Select all on this page").check()
    expect(page.get_by_text(re.compile(r"^\d+ selected$"))).to_be_visible()
    page.get_by_label("Select all on this page").uncheck()
    first.get_by_role("checkbox").check()
    second.get_by_role("checkbox").focus()
    page.keyboard.press("Space")
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_label("Tag for the selected feedback").fill("call back")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_role("status")).to_have_text("Tag added to the selected feedback.")
    expect(page).to_have_url(re.compile(r"search=expens.*done=bulk-tagged"))
    for item_id in ids:
        tags = page.locator(f"#{item_id}").get_by_role("listitem")
        expect(tags.filter(has_text="call back")).to_be_visible()

    for item_id in ids:
        page.locator(f"#{item_id}").get_by_role("checkbox").check()
    page.get_by_role("button", name="Close the loop").click()
    expect(page.get_by_role("status")).to_have_text("Loop closed on the selected feedback.")
    assert page.url.count("done=") == 1
    for item_id in ids:
        expect(page.locator(f"#{item_id}").get_by_test_id("status")).to_have_text("Closed")

    # One piece's own page keeps its own actions.
    page.locator(f"#{ids[0]}").get_by_test_id("permalink").click()
    expect(page).to_have_url(re.compile(r"/feedback/\d+$"))
    page.get_by_role("button", name="Remove tag call back").click()
    expect(page.get_by_role("status")).to_have_text("Tags saved.")
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("status")).to_have_text("Status changed.")
    assert page.url.count("done=") == 1

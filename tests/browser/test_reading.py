"""In Chromium: sign in, read the NPS, change a filter and see the number change, save a
segment (tagging and closing feedback: test_feedback_list.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in

#: Signing in, filtering and saving a segment in the browser; the numbers behind them are
#: checked on both databases in tests/dashboard and tests/analytics: SQLite only.
pytestmark = pytest.mark.one_database(reason="reading in the browser")


def test_sign_in_and_out(page: Page) -> None:
    page.goto("/feedback")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ffeedback"))
    page.get_by_label("Email").fill("ana@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/feedback$"))
    expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_filter_changes_the_number(page: Page, backend: str) -> None:
    sign_in(page)
    page.get_by_label("Date range").select_option("all")  # submits itself
    expect(page).to_have_url(re.compile(r"range=all"))
    everyone = page.locator(".kpi .sub").inner_text()
    screenshot(page, backend, "overview")
    page.get_by_text("Filter by attributes and behaviour").click()
    page.get_by_label("Attribute").first.select_option("plan")  # the page reloads
    expect(page).to_have_url(re.compile(r"pending=plan"))
    page.get_by_label("Operator").first.select_option("eq")
    value = page.get_by_label("Value").first
    value.fill("Enterprise")
    value.press("Enter")
    expect(page).to_have_url(re.compile(r"filter="))
    expect(page.get_by_label("Value").first).to_have_value("Enterprise")
    expect(page.locator(".kpi .sub")).not_to_have_text(everyone)  # fewer responses match
    filtered = page.get_by_test_id("nps").inner_text()
    shared = page.url
    page.reload()
    expect(page.get_by_test_id("nps")).to_have_text(filtered)  # the URL holds the filter
    assert "filter=" in shared
    # OR with a second condition widens the match.
    page.get_by_label("Attribute").nth(1).select_option("country")
    page.get_by_label("Value").nth(1).fill("DE")
    page.get_by_label("Value").nth(1).press("Enter")
    expect(page.get_by_label("Value").nth(1)).to_have_value("DE")
    page.get_by_label("any condition (OR)").check()
    expect(page).to_have_url(re.compile(r"%22or%22"))
    screenshot(page, backend, "overview-filtered")


def test_save_a_segment(page: Page) -> None:
    sign_in(page)
    page.goto('/?range=all&filter={"attribute":"plan","op":"in","value":["Pro","Premium"]}')
    filtered = page.get_by_test_id("nps").inner_text()
    # The builder is open when a filter is set.
    page.get_by_label("Save this filter as a segment").fill("Paying <b>plans</b>")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("status")).to_have_text("Segment saved.")
    page.goto("/?range=all")
    page.get_by_label("Segment", exact=True).select_option(label="Paying <b>plans</b>")
    expect(page).to_have_url(re.compile(r"segment="))
    expect(page.get_by_test_id("nps")).to_have_text(filtered)


def test_breakdown_page(page: Page, backend: str) -> None:
    sign_in(page)
    page.goto("/breakdown?range=all")
    expect(page.get_by_role("heading", name=re.compile("NPS by plan"))).to_be_visible()
    page.get_by_label("Break down by").select_option("seats")
    expect(page).to_have_url(re.compile(r"by=seats"))
    page.get_by_label("Numeric buckets").fill("5,10")
    page.get_by_label("Numeric buckets").press("Enter")
    expect(page.get_by_test_id("breakdown-table")).to_contain_text("5 to < 10")
    screenshot(page, backend, "breakdown")

"""In Chromium: the filter builder's value field suggests the attribute's values as one
types, read from the dashboard's JSON under its Content-Security-Policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

#: What the browser does with the suggestions does not depend on the database (the values
#: are checked on both in tests/dashboard/test_overview.py): SQLite only.
pytestmark = pytest.mark.one_database(reason="the suggestions' behaviour in the browser")


def test_values_are_suggested_as_one_types(page: Page) -> None:
    sign_in(page)
    page.goto("/?range=all&pending=plan")
    value = page.get_by_label("Value").first
    options = page.locator("#values_0 option")
    expect(options).to_have_count(5)  # without typing: the plans, listed by the page
    value.press_sequentially("PREM")
    expect(options).to_have_count(2)  # those containing "prem", whatever the case
    assert {o.get_attribute("value") for o in options.all()} == {"Premium", "premium"}
    # "is any of": the value after the last comma is completed, the rest kept.
    page.get_by_label("Operator").first.select_option("in")  # the page reloads
    expect(page).to_have_url(re.compile(r"filter="))
    value.fill("Free, fr")
    expect(options).to_have_count(1)
    expect(options).to_have_attribute("value", "Free, Free")

"""The Feedback page's list: searching the comments with the other filters, and acting on
several pieces of feedback at once."""

from __future__ import annotations

import csv
import io
import re

import pytest

from promoter.storage.engine import Database
from tests.comments import HOSTILE, say_comments
from tests.dashboard.conftest import Browser

ALL = {"range": "all"}
ITEM = re.compile(r'id="f(\d+)" data-testid="feedback-item"')


@pytest.fixture
def said(database: Database, browser: Browser) -> dict[str, int]:
    return say_comments(database, browser.org)


def listed(browser: Browser, **params: str) -> set[int]:
    page = browser.client.get("/feedback", params={**ALL, **params})
    assert page.status_code == 200, page.text
    return {int(found) for found in ITEM.findall(page.text)}


def test_the_search_box_narrows_the_list_with_the_other_filters(
    browser: Browser, said: dict[str, int]
) -> None:
    assert listed(browser, search="great service") == {said["fast"], said["slow"]}
    assert listed(browser, search="great", type="detractor") == {said["slow"]}
    assert listed(browser, search='"great service"', status="OPEN") == {said["fast"]}
    assert listed(browser, search="über") == {said["cafe"]}
    page = browser.client.get("/feedback", params={**ALL, "search": "great"})
    assert 'name="search" type="search" value="great"' in page.text
    # The filter bar and the export keep the search.
    assert '<input type="hidden" name="search" value="great">' in page.text
    assert "/feedback/export.csv?range=all&amp;search=great" in page.text


def test_the_export_is_the_searched_list(browser: Browser, said: dict[str, int]) -> None:
    exported = browser.client.get("/feedback/export.csv", params={**ALL, "search": "pric"})
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(row["response_id"]) for row in rows] == [said["prices"]]
    too_long = browser.client.get("/feedback/export.csv", params={**ALL, "search": "x" * 201})
    assert too_long.status_code == 400


def test_anything_typed_shows_a_page(browser: Browser, said: dict[str, int]) -> None:
    for typed in HOSTILE:
        assert listed(browser, search=typed) <= set(said.values()), typed


def test_too_long_a_search_says_so(browser: Browser, said: dict[str, int]) -> None:
    page = browser.client.get("/feedback", params={**ALL, "search": "x" * 201})
    assert page.status_code == 200
    assert 'data-testid="search-error">search: at most 200 characters' in page.text
    assert not ITEM.findall(page.text)

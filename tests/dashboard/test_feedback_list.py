"""The Feedback page's list: searching the comments with the other filters, and acting on
several pieces of feedback at once."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from promoter.domain.roles import Role
from promoter.feedback.responses import tags_of
from promoter.segment_source.settings import EVENTS, save_source
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import responses, segment_messages, webhook_deliveries
from promoter.webhooks.events import FEEDBACK_STATUS_CHANGED, FEEDBACK_TAGS_ADDED_OR_CHANGED
from tests.comments import HOSTILE, say_comments
from tests.conftest import make_org
from tests.dashboard.conftest import Browser, add_user, sign_in
from tests.surveys import answer
from tests.webhooks import LOOPBACK_ALLOWED, subscribe

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


def _bulk(browser: Browser, ids: list[int], action: str, **fields: str) -> Any:
    data = {"id": [str(i) for i in ids], "action": action, **fields}
    return browser.post("/feedback/bulk", data)


def _tags(database: Database, response_id: int) -> list[str]:
    with database.read() as conn:
        return tags_of(conn, response_id=response_id)


def _statuses(database: Database, ids: list[int]) -> list[str]:
    with database.read() as conn:
        found = select(responses.c.status).where(responses.c.id.in_(ids))
        return sorted(conn.execute(found).scalars())


def test_the_list_is_compact_with_a_labelled_box_for_each(
    browser: Browser, said: dict[str, int]
) -> None:
    page = browser.client.get("/feedback", params=ALL).text
    assert page.count('type="checkbox" name="id"') == len(said)
    assert f'<span class="sr">Select #{said["fast"]}, 9 from fast@example.com</span>' in page
    assert "Select all on this page" in page
    # Each item's own actions are on its page, not in the list.
    assert 'action="/feedback/' + str(said["fast"]) not in page
    own = browser.client.get(f"/feedback/{said['fast']}").text
    assert f'action="/feedback/{said["fast"]}/status"' in own
    assert f'action="/feedback/{said["fast"]}/tags"' in own


def test_tag_untag_close_and_reopen_the_selected(
    browser: Browser, said: dict[str, int], database: Database
) -> None:
    two = [said["fast"], said["slow"]]
    back = "/feedback?range=all&search=great&done=status-saved#f1"
    tagged = _bulk(browser, two, "tag", tag=" pricing ", **{"return": back})
    assert tagged.status_code == 303
    # Back to the same list, with one done message.
    assert tagged.headers["location"] == "/feedback?range=all&search=great&done=bulk-tagged#f1"
    assert [_tags(database, i) for i in two] == [["pricing"], ["pricing"]]
    assert _tags(database, said["prices"]) == []
    shown = browser.client.get(tagged.headers["location"]).text
    assert "Tag added to the selected feedback." in shown
    assert _bulk(browser, [said["fast"]], "untag", tag="pricing").status_code == 303
    assert [_tags(database, i) for i in two] == [[], ["pricing"]]
    closed = _bulk(browser, two, "close")
    assert closed.headers["location"] == "/feedback?done=bulk-closed"
    assert _statuses(database, two) == ["CLOSED", "CLOSED"]
    assert listed(browser, status="CLOSED") == set(two)
    _bulk(browser, two, "reopen")
    assert _statuses(database, two) == ["OPEN", "OPEN"]


def _outbox(database: Database) -> tuple[list[str], int]:
    with database.read() as conn:
        events = conn.execute(select(webhook_deliveries.c.event).order_by(webhook_deliveries.c.id))
        messages = conn.execute(select(func.count()).select_from(segment_messages)).scalar()
    return list(events.scalars()), int(messages or 0)


def test_closing_the_selected_tells_what_closing_one_tells(
    browser: Browser, said: dict[str, int], database: Database
) -> None:
    for event in (FEEDBACK_STATUS_CHANGED, FEEDBACK_TAGS_ADDED_OR_CHANGED):
        subscribe(database, browser.org, event, "https://hooks.example.com/in")
    with database.write() as conn:
        save_source(
            conn,
            organization_id=browser.org.id,
            write_key="wk",
            host="https://segment.example.com",
            events=list(EVENTS),
            identify=True,
            trait_prefix="nps_",
            enabled=True,
            policy=LOOPBACK_ALLOWED,
            now=datetime.now(UTC),
        )
    before = _outbox(database)
    browser.post(f"/feedback/{said['prices']}/status", {"status": "CLOSED"})
    one = _outbox(database)
    _bulk(browser, [said["fast"], said["slow"]], "close")
    two = _outbox(database)
    told_for_one = one[0][len(before[0]) :], one[1] - before[1]
    told_for_two = two[0][len(one[0]) :], two[1] - one[1]
    assert told_for_one == ([FEEDBACK_STATUS_CHANGED], 0)
    assert told_for_two == (told_for_one[0] * 2, told_for_one[1] * 2)
    _bulk(browser, [said["fast"], said["slow"]], "close")  # already closed: nothing to tell
    assert _outbox(database) == two


def test_another_organizations_feedback_is_left_out(
    browser: Browser, said: dict[str, int], database: Database
) -> None:
    other = make_org(database, "Globex")
    answer(database, other, "globex-fast", 9, "Great service")
    with database.read() as conn:
        found = select(responses.c.id).where(responses.c.organization_id == other.id)
        theirs = conn.execute(found).scalar_one()
    mixed = _bulk(browser, [said["fast"], theirs], "close")
    assert mixed.status_code == 303
    assert _statuses(database, [said["fast"]]) == ["CLOSED"]
    assert _statuses(database, [theirs]) == ["OPEN"]
    assert _bulk(browser, [theirs], "tag", tag="mine").status_code == 404
    assert _tags(database, theirs) == []
    assert _bulk(browser, [10**12], "close").status_code == 404


#: Selections the form cannot send: (ids, action, tag).
BAD_SELECTIONS = [
    ([], "close", ""),
    (["abc"], "close", ""),
    (["-1"], "close", ""),
    ([str(10**30)], "close", ""),
    (["1"], "explode", ""),
    (["1"], "tag", "  "),
    (["1"], "tag", "x" * 101),
    ([str(i) for i in range(1, 103)], "close", ""),
]


def test_a_bad_selection_is_a_400(browser: Browser) -> None:
    for ids, action, tag in BAD_SELECTIONS:
        answer = browser.post("/feedback/bulk", {"id": ids, "action": action, "tag": tag})
        assert answer.status_code == 400, (ids[:2], action, tag)


def test_a_selection_from_elsewhere_is_refused(browser: Browser) -> None:
    forged = browser.client.post(
        "/feedback/bulk",
        data={"id": ["1"], "action": "close"},
        follow_redirects=False,
    )
    assert forged.status_code == 403


def test_a_read_only_user_reads_the_list_without_selection_or_actions(
    services: Services, browser: Browser, said: dict[str, int]
) -> None:
    add_user(services, browser.org, "reader@example.com", Role.READ_ONLY)
    with TestClient(browser.client.app) as reader:
        sign_in(reader, "reader@example.com")
        page = reader.get("/feedback", params=ALL)
    assert page.status_code == 200, page.text
    assert {int(found) for found in ITEM.findall(page.text)} >= set(said.values())
    assert 'name="id"' not in page.text
    assert 'value="close"' not in page.text
    # The member beside them has both.
    member = browser.client.get("/feedback", params=ALL).text
    assert 'name="id"' in member and 'value="close"' in member

"""Breakdown and feedback pages: the API's numbers, drill-down, tagging and closing the
loop, CSV export of the current filter, and another organization's feedback out of reach."""

from __future__ import annotations

import random
import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import response_tags, responses
from tests.analytics.dataset import build
from tests.analytics.writes import PLANTED, answer_by_plan
from tests.conftest import make_org
from tests.credentials import token
from tests.dashboard.conftest import Browser

ALL = {"range": "all"}
COUNT = re.compile(r'data-testid="feedback-count">([\d,]+) response')


@pytest.fixture
def data(database: Database, browser: Browser) -> None:
    build(database, browser.org.id, random.Random(5), contacts_count=16, responses_count=60)


def api(browser: Browser, path: str, **params: Any) -> Any:
    response = browser.client.get(
        path,
        params={"since": "1900-01-01", **params},
        headers=token(browser.org.key),
    )
    assert response.status_code == 200, response.text
    return response


def count(html: str) -> int:
    match = COUNT.search(html)
    assert match, "the page says how many responses match"
    return int(match.group(1).replace(",", ""))


def rows_of(html: str) -> list[tuple[str, str]]:
    table = html.split('data-testid="breakdown-table"', 1)[1].split("</table>", 1)[0]
    found = re.findall(r'<th scope="row">([^<]*)</th>\s*<td class="num">([^<]*)</td>', table)
    return [(unescape(value), nps) for value, nps in found]


def signed(value: float | None) -> str:
    if value is None:
        return "\u2013"
    text = f"{value:.0f}"
    return "0" if float(text) == 0 else (text if value < 0 else f"+{text}")


def test_breakdown_rows_are_the_apis(browser: Browser, data: None) -> None:
    page = browser.client.get("/breakdown", params={**ALL, "by": "plan", "sort": "nps"})
    assert page.status_code == 200
    body = api(browser, "/api/v2/nps/breakdown/", by="plan", sort="nps").json()
    assert rows_of(page.text) == [(r["value"], signed(r["nps"])) for r in body["rows"]]
    assert "<svg" in page.text


def test_breakdown_marks_rows_beyond_chance_in_words(browser: Browser, database: Database) -> None:
    answer_by_plan(database, browser.org, PLANTED)
    page = browser.client.get("/breakdown", params={**ALL, "by": "plan", "sort": "nps"})
    table = page.text.split('data-testid="breakdown-table"', 1)[1].split("</table>", 1)[0]
    marks = re.findall(
        r'<th scope="row">([^<]*)</th>.*?<td data-testid="differs">(.*?)</td>', table, re.S
    )
    assert [(value, re.sub(r"<[^>]+>", "", mark)) for value, mark in marks] == [
        ("Pro", "Higher than the rest"),
        ("Trial", "too few to test"),
        ("Team", "within chance"),
        ("Free", "Lower than the rest"),
    ]
    assert 'data-testid="differs-note"' in page.text


def test_breakdown_buckets_and_bad_buckets(browser: Browser, data: None) -> None:
    # Buckets are listed from low to high, whatever the values' sort (NPS by default).
    page = browser.client.get("/breakdown", params={**ALL, "by": "mrr", "buckets": "10, 100"})
    body = api(browser, "/api/v2/nps/breakdown/", by="mrr", buckets="10,100").json()
    assert [v for v, _ in rows_of(page.text)] == [r["value"] for r in body["rows"]]
    assert [v for v, _ in rows_of(page.text)][:3] == ["< 10", "10 to < 100", "\u2265 100"]
    assert body["buckets"] == [10, 100]
    # A numeric attribute with many values is bucketed; the page says by which edges.
    automatic = browser.client.get("/breakdown", params={**ALL, "by": "arr"})
    body = api(browser, "/api/v2/nps/breakdown/", by="arr").json()
    edges = ", ".join(str(int(e)) for e in body["buckets"])
    assert len(body["buckets"]) >= 3 and f"Edges chosen: {edges}." in automatic.text
    assert [v for v, _ in rows_of(automatic.text)] == [r["value"] for r in body["rows"]]
    assert rows_of(automatic.text)[0][0] == f"< {int(body['buckets'][0]):,}"
    every = browser.client.get("/breakdown", params={**ALL, "by": "arr", "buckets": "none"})
    assert len(rows_of(every.text)) == 12  # the top 10, (other), (missing)
    for typed, message in (
        ("ten", "&#39;ten&#39; is not a number"),
        ("5000, 1000", "edges must increase, but 1,000 comes after 5,000"),
    ):
        bad = browser.client.get("/breakdown", params={**ALL, "by": "mrr", "buckets": typed})
        assert bad.status_code == 200 and 'role="alert"' in bad.text
        assert message in bad.text


def test_breakdown_defaults_to_an_attribute(browser: Browser, data: None) -> None:
    page = browser.client.get("/breakdown", params=ALL)
    assert "NPS by plan" in page.text


def test_drill_down_reads_the_rows_feedback(browser: Browser, data: None) -> None:
    page = browser.client.get("/breakdown", params={**ALL, "by": "plan"})
    links = re.findall(r'href="(/feedback\?[^"]+)">feedback</a>', page.text)
    assert links
    body = api(browser, "/api/v2/nps/breakdown/", by="plan", sort="nps").json()
    first = body["rows"][0]
    feedback = browser.client.get(unescape(links[0]))
    assert count(feedback.text) == first["responses"]


def test_feedback_list_filters_like_the_api(browser: Browser, data: None) -> None:
    page = browser.client.get("/feedback", params=ALL)
    total = api(browser, "/api/v2/feedback/").json()["count"]
    assert count(page.text) == total and total == 60
    detractors = browser.client.get("/feedback", params={**ALL, "type": "detractor"})
    expected = api(browser, "/api/v2/feedback/", score_type="detractor").json()["count"]
    assert count(detractors.text) == expected
    closed = browser.client.get("/feedback", params={**ALL, "status": "CLOSED", "comment": "yes"})
    expected = api(browser, "/api/v2/feedback/", status="CLOSED", has_comment="true").json()
    assert count(closed.text) == expected["count"]
    second = browser.client.get("/feedback", params={**ALL, "page": "2"})
    assert "Page 2 of 3" in second.text


def _first_response(database: Database, org_id: int) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(responses.c.id).where(responses.c.organization_id == org_id).limit(1)
            ).scalar_one()
        )


def test_tag_untag_close_and_reopen(browser: Browser, data: None, database: Database) -> None:
    rid = _first_response(database, browser.org.id)
    back = f"/feedback?range=all#f{rid}"
    tagged = browser.post(
        f"/feedback/{rid}/tags", {"tags": "churn-risk, call back", "return": back}
    )
    assert tagged.status_code == 303  # type: ignore[attr-defined]
    assert tagged.headers["location"] == f"/feedback?range=all&done=tags-saved#f{rid}"  # type: ignore[attr-defined]
    with database.read() as conn:
        tags = set(
            conn.execute(
                select(response_tags.c.tag).where(response_tags.c.response_id == rid)
            ).scalars()
        )
    assert {"churn-risk", "call back"} <= tags
    page = browser.client.get("/feedback", params={**ALL, "tag": "churn-risk"})
    assert count(page.text) == 1 and "Tags saved." not in page.text
    browser.post(f"/feedback/{rid}/tags/remove", {"tag": "churn-risk", "return": back})
    page = browser.client.get("/feedback", params={**ALL, "tag": "churn-risk"})
    assert count(page.text) == 0
    browser.post(f"/feedback/{rid}/status", {"status": "CLOSED", "return": back})
    with database.read() as conn:
        status = conn.execute(select(responses.c.status).where(responses.c.id == rid)).scalar()
    assert status == "CLOSED"
    browser.post(f"/feedback/{rid}/status", {"status": "OPEN", "return": back})
    with database.read() as conn:
        status = conn.execute(select(responses.c.status).where(responses.c.id == rid)).scalar()
    assert status == "OPEN"
    empty = browser.post(f"/feedback/{rid}/tags", {"tags": " , "})
    assert empty.status_code == 400  # type: ignore[attr-defined]


def test_another_organizations_feedback_is_out_of_reach(
    browser: Browser, database: Database
) -> None:
    other = make_org(database, "Globex")
    build(database, other.id, random.Random(9), contacts_count=4, responses_count=5)
    rid = _first_response(database, other.id)
    with database.read() as conn:
        before = conn.execute(select(responses.c.status).where(responses.c.id == rid)).scalar()
    for url, data in (
        (f"/feedback/{rid}/status", {"status": "CLOSED" if before == "OPEN" else "OPEN"}),
        (f"/feedback/{rid}/tags", {"tags": "mine"}),
        (f"/feedback/{rid}/tags/remove", {"tag": "bug"}),
    ):
        assert browser.post(url, data).status_code == 404  # type: ignore[attr-defined]
    with database.read() as conn:
        row = conn.execute(select(responses.c.status).where(responses.c.id == rid)).one()
        mine = conn.execute(select(response_tags.c.tag).where(response_tags.c.tag == "mine")).all()
    assert row.status == before and not mine
    page = browser.client.get("/feedback", params=ALL)
    assert count(page.text) == 0
    forged = browser.client.post(
        f"/feedback/{rid}/status", data={"status": "CLOSED"}, follow_redirects=False
    )
    assert forged.status_code == 403
    huge = browser.post(f"/feedback/{10**30}/status", {"status": "CLOSED"})
    assert huge.status_code in (400, 404, 422)  # type: ignore[attr-defined]


def test_export_is_the_current_filter(browser: Browser, data: None) -> None:
    exported = browser.client.get("/feedback/export.csv", params={**ALL, "type": "promoter"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    expected = api(browser, "/api/v2/feedback/export.csv", score_type="promoter").text
    assert exported.text.splitlines() == expected.splitlines()
    bad = browser.client.get("/feedback/export.csv", params={"filter": "{nope"})
    assert bad.status_code == 400

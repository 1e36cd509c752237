"""The overview page and the filter builder: numbers agree with the API, the filter lives
in the URL, bad filters are explained, and a filter can be saved as a segment."""

from __future__ import annotations

import random
import re
from collections import Counter
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import response_attributes
from tests.analytics.dataset import build
from tests.credentials import token
from tests.dashboard.conftest import Browser

NPS = re.compile(r'data-testid="nps">([^<]+)<')


@pytest.fixture
def data(database: Database, browser: Browser) -> None:
    build(database, browser.org.id, random.Random(3), contacts_count=16, responses_count=60)


def api(browser: Browser, **params: Any) -> Any:
    response = browser.client.get("/api/v2/nps/", params=params, headers=token(browser.org.key))
    assert response.status_code == 200, response.text
    return response.json()


def shown_nps(html: str) -> str:
    match = NPS.search(html)
    assert match, "the page shows an NPS"
    return match.group(1)


def signed(value: float | None) -> str:
    if value is None:
        return "\u2013"
    text = f"{value:.0f}"
    return "0" if float(text) == 0 else (text if value < 0 else f"+{text}")


def test_overview_shows_the_apis_numbers(browser: Browser, data: None) -> None:
    page = browser.client.get("/", params={"range": "all"})
    assert page.status_code == 200
    expected = api(browser, since="1900-01-01")
    assert shown_nps(page.text) == signed(expected["nps"])
    assert f"{expected['responses']} responses" in page.text
    assert "<svg" in page.text and "NPS over time" in page.text


def test_builder_puts_the_filter_in_the_url(browser: Browser, data: None) -> None:
    client = browser.client
    moved = client.get(
        "/filter",
        params=[
            ("return", "/"),
            ("range", "all"),
            ("join", "and"),
            ("a_name", "plan"),
            ("a_op", "in"),
            ("a_value", "Premium,Pro"),
            ("a_name", ""),
            ("a_op", "eq"),
            ("a_value", ""),
            ("e_did", "yes"),
            ("e_name", "Order Completed"),
            ("e_min", "1"),
            ("e_days", ""),
        ],
        follow_redirects=False,
    )
    assert moved.status_code == 303
    target = urlsplit(moved.headers["location"])
    params = dict(parse_qsl(target.query))
    assert target.path == "/" and params["range"] == "all"
    flt = orjson.loads(params["filter"])
    assert flt == {
        "and": [
            {"attribute": "plan", "op": "in", "value": ["Premium", "Pro"], "ignore_case": True},
            {"event": "Order Completed"},
        ]
    }
    page = client.get(moved.headers["location"])
    expected = api(browser, since="1900-01-01", filter=params["filter"])
    assert shown_nps(page.text) == signed(expected["nps"])
    # The builder shows the rows again, with values suggested from the data.
    assert 'value="Premium,Pro"' in page.text
    assert '<option value="Premium">' in page.text


@pytest.mark.parametrize(
    ("page", "returned"),
    [
        ("/drivers", "/drivers"),
        ("/keywords", "/keywords"),
        ("/themes", "/themes"),
        ("/themes/7", "/themes/7"),
        ("/themes/7/../../settings", "/"),
        ("https://evil.example/", "/"),
    ],
)
def test_the_builder_returns_to_the_page_it_was_on(
    browser: Browser, page: str, returned: str
) -> None:
    moved = browser.client.get(
        "/filter",
        params=[("return", page), ("a_name", "plan"), ("a_op", "eq"), ("a_value", "Pro")],
        follow_redirects=False,
    )
    assert moved.status_code == 303
    target = urlsplit(moved.headers["location"])
    assert target.path == returned and not target.netloc
    assert orjson.loads(dict(parse_qsl(target.query))["filter"])["value"] == "Pro"


def test_choosing_an_attribute_first_keeps_a_pending_row(browser: Browser, data: None) -> None:
    moved = browser.client.get(
        "/filter",
        params=[("return", "/"), ("a_name", "country"), ("a_op", "eq"), ("a_value", "")],
        follow_redirects=False,
    )
    location = moved.headers["location"]
    assert "pending=country" in location and "filter=" not in location
    page = browser.client.get(location)
    assert '<option value="Österreich">' in page.text  # suggestions for the chosen attribute


def test_conditions_ignore_case_unless_match_case_is_ticked(browser: Browser, data: None) -> None:
    def applied(*fields: tuple[str, str]) -> tuple[str, Any]:
        fields = (("a_name", "plan"), ("a_op", "eq"), ("a_value", "PREMIUM"), *fields)
        moved = browser.client.get(
            "/filter", params=[("return", "/"), ("range", "all"), *fields], follow_redirects=False
        )
        location = moved.headers["location"]
        return location, orjson.loads(dict(parse_qsl(urlsplit(location).query))["filter"])

    both = {"attribute": "plan", "op": "in", "value": ["Premium", "premium"]}
    wanted = api(browser, since="1900-01-01", filter=orjson.dumps(both).decode())
    assert wanted["responses"] > 0
    loose, flt = applied()
    assert flt == {"attribute": "plan", "op": "eq", "value": "PREMIUM", "ignore_case": True}
    page = browser.client.get(loose)
    assert shown_nps(page.text) == signed(wanted["nps"])
    assert '<input type="checkbox" name="a_case" value="0"> Match case' in page.text
    assert "No responses for" not in page.text

    exact, flt = applied(("a_case", "0"))
    assert flt == {"attribute": "plan", "op": "eq", "value": "PREMIUM"}
    page = browser.client.get(exact)
    assert 'name="a_case" value="0" checked> Match case' in page.text
    hint = re.search(
        r"No responses for plan is “PREMIUM” — did you mean <a href=\"([^\"]+)\">Premium</a>\?",
        page.text,
    )
    assert hint, "the page says which value was meant"
    corrected = browser.client.get(unescape(hint.group(1)))
    meant = {"attribute": "plan", "op": "eq", "value": "Premium"}
    assert shown_nps(corrected.text) == signed(
        api(browser, since="1900-01-01", filter=orjson.dumps(meant).decode())["nps"]
    )
    assert "No responses for" not in corrected.text


def test_values_are_suggested_most_frequent_first(
    browser: Browser, data: None, database: Database
) -> None:
    c = response_attributes.c
    with database.read() as conn:
        stored = conn.execute(
            select(c.name, c.value_text).where(c.organization_id == browser.org.id)
        ).all()

    def expected(name: str, part: str) -> list[str]:
        counts = Counter(text for n, text in stored if n == name and part in text.lower())
        return sorted(counts, key=lambda text: (-counts[text], text))[:20]

    def suggested(**params: str) -> Any:
        response = browser.client.get("/filter/values", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()["values"]

    assert suggested(name="plan", q="PREM") == expected("plan", "prem") == ["Premium", "premium"]
    assert suggested(name="plan") == expected("plan", "")
    assert suggested(name="country", q="ös") == ["Österreich"]
    assert suggested(name="arr", q="") == expected("arr", "")
    assert suggested(name="labels") == []  # lists are not offered
    assert suggested(name="never_set") == []
    for params in ({}, {"name": "plan", "q": "x" * 201}, {"name": "pl\x00an"}):
        refused = browser.client.get("/filter/values", params=params)
        assert refused.status_code == 400 and refused.json()["detail"]


def test_a_bad_filter_is_explained_not_a_500(browser: Browser, data: None) -> None:
    for flt in ('{"attribute": "mrr", "op": "gt", "value": "lots"}', "{not json", "[]"):
        page = browser.client.get("/", params={"filter": flt})
        assert page.status_code == 200
        assert 'class="error" role="alert"' in page.text
        assert 'data-testid="nps"' not in page.text
    page = browser.client.get("/", params={"range": "nonsense", "campaign": "x"})
    assert page.status_code == 200 and "unknown range" in page.text


def test_save_the_filter_as_a_segment(browser: Browser, data: None) -> None:
    flt = '{"attribute": "plan", "op": "eq", "value": "Pro"}'
    saved = browser.post("/segments", {"name": "Pro plan", "filter": flt, "return": "/?range=all"})
    assert saved.status_code == 303  # type: ignore[attr-defined]
    page = browser.client.get(saved.headers["location"])  # type: ignore[attr-defined]
    assert "Segment saved." in page.text and ">Pro plan</option>" in page.text
    segments = browser.client.get("/api/v2/segments/", headers=token(browser.org.key)).json()
    assert [s["name"] for s in segments["results"]] == ["Pro plan"]
    by_segment = browser.client.get("/", params={"range": "all", "segment": "Pro plan"})
    assert shown_nps(by_segment.text) == signed(api(browser, since="1900-01-01", filter=flt)["nps"])
    again = browser.post("/segments", {"name": "Pro plan", "filter": flt, "return": "/"})
    assert again.status_code == 400  # type: ignore[attr-defined]
    forged = browser.client.post(
        "/segments", data={"name": "x", "filter": flt, "csrf": "nope"}, follow_redirects=False
    )
    assert forged.status_code == 403


def test_an_empty_organization_shows_an_empty_overview(browser: Browser) -> None:
    page = browser.client.get("/")
    assert page.status_code == 200
    assert shown_nps(page.text) == "\u2013"


def test_delete_a_segment(browser: Browser, data: None) -> None:
    flt = '{"attribute": "plan", "op": "eq", "value": "Pro"}'
    browser.post("/segments", {"name": "Pro plan", "filter": flt, "return": "/"})
    page = browser.client.get("/", params={"range": "all"})
    match = re.search(r'action="/segments/(\d+)/delete"', page.text)
    assert match, "saved segments are listed with a delete button"
    segment_id = match.group(1)
    forged = browser.client.post(
        f"/segments/{segment_id}/delete", data={"csrf": "x"}, follow_redirects=False
    )
    assert forged.status_code == 403
    done = browser.post(f"/segments/{segment_id}/delete", {"return": "/"})
    assert done.headers["location"] == "/?done=segment-deleted"  # type: ignore[attr-defined]
    assert browser.post(f"/segments/{segment_id}/delete", {}).status_code == 404  # type: ignore[attr-defined]
    assert "Pro plan" not in browser.client.get("/").text


def test_the_folded_filter_panel_counts_the_conditions_and_opens_on_an_error(
    browser: Browser, data: None
) -> None:
    """On a phone the filters fold into a closed panel: its summary tells a filter is on."""
    both = '{"and":[{"attribute":"plan","op":"eq","value":"Pro"},{"attribute":"country","op":"eq","value":"DE"}]}'  # noqa: E501
    one = '{"attribute":"plan","op":"eq","value":"Pro"}'
    panels = {
        ("/", both): '<details class="filter-panel"><summary>Filters · 2 conditions</summary>',
        (
            "/breakdown",
            one,
        ): '<details class="filter-panel"><summary>Filters · 1 condition</summary>',
        ("/feedback", ""): '<details class="filter-panel"><summary>Filters</summary>',
        ("/", "{not json"): '<details class="filter-panel" open><summary>Filters</summary>',
    }
    for (path, flt), panel in panels.items():
        page = browser.client.get(path, params={"filter": flt} if flt else {})
        assert page.status_code == 200 and panel in page.text, (path, flt)

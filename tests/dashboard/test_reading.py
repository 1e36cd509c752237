"""Reading the NPS on the dashboard: the window's inclusive caption, the change from the
period before, the active filter as chips, the question carried between pages, and
delivery counts on the NPS's basis."""

from __future__ import annotations

import random
import re
from html import unescape
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from promoter.analytics.change import MIN_RESPONSES, NpsChange, nps_change
from promoter.campaigns.service import list_campaigns
from promoter.domain.nps import NpsSummary
from promoter.storage.engine import Database
from promoter.storage.tables import contacts
from tests.analytics.dataset import NOW, answer_survey, build, send_survey
from tests.analytics.writes import identify
from tests.conftest import Org
from tests.credentials import token
from tests.dashboard.conftest import Browser

#: Within the dataset's responses (March to June 2026): 61 days, and the 61 before.
CUSTOM = {"range": "custom", "since": "2026-05-01", "until": "2026-06-30"}


@pytest.fixture
def data(database: Database, browser: Browser) -> None:
    build(database, browser.org.id, random.Random(3), contacts_count=16, responses_count=60)


def api_summary(browser: Browser, **params: Any) -> NpsSummary:
    response = browser.client.get("/api/v2/nps/", params=params, headers=token(browser.org.key))
    assert response.status_code == 200, response.text
    body = response.json()
    return NpsSummary.of(body["responses"], body["promoters"]["count"], body["detractors"]["count"])


def shown(html: str, name: str) -> str:
    """The text of the element marked ``data-testid=name``."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{name}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"the page shows {name}"
    return unescape(re.sub(r"<[^>]+>", "", match.group(2))).strip()


def signed(value: float) -> str:
    text = f"{value:.0f}"
    return "0" if float(text) == 0 else (text if value < 0 else f"+{text}")


def test_the_caption_names_the_last_day_included(browser: Browser, data: None) -> None:
    page = browser.client.get("/", params=CUSTOM)
    assert shown(page.text, "window") == (
        "Responses from 2026-05-01 to 2026-06-30, both days included (UTC)."
    )


@pytest.fixture
def more_data(database: Database, browser: Browser) -> None:
    build(database, browser.org.id, random.Random(3), contacts_count=40, responses_count=240)


def test_the_change_from_the_previous_period(browser: Browser, more_data: None) -> None:
    page = browser.client.get("/", params=CUSTOM)
    now = api_summary(browser, since="2026-05-01", until="2026-06-30")
    before = api_summary(browser, since="2026-03-01", until="2026-04-30")
    assert min(now.responses, before.responses) >= MIN_RESPONSES
    change = nps_change(now, before)
    assert isinstance(change, NpsChange)
    verdict = "beyond" if change.significant else "within"
    assert before.nps is not None
    assert shown(page.text, "nps-change") == (
        f"{signed(change.points)} vs previous 61 days (was {signed(before.nps)}), "
        f"{verdict} the margin of error (±{change.margin:.0f})"
    )


def test_too_few_answers_are_not_compared(browser: Browser, data: None) -> None:
    page = browser.client.get("/", params={**CUSTOM, "since": "2026-06-01"})
    now = api_summary(browser, since="2026-06-01", until="2026-06-30")
    before = api_summary(browser, since="2026-05-02", until="2026-05-31")
    assert 0 < now.responses < MIN_RESPONSES and before.responses > 0
    assert shown(page.text, "nps-change") == (
        "Not enough answers to compare with the previous 30 days: "
        f"{now.responses} now and {before.responses} before; at least 30 in each"
    )


def test_no_change_line_without_a_previous_period(browser: Browser, data: None) -> None:
    everything = browser.client.get("/", params={"range": "all"})
    assert 'data-testid="nps-change"' not in everything.text
    for since, until in (("1900-01-01", "8999-12-31"), ("0001-01-01", "9999-12-31")):
        page = browser.client.get("/", params={**CUSTOM, "since": since, "until": until})
        assert page.status_code == 200 and 'data-testid="nps-change"' not in page.text
    first = browser.client.get("/", params={**CUSTOM, "since": "2026-01-01"})
    assert shown(first.text, "nps-change") == (
        "No responses in the previous 181 days to compare with"
    )


TWO = '{"and":[{"attribute":"plan","op":"eq","value":"Enterprise"},{"attribute":"country","op":"in","value":["DE","US"]}]}'  # noqa: E501


def chip_links(html: str) -> dict[str, str]:
    """The active filter's remove links, by their accessible name."""
    return {
        unescape(name): unescape(href)
        for href, name in re.findall(r'<a href="([^"]+)" class="remove" aria-label="([^"]+)"', html)
    }


def test_the_active_filter_shows_as_chips_each_removable(browser: Browser, data: None) -> None:
    page = browser.client.get(
        "/breakdown", params={**CUSTOM, "filter": TWO, "pending": "seats", "by": "plan"}
    )
    chips = " ".join(shown(page.text, "active-filter").split())
    assert chips == "plan is Enterprise \u00d7 AND country is any of DE, US \u00d7"
    assert "(2 conditions)" in page.text  # the pending row is not a condition yet
    links = chip_links(page.text)
    assert set(links) == {"Remove plan is Enterprise", "Remove country is any of DE, US"}
    kept = browser.client.get(links["Remove plan is Enterprise"])
    # Only that condition goes: the window, the pending row and the breakdown stay.
    assert chip_links(kept.text).keys() == {"Remove country is any of DE, US"}
    assert "(1 condition)" in kept.text
    for part in ("range=custom", "since=2026-05-01", "pending=seats", "by=plan"):
        assert part in links["Remove plan is Enterprise"]
    last = browser.client.get(chip_links(kept.text)["Remove country is any of DE, US"])
    assert last.status_code == 200 and 'data-testid="active-filter"' not in last.text
    assert "filter=" not in chip_links(kept.text)["Remove country is any of DE, US"]


def test_a_nested_filter_is_one_chip(browser: Browser, data: None) -> None:
    nested = '{"not":{"attribute":"plan","op":"eq","value":"Pro"}}'
    page = browser.client.get("/feedback", params={"filter": nested, "status": "OPEN"})
    links = chip_links(page.text)
    assert list(links) == [f"Remove filter {nested}"]
    assert "filter=" not in links[f"Remove filter {nested}"]
    assert "status=OPEN" in links[f"Remove filter {nested}"]


def nav(html: str) -> dict[str, str]:
    menu = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert menu
    return {
        label: unescape(href)
        for href, label in re.findall(r'<a href="([^"]*)"[^>]*>([^<]+)</a>', menu.group(1))
    }


def test_the_menu_keeps_the_filter_and_the_window(browser: Browser, data: None) -> None:
    page = browser.client.get(
        "/feedback",
        params={**CUSTOM, "filter": TWO, "campaign": "1", "status": "OPEN", "page": "2"},
    )
    menu = nav(page.text)
    for label, path in (("Overview", "/"), ("Breakdown", "/breakdown"), ("Feedback", "/feedback")):
        href = menu[label]
        assert href.startswith(path + "?"), href
        query = dict(re.findall(r"([^?&=]+)=([^&]*)", href))
        assert set(query) == {"filter", "range", "since", "until", "campaign"}, href
    assert menu["Contacts"] == "/contacts"
    overview = browser.client.get(menu["Overview"])
    assert shown(overview.text, "window").startswith("Responses from 2026-05-01 to 2026-06-30")
    assert chip_links(overview.text).keys() == {
        "Remove plan is Enterprise",
        "Remove country is any of DE, US",
    }
    # Without a filter and on the default range, the menu's links are plain.
    plain = nav(browser.client.get("/").text)
    assert plain["Feedback"] == "/feedback" and plain["Breakdown"] == "/breakdown"


def contact(database: Database, org: Org, user_id: str, plan: str) -> int:
    identify(database, org, user_id, plan=plan)
    with database.read() as conn:
        return int(
            conn.execute(
                select(contacts.c.id).where(
                    contacts.c.organization_id == org.id, contacts.c.user_id == user_id
                )
            ).scalar_one()
        )


def test_delivery_counts_read_attributes_as_the_nps_does(
    browser: Browser, database: Database
) -> None:
    """Ann answered on Enterprise and is on Free now; Bob, on Enterprise, has not answered."""
    org = browser.org
    with database.read() as conn:
        campaign_id = list_campaigns(conn, organization_id=org.id)[0].id
    ann = contact(database, org, "ann", "Enterprise")
    with database.write() as conn:
        answer_survey(conn, org.id, ann, campaign_id, 10, NOW)
    contact(database, org, "ann", "Free")  # after answering
    bob = contact(database, org, "bob", "Enterprise")
    with database.write() as conn:
        send_survey(conn, org.id, bob, campaign_id, NOW)

    def counts(plan: str) -> tuple[str, str, str]:
        flt = orjson.dumps({"attribute": "plan", "op": "eq", "value": plan}).decode()
        page = browser.client.get("/", params={**CUSTOM, "filter": flt})
        responses = re.search(r"([\d,]+) responses?</span>", page.text)
        assert responses, "the NPS says how many responses it counts"
        return responses.group(1), shown(page.text, "sent"), shown(page.text, "responded")

    # Ann's response counts as Enterprise in the NPS, and so does her survey.
    assert counts("Enterprise") == ("1", "2", "1")
    assert counts("Free") == ("0", "0", "0")
    assert "as for the NPS" in browser.client.get("/", params=CUSTOM).text
    # The API's delivery counts agree, and read attributes as they are now when asked to.
    for attributes_at, plan, sent, responded in (
        ("response", "Enterprise", 2, 1),
        ("now", "Free", 1, 1),
        ("now", "Enterprise", 1, 0),
    ):
        body = browser.client.get(
            "/api/v2/nps/",
            params={
                "since": "2026-05-01",
                "until": "2026-06-30",
                "attributes[plan]": plan,
                "attributes_at": attributes_at,
            },
            headers=token(org.key),
        ).json()
        assert (body["responses"], body["delivery"]["sent"]) == (responded, sent), plan
        assert body["delivery"]["responded"] == responded

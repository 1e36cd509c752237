"""Reading the NPS on the dashboard: the window's inclusive caption, the change from the
period before, the active filter as chips, the question carried between pages, and
delivery counts on the NPS's basis."""

from __future__ import annotations

import random
import re
from html import unescape
from typing import Any

import pytest

from promoter.analytics.change import nps_change
from promoter.domain.nps import NpsSummary
from promoter.storage.engine import Database
from tests.analytics.dataset import build
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


def test_the_change_from_the_previous_period(browser: Browser, data: None) -> None:
    page = browser.client.get("/", params=CUSTOM)
    now = api_summary(browser, since="2026-05-01", until="2026-06-30")
    before = api_summary(browser, since="2026-03-01", until="2026-04-30")
    assert now.responses and before.responses
    change = nps_change(now, before)
    assert change is not None
    verdict = "beyond" if change.significant else "within"
    assert before.nps is not None
    assert shown(page.text, "nps-change") == (
        f"{signed(change.points)} vs previous 61 days ({signed(before.nps)}), "
        f"{verdict} the margin of error (±{change.margin:.0f})"
    )


def test_no_change_line_without_a_previous_period(browser: Browser, data: None) -> None:
    everything = browser.client.get("/", params={"range": "all"})
    assert 'data-testid="nps-change"' not in everything.text
    first = browser.client.get("/", params={**CUSTOM, "since": "2026-01-01"})
    assert shown(first.text, "nps-change") == (
        "No responses in the previous 181 days to compare with"
    )

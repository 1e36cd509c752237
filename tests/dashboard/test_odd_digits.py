"""Numbers in query strings and forms: only ASCII digits count.

``str.isdigit`` also accepts "²", "⑨" and other digits that ``int`` refuses (or reads as
another number); each field below once answered 500 to them.
"""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import Browser

ODD = ["\u00b2", "\u2468", "\u0663", "\uff19"]  # ², ⑨, Arabic-Indic 3, full-width 9
PAGES = [
    "/feedback?page={}",
    "/breakdown?top={}",
    "/outbox?page={}",
    "/?campaign={}",
    "/feedback?campaign={}",
    "/?attribute=plan&op=eq&value={}",
]


@pytest.mark.parametrize("page", PAGES)
def test_pages_read_odd_digits_as_no_number(browser: Browser, page: str) -> None:
    for odd in ODD:
        response = browser.client.get(page.format(odd))
        assert response.status_code in (200, 400), (page, odd, response.status_code)


def test_the_webhook_form_refuses_an_odd_campaign(browser: Browser) -> None:
    for odd in ODD:
        response = browser.post(
            "/settings/webhooks",
            {"url": "https://hooks.example.com/x", "events": "response.created", "campaign": odd},
        )
        assert response.status_code == 400, odd  # type: ignore[attr-defined]
        assert "Choose a campaign from the list." in response.text  # type: ignore[attr-defined]

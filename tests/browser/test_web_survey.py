"""The web survey end to end: a customer's page on its own origin loads /w/promoter.js and
Segment's analytics.js, from a real Promoter server set up through its REST API; what the
visitor sees and what the server records, with a valid signature, a forged one or none,
across channels, under a strict Content-Security-Policy. Nothing leaves this machine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from promoter.delivery.i18n import ENGLISH
from promoter.storage.engine import Database
from tests.analytics.dataset import send_survey
from tests.browser.axe import violations
from tests.browser.conftest import screenshot
from tests.browser.customer_site import CustomerPage, CustomerSite
from tests.browser.web_survey import (
    COUNT_VIOLATIONS,
    FORGED,
    REFUSED,
    Tab,
    identify,
    on_load,
    open_tab,
    score,
    settle,
    wait_until,
    widget,
)
from tests.browser.web_survey_server import (
    TRIGGER,
    WebSurvey,
    answers_of,
    contact_id_of,
    events_of,
    known_contact,
    responses_of,
    set_up,
    surveys_of,
)
from tests.conftest import Org
from tests.e2e.conftest import ServerProcess

pytestmark = pytest.mark.browser
SAVED = re.compile("Your score is saved")


@pytest.fixture
def web(site: ServerProcess, seeded: Org, customer: CustomerSite) -> WebSurvey:
    web = set_up(site, seeded, customer.url)
    for n in range(1, 7):
        known_contact(site, seeded, f"web-{n}")
    return web


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield open_tab(context)
    finally:
        context.close()


def app_page(
    site: ServerProcess,
    web: WebSurvey,
    customer: CustomerSite,
    name: str,
    script: str,
    **options: Any,
) -> str:
    page = CustomerPage(site.url, web.site_key, script=COUNT_VIOLATIONS + script, **options)
    return page.publish(customer, name)


def signed_in(web: WebSurvey, user: str, signature: str | None = None) -> str:
    """The customer's page script: the visitor identified (signed) and the trigger event."""
    sig = web.sign(user) if signature is None else signature
    traits = {"email": f"{user}@example.com", "plan": "pro"}
    return identify(user, sig, traits) + f"promoter('track', {TRIGGER!r});\n"


def test_answer_recorded_on_the_web_channel(
    tab: Tab,
    site: ServerProcess,
    web: WebSurvey,
    customer: CustomerSite,
    database: Database,
    backend: str,
) -> None:
    tab.page.goto(app_page(site, web, customer, "app", signed_in(web, "web-1")))
    expect(widget(tab.page)).to_be_visible()
    wait_until(tab.page, lambda: surveys_of(database, "web-1"))
    score(tab.page, 9).click()
    card = widget(tab.page)
    expect(card.get_by_role("status")).to_have_text(SAVED)
    card.get_by_label(ENGLISH["comment_prompt"]).fill("The reports")
    card.get_by_label("Support").check()
    assert violations(tab.page) == []
    screenshot(tab.page, backend, "web-survey-answering")
    card.get_by_role("button", name="Send").click()
    expect(card.get_by_text(ENGLISH["thanks"])).to_be_visible()
    (response,) = responses_of(database, "web-1")
    assert (response["score"], response["comment"]) == (9, "The reports")
    assert response["channel"] == "web"
    assert response["page_url"] == f"{customer.url}/app"
    assert answers_of(database, response["id"]) == {"why": ["Support"]}
    (survey,) = surveys_of(database, "web-1")
    assert survey["channel"] == "web"
    assert survey["campaign_id"] == web.campaign_id
    tab.check_clean()


def test_identity_from_segment_analytics_js(
    tab: Tab, site: ServerProcess, web: WebSurvey, customer: CustomerSite, database: Database
) -> None:
    script = on_load(
        "analytics.identify('web-2', {email: 'web-2@example.com'},"
        f" {{integrations: {{Promoter: {{signature: '{web.sign('web-2')}'}}}}}});\n"
        f"analytics.track({TRIGGER!r});\n"
    )
    tab.page.goto(app_page(site, web, customer, "seg", script, segment=True))
    expect(widget(tab.page)).to_be_visible()
    assert [s["channel"] for s in surveys_of(database, "web-2")] == ["web"]
    assert {c["type"] for c in customer.segment_calls()} >= {"identify", "track"}
    tab.check_clean()


@pytest.mark.parametrize("signature", ["", FORGED])
def test_no_valid_signature_shows_and_records_nothing(
    tab: Tab,
    site: ServerProcess,
    web: WebSurvey,
    customer: CustomerSite,
    database: Database,
    signature: str,
) -> None:
    tab.page.goto(app_page(site, web, customer, "app", signed_in(web, "web-3", signature)))
    settle(tab.page)
    expect(widget(tab.page)).to_have_count(0)
    assert surveys_of(database, "web-3") == []
    assert events_of(database, "web-3") == []
    tab.check_clean(allowed_errors=REFUSED)


def test_dismissed_is_recorded_and_not_shown_again(
    tab: Tab, site: ServerProcess, web: WebSurvey, customer: CustomerSite, database: Database
) -> None:
    url = app_page(site, web, customer, "app", signed_in(web, "web-4"))
    tab.page.goto(url)
    expect(widget(tab.page)).to_be_visible()
    tab.page.keyboard.press("Escape")
    expect(widget(tab.page)).to_have_count(0)
    wait_until(tab.page, lambda: surveys_of(database, "web-4")[0]["status"] == "dismissed")
    tab.page.goto(url)
    settle(tab.page)
    expect(widget(tab.page)).to_have_count(0)
    assert responses_of(database, "web-4") == []
    tab.check_clean()


def test_a_contact_surveyed_by_email_is_not_shown_the_web_survey(
    tab: Tab,
    site: ServerProcess,
    seeded: Org,
    web: WebSurvey,
    customer: CustomerSite,
    database: Database,
) -> None:
    user = "web-5"
    with database.write() as conn:
        contact_id = contact_id_of(conn, user)
        send_survey(conn, seeded.id, contact_id, web.email_campaign_id, datetime.now(UTC))
    tab.page.goto(app_page(site, web, customer, "app", signed_in(web, user)))
    settle(tab.page)
    expect(widget(tab.page)).to_have_count(0)
    assert [s["channel"] for s in surveys_of(database, user)] == ["email"]
    tab.check_clean()


def test_strict_csp_on_the_host_page(
    tab: Tab, site: ServerProcess, web: WebSurvey, customer: CustomerSite
) -> None:
    csp = (
        f"default-src 'self'; script-src 'self' {site.url}; style-src 'self'; "
        f"connect-src {site.url}; img-src 'self' {site.url}"
    )
    tab.page.goto(app_page(site, web, customer, "csp", signed_in(web, "web-6"), csp=csp))
    expect(widget(tab.page)).to_be_visible()
    score(tab.page, 7).click()
    expect(widget(tab.page).get_by_role("status")).to_have_text(SAVED)
    assert tab.page.evaluate("() => window.cspViolations") == []
    tab.check_clean()

"""The campaign forms help: a new campaign's email is filled in from the organization,
required fields say so, the event names the organization tracks are suggested (the most
frequent lately first, never another organization's), and the send window names the time
zone of contacts without one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from promoter.campaigns import service
from promoter.campaigns.event_names import suggested_event_names
from promoter.orgs.service import set_timezone
from promoter.storage.engine import Database
from tests.conftest import Org, make_org
from tests.dashboard.campaign_form import add_campaign, status_of, track
from tests.dashboard.conftest import Browser

REQUIRED = ("name", "delay_minutes", "throttle_days", "subject", "from_name", "brand_name")


def suggested(page: str) -> list[str]:
    datalist = re.search(r'<datalist id="event-names">(.*?)</datalist>', page, re.S)
    assert datalist, "the page suggests event names"
    return re.findall(r'<option value="([^"]*)">', datalist.group(1))


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<(?:input|textarea)[^>]*\bid="{name}"[^>]*>', page)
    assert found, name
    return found.group(0)


def test_a_new_campaigns_email_is_filled_in_from_the_organization(browser: Browser) -> None:
    page = browser.client.get("/campaigns/new").text
    assert 'value="How likely are you to recommend Acme?"' in input_tag(page, "subject")
    assert 'value="Acme"' in input_tag(page, "from_name")
    assert 'value="Acme"' in input_tag(page, "brand_name")
    assert 'value=""' in input_tag(page, "name")  # the campaign's own name is the user's


def test_required_fields_are_marked_in_words_and_for_assistive_technology(
    browser: Browser,
) -> None:
    page = browser.client.get("/campaigns/new").text
    for name in REQUIRED:
        tag = input_tag(page, name)
        assert " required" in tag and 'aria-required="true"' in tag, name
        assert re.search(
            rf'<label for="{name}">[^<]*</label> <span class="required-mark"[^>]*>required<', page
        ), name
    for optional in ("reply_to", "forward_email", "logo_url"):
        assert " required" not in input_tag(page, optional), optional
        assert f'id="{optional}-required"' not in page, optional


def test_tracked_event_names_are_suggested_most_frequent_first(
    browser: Browser, database: Database
) -> None:
    track(database, browser.org, "Signed Up", times=2)
    track(database, browser.org, "Order Completed", times=3)
    track(database, browser.org, "Cart Viewed", times=5, days_ago=45)  # long ago
    track(database, make_org(database, "Globex"), "Their Secret Event")
    page = browser.client.get("/campaigns/new").text
    assert suggested(page) == ["Order Completed", "Signed Up", "Cart Viewed"]
    assert "Their Secret Event" not in page
    campaign = add_campaign(database, browser.org.id)
    assert suggested(browser.client.get(f"/campaigns/{campaign.id}").text) == suggested(page)


def test_without_events_nothing_is_suggested(browser: Browser) -> None:
    page = browser.client.get("/campaigns/new").text
    assert "<datalist" not in page and 'id="trigger_event_add"' not in page


def test_suggestions_are_bounded(database: Database, org: Org) -> None:
    for n in range(40):
        track(database, org, f"Event {n:02d}", times=1 + n % 3)
    with database.read() as conn:
        names = suggested_event_names(conn, organization_id=org.id, now=datetime.now(UTC))
    assert len(names) == 30
    assert names[:3] == ["Event 02", "Event 05", "Event 08"]  # three times each, by name


def test_an_event_added_in_its_field_joins_the_triggers(
    browser: Browser, database: Database
) -> None:
    form = {
        "name": "Typed",
        "delay_minutes": "0",
        "throttle_days": "90",
        "subject": "Hi",
        "from_name": "Acme",
        "brand_name": "Acme",
        "trigger_events": "Signed Up",
        "trigger_event_add": " Order Completed ",
    }
    assert status_of(browser.post("/campaigns", form)) == 303
    with database.read() as conn:
        typed = next(
            c
            for c in service.list_campaigns(conn, organization_id=browser.org.id)
            if c.name == "Typed"
        )
    assert typed.trigger_events == ["Signed Up", "Order Completed"]
    # Kept when the form comes back with a mistake.
    again = browser.post("/campaigns", form | {"name": "", "trigger_event_add": "Paid"})
    assert status_of(again) == 400
    assert "Signed Up\nPaid</textarea>" in again.text  # type: ignore[attr-defined]


def test_the_send_window_names_the_zone_of_contacts_without_one(
    browser: Browser, database: Database
) -> None:
    with database.write() as conn:
        set_timezone(conn, organization_id=browser.org.id, timezone="Europe/Paris")
    page = browser.client.get("/campaigns/new").text
    assert re.search(r'data-testid="fallback-zone">[^<]*<strong>Europe/Paris</strong>', page)

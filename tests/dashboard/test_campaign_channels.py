"""The campaign form's channel: a labelled choice of email, in the app or both, saved
with the form's CSRF token, refused for a manual campaign, a pointer to the web survey's
settings until it can show anything; the list and the campaign page name the channel and
count what the app showed, got answered and had dismissed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from promoter.campaigns import service
from promoter.storage.engine import Database
from promoter.storage.tables import surveys
from promoter.websurveys.settings import save_settings
from tests.analytics.dataset import answer_survey, send_survey
from tests.dashboard.campaign_form import (
    add_campaign,
    add_contact,
    every_setting,
    load,
    status_of,
)
from tests.dashboard.conftest import Browser

HINT = 'data-testid="web-survey-hint"'
RADIO = re.compile(r'<input type="radio" id="channel-(\w+)" name="channel" value="\w+"([^>]*)>')


def radios(text: str) -> dict[str, str]:
    """Each channel's radio and its attributes (checked, disabled)."""
    return {value: attributes for value, attributes in RADIO.findall(text)}


def web_survey(database: Database, org_id: int, *, enabled: bool) -> None:
    with database.write() as conn:
        save_settings(
            conn,
            organization_id=org_id,
            allowed_origins=["https://app.example.com"],
            enabled=enabled,
            now=datetime.now(UTC),
        )


def test_the_form_offers_each_channel_and_points_to_the_web_survey(
    browser: Browser, database: Database
) -> None:
    page = browser.client.get("/campaigns/new").text
    assert "<legend>Channel</legend>" in page
    assert list(radios(page)) == ["email", "web", "both"]
    assert "checked" in radios(page)["email"] and "disabled" not in radios(page)["web"]
    for value, label in (("email", "Email"), ("web", "In the app (web survey)"), ("both", "Both")):
        assert f'<label for="channel-{value}">{label}</label>' in page
    assert "In the app first; emailed after 3 days if not shown there." in page
    assert HINT in page and "The web survey is not set up yet" in page
    assert 'href="/settings/web-survey"' in page
    web_survey(database, browser.org.id, enabled=False)
    assert "The web survey is not enabled" in browser.client.get("/campaigns/new").text
    web_survey(database, browser.org.id, enabled=True)
    assert HINT not in browser.client.get("/campaigns/new").text


def test_create_and_change_the_channel(browser: Browser, database: Database) -> None:
    org = browser.org.id
    form = every_setting(0) | {"contact_list_id": "", "channel": "web", "status": "active"}
    created = browser.post("/campaigns", form)
    assert status_of(created) == 303
    location = created.headers["location"]  # type: ignore[attr-defined]
    campaign_id = int(location.split("/")[2].split("?")[0])
    assert load(database, org, campaign_id)[0].channel == "web"
    page = browser.client.get(location).text
    assert "checked" in radios(page)["web"] and "checked" not in radios(page)["email"]
    assert 'data-testid="channel">In the app<' in page
    settings = {k: v for k, v in form.items() if k in service.CampaignSettings.model_fields}
    saved = browser.post(f"/campaigns/{campaign_id}", settings | {"channel": "both"})
    assert status_of(saved) == 303
    assert load(database, org, campaign_id)[0].channel == "both"
    listing = browser.client.get("/campaigns").text
    row = listing.split(f'data-campaign="{campaign_id}"')[1].split("</tr>")[0]
    assert '<td data-testid="channel">App, then email</td>' in row
    # Without the form's token nothing changes.
    refused = browser.client.post(
        f"/campaigns/{campaign_id}", data=settings | {"channel": "email"}, follow_redirects=False
    )
    assert refused.status_code == 403
    refused = browser.post(f"/campaigns/{campaign_id}", settings | {"channel": "sms"})
    assert status_of(refused) == 400 and 'id="channel-error"' in refused.text  # type: ignore[attr-defined]
    assert load(database, org, campaign_id)[0].channel == "both"


def test_a_manual_campaign_emails(browser: Browser, database: Database) -> None:
    org = browser.org.id
    form = every_setting(0) | {"contact_list_id": "", "kind": "manual", "channel": "web"}
    refused = browser.post("/campaigns", form)
    assert status_of(refused) == 400
    text = refused.text  # type: ignore[attr-defined]
    assert 'href="#channel">Channel</a>: A manual campaign sends by email' in text
    assert 'id="channel-error"' in text and "checked" in radios(text)["web"]
    created = browser.post("/campaigns", form | {"channel": "email"})
    assert status_of(created) == 303
    campaign_id = int(created.headers["location"].split("/")[2].split("?")[0])  # type: ignore[attr-defined]
    page = browser.client.get(f"/campaigns/{campaign_id}").text
    assert all("disabled" in attributes for attributes in radios(page).values())
    assert "A manual campaign sends by email: its channel is email." in page
    assert HINT not in page
    # Disabled radios send nothing: the campaign stays an email one.
    settings = {k: v for k, v in form.items() if k in service.CampaignSettings.model_fields}
    del settings["channel"]
    saved = browser.post(f"/campaigns/{campaign_id}", settings | {"name": "Manual again"})
    assert status_of(saved) == 303
    campaign = load(database, org, campaign_id)[0]
    assert (campaign.name, campaign.channel) == ("Manual again", "email")


def test_the_campaign_page_counts_what_the_app_showed(browser: Browser, database: Database) -> None:
    org = browser.org.id
    campaign = add_campaign(database, org)
    with database.write() as conn:
        service.update_campaign(
            conn, organization_id=org, campaign_id=campaign.id, changes={"channel": "web"}
        )
    at = datetime.now(UTC) - timedelta(days=1)
    people = [add_contact(database, org, f"p{n}") for n in range(3)]
    with database.write() as conn:
        answer_survey(conn, org, people[0], campaign.id, 10, at, channel="web")
        send_survey(conn, org, people[1], campaign.id, at, channel="web")
        closed = send_survey(conn, org, people[2], campaign.id, at, channel="web")
        conn.execute(
            update(surveys)
            .where(surveys.c.token == closed)
            .values(status="dismissed", shown_at=at, dismissed_at=at)
        )
    page = browser.client.get(f"/campaigns/{campaign.id}").text
    summary = page.split('data-testid="campaign-summary"')[1].split("</div>\n</div>")[0]
    assert 'data-testid="channel">In the app<' in summary
    assert "3 sent, 1 responses, NPS +100." in summary
    assert '<li data-channel="web">web: 3 shown, 1 responses, 33%, 1 dismissed</li>' in summary

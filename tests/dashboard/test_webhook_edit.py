"""Settings > Webhooks > a webhook: its form changes its events, URL, campaign and format;
a mistake comes back explained with what was typed, and changes nothing."""

from __future__ import annotations

import html
import re

import pytest

from promoter.config import Settings
from promoter.storage.engine import Database
from promoter.webhooks.events import (
    CONTACT_UNSUBSCRIBED,
    FEEDBACK_ADDED_OR_CHANGED,
    SURVEY_BOUNCED,
    SURVEY_SENT,
)
from tests.conftest import Org, make_org
from tests.dashboard.conftest import Browser
from tests.dashboard.webhooks import events_of, status, subscribe, subscriptions

CHECKED = re.compile(r'<input type="checkbox" id="event-([a-z._]+)" name="events" [^>]*checked>')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings; webhooks may not reach private addresses (the default)."""
    return settings.model_copy(update={"webhook_allow_private": False})


def test_the_page_shows_the_webhook_in_its_form(
    browser: Browser, database: Database, org: Org
) -> None:
    webhook_id = subscribe(database, org, "https://a.example/h", SURVEY_BOUNCED)
    page = browser.client.get(f"/settings/webhooks/{webhook_id}").text
    form = page[page.index('data-testid="edit-webhook"') :]
    assert CHECKED.findall(form) == [SURVEY_BOUNCED]
    assert (
        'value="https://a.example/h"' in form
        and f'action="/settings/webhooks/{webhook_id}"' in page
    )


def test_change_events_url_campaign_and_format(
    browser: Browser, database: Database, org: Org
) -> None:
    webhook_id = subscribe(database, org, "https://a.example/h")
    page = browser.client.get(f"/settings/webhooks/{webhook_id}").text
    campaign = re.search(r'<option value="(\d+)">Segment campaign', page).group(1)  # type: ignore[union-attr]
    saved = browser.post(
        f"/settings/webhooks/{webhook_id}",
        {
            "events": [CONTACT_UNSUBSCRIBED, FEEDBACK_ADDED_OR_CHANGED],
            "target_url": "https://hooks.slack.com/services/T/B/X",
            "campaign": campaign,
            "format": "slack",
        },
    )
    assert status(saved) == 303
    assert saved.headers["location"] == f"/settings/webhooks/{webhook_id}?done=saved"  # type: ignore[attr-defined]
    (row,) = subscriptions(database)
    assert events_of(database, webhook_id) == [CONTACT_UNSUBSCRIBED, FEEDBACK_ADDED_OR_CHANGED]
    assert row.target_url == "https://hooks.slack.com/services/T/B/X"
    assert row.campaign_id == int(campaign) and row.format == "slack"
    shown = browser.client.get(f"/settings/webhooks/{webhook_id}?done=saved").text
    assert "Webhook saved." in shown
    listed = browser.client.get("/settings/webhooks").text
    assert (
        f"<code>{FEEDBACK_ADDED_OR_CHANGED}</code><br><code>{CONTACT_UNSUBSCRIBED}</code>" in listed
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"events": []}, "events", "Choose at least one event."),
        ({"events": [SURVEY_SENT, "feedback.eaten"]}, "events", "is not a valid choice"),
        ({"target_url": "http://169.254.169.254/latest/"}, "target_url", "link-local address"),
        ({"target_url": "not a url"}, "target_url", "Enter"),
        ({"campaign": "999999"}, "campaign", "object does not exist"),
        ({"campaign": "x"}, "campaign", "Choose a campaign from the list."),
        ({"format": "xml"}, "format", "is not a valid choice"),
    ],
)
def test_mistakes_are_explained_and_change_nothing(
    browser: Browser,
    database: Database,
    org: Org,
    fields: dict[str, object],
    field: str,
    message: str,
) -> None:
    webhook_id = subscribe(database, org, "https://a.example/h")
    form = {
        "events": [SURVEY_BOUNCED],
        "target_url": "https://b.example/h",
        "campaign": "",
        **fields,
    }
    refused = browser.post(f"/settings/webhooks/{webhook_id}", form)
    assert status(refused) == 400
    text = refused.text  # type: ignore[attr-defined]
    error = re.search(rf'id="{field}-error">([^<]+)<', text)
    assert error and message in html.unescape(error.group(1))
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', text)
    if "target_url" in fields:  # what was typed comes back
        assert f'value="{html.escape(str(fields["target_url"]))}"' in text
    (row,) = subscriptions(database)
    assert events_of(database, webhook_id) == [SURVEY_SENT]
    assert row.target_url == "https://a.example/h" and row.format == "json"


def test_another_organizations_webhook_is_not_found(browser: Browser, database: Database) -> None:
    theirs = subscribe(database, make_org(database, "Globex"), "https://globex.example/h")
    refused = browser.post(
        f"/settings/webhooks/{theirs}",
        {"events": [SURVEY_BOUNCED], "target_url": "https://b.example/h", "campaign": ""},
    )
    assert status(refused) == 404
    assert events_of(database, theirs) == [SURVEY_SENT]


def test_the_form_needs_the_csrf_token(browser: Browser, database: Database, org: Org) -> None:
    webhook_id = subscribe(database, org, "https://a.example/h")
    refused = browser.client.post(
        f"/settings/webhooks/{webhook_id}",
        data={"events": SURVEY_BOUNCED, "target_url": "https://b.example/h"},
        follow_redirects=False,
    )
    assert status(refused) == 403 and events_of(database, webhook_id) == [SURVEY_SENT]


def test_rotate_the_secret(browser: Browser, database: Database, org: Org) -> None:
    webhook_id = subscribe(database, org, "https://a.example/h")
    (before,) = subscriptions(database)
    done = browser.post(f"/settings/webhooks/{webhook_id}/rotate-secret")
    assert status(done) == 303
    location = done.headers["location"]  # type: ignore[attr-defined]
    assert location == f"/settings/webhooks/{webhook_id}?done=rotated#secret"
    (after,) = subscriptions(database)
    assert after.secret != before.secret and after.previous_secret == before.secret
    page = browser.client.get(location).text
    assert "New signing secret made" in page and '<details class="secret" id="secret" open>' in page
    assert f'id="webhook-secret">{after.secret}<' in page and before.secret not in page
    assert 'data-testid="previous-secret"' in page
    theirs = subscribe(database, make_org(database, "Globex"), "https://globex.example/h")
    assert status(browser.post(f"/settings/webhooks/{theirs}/rotate-secret")) == 404
